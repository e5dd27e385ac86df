#!/usr/bin/env bash
# OIDC benchmark: requests per second and p99 latency of discovery, JWKS, the
# token endpoint with client_credentials (RS256, ES256, EdDSA) and with
# refresh_token (rotation: one write transaction per request), on a release
# build over loopback with wrk, and the server's peak resident memory under
# that load. Prints a Markdown report on stdout (progress on stderr):
#
#   bench/oidc.sh > /tmp/oidc.md
#   bench/oidc.sh --no-build   # use the release binaries already in target/
#   OIDC_BENCH_SECONDS=15 bench/oidc.sh
#
# Installs wrk (Debian package) if it is missing. SQLite in a temporary
# directory; everything it started is stopped and removed on exit.
set -euo pipefail

SECONDS_PER_RUN=${OIDC_BENCH_SECONDS:-8}
THREADS=${OIDC_BENCH_THREADS:-2}
CONNECTIONS=${OIDC_BENCH_CONNECTIONS:-64}
REFRESH_TOKENS=${OIDC_BENCH_REFRESH_TOKENS:-80000}
unset OIDC_BENCH_SECONDS OIDC_BENCH_THREADS OIDC_BENCH_CONNECTIONS OIDC_BENCH_REFRESH_TOKENS

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
command -v python3 >/dev/null || die "python3 is needed to read the CLI's JSON"
build_release oidc_refresh_tokens
SEED=$TARGET/release/examples/oidc_refresh_tokens

DIR=$WORK/oidc
mkdir -p "$DIR/data"
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
log "setting up: one user, one OIDC application per algorithm"
gh "$DIR" migrate >/dev/null
gh "$DIR" user create alice alice@example.com "Alice" >/dev/null
declare -A SECRET
for alg in RS256 ES256 EdDSA; do
    slug=bench-${alg,,}
    SECRET[$alg]=$(gh "$DIR" --json app create "$slug" --name "Bench $alg" --provider oidc \
        --redirect-uri https://app.example.test/cb --signing-alg "$alg" | json_field client_secret)
done
log "seeding $REFRESH_TOKENS refresh tokens for each of bench-eddsa and bench-rs256"
"$SEED" "sqlite://$DIR/data/gatehouse.db" --slug bench-eddsa --user alice --count "$REFRESH_TOKENS" >"$DIR/refresh-eddsa.txt"
"$SEED" "sqlite://$DIR/data/gatehouse.db" --slug bench-rs256 --user alice --count "$REFRESH_TOKENS" >"$DIR/refresh-rs256.txt"

start_server "$DIR"
BASE=http://127.0.0.1:$PORT
log "server ready on $BASE (pid $SERVER_PID)"
basic() { printf '%s' "$1:$2" | base64 -w0; }
# Warm up: every signing key exists and every cache is filled before timing.
for alg in RS256 ES256 EdDSA; do
    slug=bench-${alg,,}
    curl -sf "$BASE/application/o/$slug/.well-known/openid-configuration" >/dev/null
    curl -sf "$BASE/application/o/$slug/jwks/" >/dev/null
    curl -sf -u "$slug:${SECRET[$alg]}" -d grant_type=client_credentials "$BASE/application/o/token/" >/dev/null \
        || die "client_credentials warm-up failed for $alg"
done

cat >"$WORK/post.lua" <<'LUA'
-- wrk -s post.lua URL -- BASIC_AUTH BODY
function init(args)
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Basic " .. args[1]
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.body = args[2]
end
LUA
cat >"$WORK/refresh.lua" <<'LUA'
-- wrk -s refresh.lua URL -- BASIC_AUTH TOKEN_FILE: each request spends its own
-- refresh token (thread t takes lines t, t+T, t+2T, …); none is used twice.
local threads = {}
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end
function init(args)
    tokens, n, i = {}, 0, 0
    local line_no = 0
    for line in io.lines(args[2]) do
        if line_no % THREADS == tid then
            n = n + 1
            tokens[n] = line
        end
        line_no = line_no + 1
    end
    auth = "Basic " .. args[1]
end
function request()
    i = i + 1
    local t = tokens[i] or "exhausted"
    return wrk.format("POST", nil, {
        ["Authorization"] = auth,
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "grant_type=refresh_token&refresh_token=" .. t)
end
LUA
sed -i "s/THREADS == tid/$THREADS == tid/" "$WORK/refresh.lua"

PEAK_RSS=0
ROWS=()
# run LABEL TARGET URL [SCRIPT ARGS...]: one timed wrk run; appends a row.
run() {
    local label=$1 target=$2 url=$3 out rps p99 bad total; shift 3
    local script=()
    if (( $# )); then script=(-s "$1"); shift; fi
    log "wrk: $label"
    # One second of warm-up (threads, allocator, caches), then the timed run;
    # not for refresh tokens, which may be spent only once.
    if [[ ${script[1]:-} != *refresh.lua ]]; then
        wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "${script[@]}" "$url" -- "$@" >/dev/null 2>&1 || true
    fi
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "${script[@]}" "$url" -- "$@" 2>&1) \
        || { printf '%s\n' "$out" >&2; die "wrk failed"; }
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    total=$(awk '/requests in/ { print $1 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
    bad=${bad:-0}
    local rss hwm
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")
    rss=$(rss_mib "$SERVER_PID")
    PEAK_RSS=$hwm
    ROWS+=("| $label | $rps | $p99 | $total ($bad non-2xx) | $rss MiB | $target |")
}

for what in discovery jwks; do
    case $what in
        discovery) path=/application/o/bench-eddsa/.well-known/openid-configuration; target="> 60,000/s" ;;
        jwks) path=/application/o/bench-eddsa/jwks/; target="> 60,000/s" ;;
    esac
    run "GET $what" "$target" "$BASE$path"
done
for alg in EdDSA ES256 RS256; do
    slug=bench-${alg,,}
    target="> 5,000/s"; [[ $alg == RS256 ]] && target="> 1,600/s"
    run "POST token, client_credentials, $alg" "$target" "$BASE/application/o/token/" \
        "$WORK/post.lua" "$(basic "$slug" "${SECRET[$alg]}")" "grant_type=client_credentials"
done
for alg in EdDSA RS256; do
    slug=bench-${alg,,}
    run "POST token, refresh_token (rotation), $alg" "-" "$BASE/application/o/token/" \
        "$WORK/refresh.lua" "$(basic "$slug" "${SECRET[$alg]}")" "$DIR/refresh-${alg,,}.txt"
done

report_header "OIDC benchmark"
echo "- load: wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'), $THREADS threads, $CONNECTIONS connections, ${SECONDS_PER_RUN} s per row, on the same 2 cores as the server; SQLite; default settings (request log at info)"
echo "- refresh rows spend pre-seeded refresh tokens ($REFRESH_TOKENS per application), each once: every request is a rotation (one write transaction) plus an access and an ID token signature"
echo
echo "| request | requests/s | p99 latency | requests (errors) | RSS after | target |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo "| peak resident memory over all runs (VmHWM) | - | - | - | $PEAK_RSS MiB | < 40 MB |"
