#!/usr/bin/env bash
# REST API benchmark: requests per second and latency of authentik's
# `/api/v3/` on a directory of 10,000 users (loaded by
# crates/cli/examples/seed_directory.rs through the Directory services):
#
#   - a 100-user page with groups, `core/users/?page_size=100&include_groups=true`
#     (page 1 and a page deep in the listing, `page=50`: served from the page
#     cache once read, until the next change), and pages 1-100 in turn (more
#     distinct pages than the cache keeps: each one read from the database);
#   - one user, `core/users/{pk}/`;
#   - a group `add_user` (POST, a different user each time: a real write
#     with its audit event);
#
# each with a bearer token, next to `/-/health/live/` on the same server
# (the bare handler: what routing, the middleware and the socket cost), and
# the CLI reading the same users (`gatehouse --json user list`). Prints a
# Markdown report on stdout (progress on stderr). Runnable from anywhere:
#
#   bench/api.sh > /tmp/api.md
#   bench/api.sh --no-build   # use the release binaries already in target/
#
# Set GATEHOUSE_BENCH_PG_URL to a loopback PostgreSQL server to repeat the
# table on a database created for the run (SQLite first, then PostgreSQL).
#
# Needs curl; installs wrk (Debian package) if missing. Everything runs on
# loopback in a temporary directory that is removed on exit, with every
# process it started.
set -euo pipefail

RUNS=3            # measured runs per request (medians)
DURATION=6        # seconds per wrk run
WARMUP=2          # seconds of load before the first run of each request
THREADS=1         # wrk threads: one, so the 2-core machine keeps a core for the server
CONNECTIONS=32
USERS=10000
TOKEN=bench-api-token-0123456789abcdef

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
command -v curl >/dev/null || die "curl is needed"
build_release seed_directory
SEED=$TARGET/release/examples/seed_directory
AUTH="Authorization: Bearer $TOKEN"

# setup_backend NAME: seed USERS users into the backend's database (DB_URL, or
# a new SQLite file), start the server, and find the page, user and group the
# measurements use (COUNT, PAGE_BYTES, USER_PK, GROUP, MAX_PK, SEED_S).
setup_backend() {
    local name=$1 page t0
    d="$WORK/$name"; mkdir -p "$d/data"
    local url=${DB_URL:-sqlite://$d/data/gatehouse.db}
    log "$name: seeding $USERS users"
    t0=$(now_us)
    "$SEED" "$url" --users "$USERS" --apps 20 --groups 50 >"$d/seed.log" 2>&1 || { cat "$d/seed.log" >&2; die "seeding failed"; }
    SEED_S=$(awk -v ms="$(ms_since "$t0")" 'BEGIN { printf "%.1f", ms / 1000 }')
    # A bulk load leaves PostgreSQL's statistics behind until autovacuum comes
    # round; a plan made before then (kept by a prepared statement) sorts the
    # whole table for every page. Measure the database as it settles.
    [[ -n ${DB_URL:-} ]] && psql "$DB_URL" -qAt -c "VACUUM ANALYZE" >/dev/null
    start_server "$d" GATEHOUSE_BOOTSTRAP_TOKEN="$TOKEN"
    API="http://127.0.0.1:$PORT/api/v3"
    page=$(curl -s -H "$AUTH" "$API/core/users/?page_size=100&include_groups=true")
    COUNT=$(python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["results"]) == 100; print(d["pagination"]["count"])' <<<"$page") \
        || die "the users page is not what it should be: ${page:0:300}"
    PAGE_BYTES=$(wc -c <<<"$page")
    USER_PK=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][50]["pk"])' <<<"$page")
    GROUP=$(curl -s -H "$AUTH" "$API/core/groups/?name=group-049&include_users=false" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["pk"])') || die "no group-049"
    MAX_PK=$(curl -s -H "$AUTH" "$API/core/users/?ordering=-pk&page_size=1&include_groups=false" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["pk"])')
}

TICK=$(getconf CLK_TCK)
cpu_s() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TICK" '{ printf "%.2f", ($12 + $13) / t }'; }
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.2f", v }'; }

# measure NAME PATH [wrk args...]: RUNS runs after a warm-up; sets <NAME>_RPS,
# _P50, _P99 (ms, medians), _CPU (µs of server CPU per request), _ERR.
measure() {
    local name=$1 path=$2 out cpu0 cpu1 n rps="" p50="" p99="" cpu="" err=0; shift 2
    local args=(-t"$THREADS" -c"$CONNECTIONS" -H "$AUTH" "$@")
    wrk "${args[@]}" -d"${WARMUP}s" "http://127.0.0.1:$PORT$path" >/dev/null
    for run in $(seq "$RUNS"); do
        cpu0=$(cpu_s "$SERVER_PID")
        out=$(wrk "${args[@]}" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT$path")
        cpu1=$(cpu_s "$SERVER_PID")
        n=$(awk '/requests in/ { print $1 }' <<<"$out")
        rps+=" $(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")"
        p50+=" $(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)"
        p99+=" $(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)"
        cpu+=" $(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }')"
        err=$((err + $(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { n = 0; for (i = 3; i <= NF; i += 2) n += $i; print n }' <<<"$out" | awk '{ s += $1 } END { print s + 0 }')))
        log "  $name run $run: $(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")/s"
    done
    printf -v "${name}_RPS" '%s' "$rps"; printf -v "${name}_P50" '%s' "$p50"
    printf -v "${name}_P99" '%s' "$p99"; printf -v "${name}_CPU" '%s' "$cpu"; printf -v "${name}_ERR" '%s' "$err"
}
med() { read -r m _ <<<"$(stats "$1")"; printf '%s' "$m"; }
row() {
    local label=$1 name=$2 target=$3 rps p50 p99 cpu err
    rps="${name}_RPS" p50="${name}_P50" p99="${name}_P99" cpu="${name}_CPU" err="${name}_ERR"
    echo "| $label | $(printf '%.0f' "$(med "${!rps}")")/s (runs:${!rps}) | $(med "${!p50}") ms | $(med "${!p99}") ms (runs:${!p99}) | $(med "${!cpu}") µs | ${!err} | $target |"
}

# run_backend NAME: set up, measure every request, print the backend's table.
run_backend() {
    local name=$1 rss members cli_ms="" cli_med cli_min t0
    setup_backend "$name"
    # add_user: a different user each request (pk 2.., cycling), as JSON.
    cat >"$WORK/add_user.lua" <<EOF
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, '{"pk": ' .. (2 + n % ($MAX_PK - 1)) .. '}')
end
EOF
    # Every page in turn: the cache (64 pages) cannot hold them, each is read.
    cat >"$WORK/pages.lua" <<EOF
local n = 0
request = function()
    n = n + 1
    return wrk.format(nil, "/api/v3/core/users/?page_size=100&include_groups=true&page=" .. (1 + n % 100))
end
EOF
    log "$name: health (baseline)";   measure HEALTH "/-/health/live/"
    log "$name: users page 1";        measure PAGE "/api/v3/core/users/?page_size=100&include_groups=true"
    log "$name: users page 50";       measure DEEP "/api/v3/core/users/?page_size=100&include_groups=true&page=50"
    log "$name: users pages 1-100";  measure COLD "/api/v3/core/users/" -s "$WORK/pages.lua"
    log "$name: user retrieve";       measure ONE "/api/v3/core/users/$USER_PK/"
    log "$name: group add_user";      measure ADD "/api/v3/core/groups/$GROUP/add_user/" -s "$WORK/add_user.lua"
    rss=$(rss_mib "$SERVER_PID")
    members=$(curl -s -H "$AUTH" "$API/core/groups/$GROUP/?include_users=false" \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["users"]))')
    # The CLI reading the same directory (a process, a connection, every user).
    for _ in $(seq 5); do
        t0=$(now_us); gh "$d" --json user list >/dev/null; cli_ms+=" $(ms_since "$t0")"
    done
    read -r cli_med cli_min _ <<<"$(stats "$cli_ms")"
    stop_server
    echo
    echo "## $name"
    echo
    echo "- directory: $COUNT users (seeded in $SEED_S s through the Directory services; each in 1-3 of 50 nested groups), $name, \`gatehouse server\` with its defaults (log at info, metrics on)"
    echo "- a users page is $PAGE_BYTES bytes of JSON (100 users with their groups, authentik's shape)"
    echo
    echo "| request | requests/s | p50 | p99 | server CPU per request | errors | target |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    row "\`GET /-/health/live/\` (baseline: the bare handler on the same server)" HEALTH "-"
    row "\`GET core/users/?page_size=100&include_groups=true\` (page 1)" PAGE "≥ 1,000/s, p99 < 10 ms"
    row "same, \`page=50\` (offset 4,900)" DEEP "-"
    row "pages 1-100 in turn (each read from the database: more pages than the cache holds)" COLD "-"
    row "\`GET core/users/{pk}/\`" ONE "-"
    row "\`POST core/groups/{uuid}/add_user/\` (a write with its audit event)" ADD "-"
    echo
    echo "- \`gatehouse --json user list\` over the same $COUNT users (the CLI and the database the API wraps; process start, connect, read all, print): median $cli_med ms (min $cli_min) over 5 runs"
    echo "- after the runs: group-049 has $members direct members; server resident memory $rss MiB"
}

report_header "Gatehouse REST API benchmark"
echo "- load: wrk $THREADS thread, $CONNECTIONS connections, $RUNS runs of $DURATION s after $WARMUP s of warm-up per request, on the same 2 cores as the server; \`Authorization: Bearer\` with the bootstrap token on every request"
run_backend sqlite
if [[ -n $PG_URL ]]; then
    pg_create_db
    run_backend postgresql
fi
