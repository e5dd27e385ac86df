#!/usr/bin/env bash
# SAML benchmark: signed SAML responses per second over the full HTTP round
# trip (IdP-initiated SSO by a signed-in person: GET /sso/binding/init/ parks
# the request, GET /sso/continue/ takes it, checks access, writes the
# authorize_application event and returns the signed response in its POST
# form), with wrk on a release build over loopback, per signing algorithm;
# and the cost of one signature (build + exclusive c14n + digest + sign) on
# one core. Prints a Markdown report on stdout (progress on stderr):
#
#   bench/saml.sh > /tmp/saml.md
#   bench/saml.sh --no-build   # use the release binaries already in target/
#   SAML_BENCH_SECONDS=15 bench/saml.sh
#
# Installs wrk (Debian package) if it is missing. SQLite in a temporary
# directory; everything it started is stopped and removed on exit.
set -euo pipefail

SECONDS_PER_RUN=${SAML_BENCH_SECONDS:-8}
THREADS=${SAML_BENCH_THREADS:-2}
CONNECTIONS=${SAML_BENCH_CONNECTIONS:-16}
unset SAML_BENCH_SECONDS SAML_BENCH_THREADS SAML_BENCH_CONNECTIONS

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
if (( BUILD )); then
    log "building the saml_sign_cost example (release)"
    (cd "$ROOT" && cargo build --release -p gatehouse-saml --example saml_sign_cost >&2)
fi
build_release
COST=$TARGET/release/examples/saml_sign_cost
[[ -x $COST ]] || die "release example not found: $COST"

DIR=$WORK/saml
mkdir -p "$DIR/data"
PASSWORD="bench password $RANDOM$RANDOM"
log "setting up: one (non-admin) user, one SAML application per algorithm"
gh "$DIR" migrate >/dev/null
gh "$DIR" user create alice alice@example.com "Alice" >/dev/null
printf '%s\n' "$PASSWORD" | gh "$DIR" user password alice --stdin >/dev/null
for alg in rsa-sha256 rsa-sha512 ecdsa-sha256; do
    gh "$DIR" app create "bench-$alg" --name "Bench $alg" --provider saml --acs-url "https://sp.example.test/acs" \
        --audience "https://sp.example.test/$alg" --signing-alg "$alg" >/dev/null
done

start_server "$DIR"
BASE=http://127.0.0.1:$PORT
log "server ready on $BASE (pid $SERVER_PID)"
# Sign in through the real pages; keep the session cookie.
JAR=$DIR/cookies
csrf() { sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
tok=$(curl -sf -c "$JAR" -b "$JAR" "$BASE/login" | csrf)
tok=$(curl -sfL -c "$JAR" -b "$JAR" --data-urlencode "identifier=alice" --data-urlencode "csrf_token=$tok" "$BASE/login" | csrf)
curl -sf -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf_token=$tok" \
    "$BASE/login/password"
SESSION=$(awk '$6 == "gatehouse_session" { print $7 }' "$JAR")
[[ -n $SESSION ]] || die "sign-in failed"
for alg in rsa-sha256 rsa-sha512 ecdsa-sha256; do
    loc=$(curl -sf -o /dev/null -w '%{redirect_url}' -b "gatehouse_session=$SESSION" "$BASE/application/saml/bench-$alg/sso/binding/init/")
    curl -sf -b "gatehouse_session=$SESSION" "$loc" | grep -q 'name="SAMLResponse"' || die "warm-up failed for $alg"
done

cat >"$WORK/sso.lua" <<'LUA'
-- wrk -s sso.lua BASE/application/saml/SLUG/sso/binding/init/ -- SESSION
-- Each connection alternates: init (303 to a continue URL), then the continue
-- URL (200 with the signed response). Counts the signed responses.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    wrk.headers["Cookie"] = "gatehouse_session=" .. args[1]
    pending, signed, failed = {}, 0, 0
end
function request()
    local loc = table.remove(pending)
    if loc then return wrk.format("GET", loc) end
    return wrk.format("GET", wrk.path)
end
function response(status, headers, body)
    if status == 303 or status == 302 then
        local loc = headers["Location"] or headers["location"]
        table.insert(pending, (loc:gsub("^https?://[^/]+", "")))
    elseif status == 200 and body:find('name="SAMLResponse"', 1, true) then
        signed = signed + 1
    else
        failed = failed + 1
    end
end
function done(summary, latency, requests)
    local s, f = 0, 0
    for _, t in ipairs(threads) do s = s + t:get("signed"); f = f + t:get("failed") end
    io.write(string.format("SIGNED %d FAILED %d\n", s, f))
end
LUA

ROWS=()
for alg in rsa-sha256 rsa-sha512 ecdsa-sha256; do
    url="$BASE/application/saml/bench-$alg/sso/binding/init/"
    log "wrk: $alg"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -s "$WORK/sso.lua" "$url" -- "$SESSION" >/dev/null 2>&1 || true
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/sso.lua" "$url" -- "$SESSION" 2>&1) \
        || { printf '%s\n' "$out" >&2; die "wrk failed"; }
    signed=$(awk '/^SIGNED/ { print $2 }' <<<"$out")
    failed=$(awk '/^SIGNED/ { print $4 }' <<<"$out")
    per_s=$(awk -v n="$signed" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", n / s }')
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    ROWS+=("| $alg, assertion signed | $per_s | $p99 | $signed ($failed failed) | $(rss_mib "$SERVER_PID") MiB |")
done

log "signature cost"
COST_ROWS=()
while read -r alg mode us; do
    COST_ROWS+=("| $alg | $mode | $us µs | $(awk -v u="$us" 'BEGIN { printf "%.0f", 1e6 / u }') |")
done < <(nice -n 0 "$COST" 300)

report_header "SAML benchmark"
echo "- load: wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'), $THREADS threads, $CONNECTIONS connections, ${SECONDS_PER_RUN} s per row, on the same cores as the server; SQLite; default settings"
echo "- one signed response = two HTTP requests (init → 303, continue → 200 with the form) and three write transactions (park, take, authorize_application event)"
echo
echo "| application | signed responses/s (full round trip) | p99 latency per request | responses (failures) | RSS after |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
echo "One signature, in process on one core (build the Response, exclusive c14n, SHA-256 digest, sign SignedInfo):"
echo
echo "| algorithm | signed | per response | responses/s per core |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${COST_ROWS[@]}"
