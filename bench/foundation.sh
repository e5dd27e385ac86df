#!/usr/bin/env bash
# Foundation benchmark: cold start, idle memory, CLI latency and the access
# matrix at 10,000 users x 200 applications, on release builds. Prints a
# Markdown report on stdout (progress on stderr). Runnable from anywhere:
#
#   bench/foundation.sh > /tmp/foundation.md
#   GATEHOUSE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres bench/foundation.sh
#   bench/foundation.sh --no-build   # use the release binaries already in target/
#
# Everything runs on loopback in a temporary directory that is removed on exit,
# with every process it started; a PostgreSQL database made for the run is dropped.
set -euo pipefail

RUNS_START=5      # cold starts (fresh data directory each)
RUNS_CLI=20       # runs of each small CLI command
RUNS_ACCESS=5     # runs of each `gatehouse access` format
REQUESTS=1000     # health requests before the second memory reading
LATE_S=15         # seconds after ready of the last memory reading
BIG_USERS=10000 BIG_APPS=200 BIG_GROUPS=50

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"
build_release seed_directory
SEED=$TARGET/release/examples/seed_directory

# time_runs N DIR ARGS...: runs `gatehouse ARGS` N times (after 2 warm-ups),
# stdout to /dev/null; sets TIMES to the durations in ms.
time_runs() {
    local n=$1 dir=$2 t0; shift 2
    gh "$dir" "$@" >/dev/null; gh "$dir" "$@" >/dev/null
    TIMES=""
    for _ in $(seq "$n"); do
        t0=$(now_us)
        gh "$dir" "$@" >/dev/null
        TIMES+=" $(ms_since "$t0")"
    done
}

# hyperfine_runs N DIR ARGS...: the same through hyperfine (needs jq to read it).
hyperfine_runs() {
    local n=$1 dir=$2 json="$WORK/hyperfine.json" cmd; shift 2
    cmd=$(printf '%q ' env GATEHOUSE_DATA_DIR="$dir/data" GATEHOUSE_ENV_FILE="$dir/.env" \
        ${DB_URL:+GATEHOUSE_DATABASE_URL="$DB_URL"} "$BIN" "$@")
    hyperfine -N --warmup 2 --runs "$n" --export-json "$json" "$cmd" >&2
    TIMES=$(jq -r '.results[0].times[] * 1000' "$json" | tr '\n' ' ')
}

cli_row() {  # cli_row LABEL DIR ARGS...
    local label=$1 dir=$2; shift 2
    if command -v hyperfine >/dev/null && command -v jq >/dev/null; then
        hyperfine_runs "$RUNS_CLI" "$dir" "$@"; TOOL=hyperfine
    else
        time_runs "$RUNS_CLI" "$dir" "$@"; TOOL="shell loop"
    fi
    read -r med _ p90 <<<"$(stats "$TIMES")"
    ROWS+=("| $label (small DB, $RUNS_CLI runs, $TOOL) | median $med ms, p90 $p90 ms | - |")
}

# access_rows LABEL DIR: seeds DB_URL (or DIR's SQLite file) with the big
# directory, then times both formats of `gatehouse access`.
access_rows() {
    local label=$1 dir=$2 url t0 seed_ms seed_summary lines med min peak
    url=${DB_URL:-sqlite://$dir/data/gatehouse.db}
    mkdir -p "$dir/data"
    log "$label: seeding $BIG_USERS users, $BIG_APPS apps, $BIG_GROUPS groups"
    t0=$(now_us)
    "$SEED" "$url" --users "$BIG_USERS" --apps "$BIG_APPS" --groups "$BIG_GROUPS" 2>"$dir/seed.log" \
        || { tail -n 20 "$dir/seed.log" >&2; die "seeding failed"; }
    seed_ms=$(ms_since "$t0")
    seed_summary=$(grep '^seeded' "$dir/seed.log" | sed 's/^seeded //; s/ in [0-9.]* s \[/ [/')
    ROWS+=("| seeding $label through Directory services (info) | $(awk -v m="$seed_ms" 'BEGIN { printf "%.1f s", m / 1000 }'): $seed_summary | - |")

    lines=$(gh "$dir" access --format csv | wc -l)
    (( lines == BIG_USERS + 1 )) || die "access --format csv printed $lines lines, expected $(( BIG_USERS + 1 ))"
    local fmt
    for fmt in csv table; do
        log "$label: timing gatehouse access --format $fmt"
        TIMES=""
        for _ in $(seq "$RUNS_ACCESS"); do
            t0=$(now_us)
            gh "$dir" access --format "$fmt" >/dev/null
            TIMES+=" $(ms_since "$t0")"
        done
        read -r med min _ <<<"$(stats "$TIMES")"
        peak=""
        if [[ -x /usr/bin/time ]]; then
            peak=$( { /usr/bin/time -f '%M' env GATEHOUSE_DATA_DIR="$dir/data" GATEHOUSE_ENV_FILE="$dir/.env" \
                ${DB_URL:+GATEHOUSE_DATABASE_URL="$DB_URL"} "$BIN" access --format "$fmt" >/dev/null; } 2>&1 | tail -n 1)
            peak=", peak RSS $(awk -v k="$peak" 'BEGIN { printf "%.0f", k / 1024 }') MiB"
        fi
        ROWS+=("| \`gatehouse access --format $fmt > /dev/null\`, $label ($RUNS_ACCESS runs) | median $med ms (min $min)$peak | well under 1 s |")
    done
}

ROWS=()

log "cold starts: $RUNS_START x fresh data directory"
COLD="" WARM="" INNER="" MIGRATE="" BOOT=""
# Seconds since midnight of the first JSON log line whose message starts with $2.
log_at() {
    grep -m1 "\"message\":\"$2" "$1" | sed -E 's/.*"timestamp":"[^T]*T([0-9:.]*)Z?".*/\1/' \
        | awk -F: '{ printf "%.6f", $1 * 3600 + $2 * 60 + $3 }'
}
span_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
for i in $(seq "$RUNS_START"); do
    d="$WORK/start-$i"; mkdir -p "$d"
    start_server "$d"; COLD+=" $START_MS"
    INNER+=" $(grep -o '"startup_ms":[0-9]*' "$d/server.log" | tail -n 1 | cut -d: -f2 || true)"
    t_listen=$(log_at "$d/server.log" "gatehouse .* listening" || true)
    t_migrated=$(log_at "$d/server.log" "database migrated" || true)
    t_ready=$(log_at "$d/server.log" "ready" || true)
    if [[ -n $t_listen && -n $t_migrated && -n $t_ready ]]; then
        MIGRATE+=" $(span_ms "$t_listen" "$t_migrated")"
        BOOT+=" $(span_ms "$t_migrated" "$t_ready")"
    fi
    stop_server
    start_server "$d"; WARM+=" $START_MS"
    stop_server
    rm -rf "$d"
done
read -r med min _ <<<"$(stats "$COLD")"
ROWS+=("| cold start to ready, fresh SQLite data dir (spawn to first 200 on /-/health/ready/, $RUNS_START runs; includes migrations and argon2id hash of the bootstrap password) | median $med ms (min $min) | < 100 ms |")
read -r med min _ <<<"$(stats "$INNER")"
ROWS+=("| of which inside the server (its \`startup_ms\` log field: bind, migrate, bootstrap) (info) | median $med ms (min $min) | - |")
if [[ -n $MIGRATE ]]; then
    read -r med min _ <<<"$(stats "$MIGRATE")"
    ROWS+=("| of which connect + migrations (log: listening to database migrated) (info) | median $med ms (min $min) | - |")
    read -r med min _ <<<"$(stats "$BOOT")"
    ROWS+=("| of which bootstrap: argon2id hash (19 MiB, t=2) + admin writes (log: migrated to ready) (info) | median $med ms (min $min) | - |")
fi

log "cold starts with the cheapest argon2 parameters, to isolate the hash"
CHEAP=""
for i in $(seq "$RUNS_START"); do
    d="$WORK/cheap-$i"; mkdir -p "$d"
    printf 'GATEHOUSE_PASSWORD_HASH_MEMORY_KIB=8\nGATEHOUSE_PASSWORD_HASH_ITERATIONS=1\n' >"$d/.env"
    start_server "$d"; CHEAP+=" $START_MS"
    stop_server
    rm -rf "$d"
done
read -r med min _ <<<"$(stats "$CHEAP")"
ROWS+=("| cold start, same but argon2 at m=8 KiB, t=1 (info: cost of everything except the hash) | median $med ms (min $min) | - |")
read -r med min _ <<<"$(stats "$WARM")"
ROWS+=("| restart on an existing data dir (already migrated and bootstrapped) (info) | median $med ms (min $min) | - |")

log "idle memory"
d="$WORK/memory"; mkdir -p "$d"
start_server "$d"
READY_US=$(now_us)
sleep 2
IDLE=$(rss_mib "$SERVER_PID")
ROWS+=("| idle resident memory (VmRSS, 2 s after ready) | $IDLE MiB | < 20 MB |")
URL="http://127.0.0.1:$PORT/-/health/ready/"
t0=$(now_us)
if command -v oha >/dev/null; then
    oha -n "$REQUESTS" -c 16 --no-tui "$URL" >"$d/load.txt" 2>&1
    LOAD="oha, 16 connections"
    OK=$(grep -Eo '\[200\] [0-9]+' "$d/load.txt" | awk '{ print $2 }' || true)
else
    for _ in $(seq "$REQUESTS"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$URL"; done >"$d/curl.cfg"
    curl -s --parallel --parallel-max 16 -w '%{http_code}\n' -K "$d/curl.cfg" >"$d/load.txt"
    LOAD="curl, 16 in parallel"
    OK=$(grep -c '^200$' "$d/load.txt" || true)
fi
LOAD_MS=$(ms_since "$t0")
sleep 1
AFTER=$(rss_mib "$SERVER_PID")
ROWS+=("| resident memory after $REQUESTS requests to /-/health/ready/ ($LOAD; ${OK:-?} x 200 in $(printf '%.0f' "$LOAD_MS") ms) | $AFTER MiB | < 20 MB |")
# tokio ends an idle blocking-pool thread after 10 s; the bootstrap hash ran on one.
while (( $(now_us) < READY_US + LATE_S * 1000000 )); do sleep 0.2; done
LATE=$(rss_mib "$SERVER_PID")
ROWS+=("| resident memory ${LATE_S} s after ready (info: after tokio's idle blocking thread, which ran the bootstrap hash, has exited) | $LATE MiB | < 20 MB |")
stop_server
d="$WORK/memory"
start_server "$d"
sleep 2
ROWS+=("| idle resident memory after a restart on that data dir (no hash at start) (info) | $(rss_mib "$SERVER_PID") MiB | < 20 MB |")
stop_server

log "CLI latency on a small directory"
d="$WORK/small"; mkdir -p "$d/data"
"$SEED" "sqlite://$d/data/gatehouse.db" --users 100 --apps 20 --groups 10 2>"$d/seed.log" \
    || { tail -n 20 "$d/seed.log" >&2; die "seeding the small directory failed"; }
cli_row '`gatehouse user list`' "$d" user list
cli_row '`gatehouse group list`' "$d" group list

d="$WORK/big"; mkdir -p "$d"
access_rows "SQLite" "$d"
TIMES=""
for _ in $(seq "$RUNS_ACCESS"); do t0=$(now_us); gh "$d" user list >/dev/null; TIMES+=" $(ms_since "$t0")"; done
read -r med min _ <<<"$(stats "$TIMES")"
ROWS+=("| \`gatehouse user list\` with $BIG_USERS users, SQLite (info, $RUNS_ACCESS runs) | median $med ms (min $min) | - |")

if [[ -n $PG_URL ]]; then
    pg_create_db
    d="$WORK/pg"; mkdir -p "$d"
    access_rows "PostgreSQL" "$d"
    DB_URL=""
fi

report_header "Gatehouse foundation benchmark"
echo "- these are release-build figures; times are wall clock, measured from the shell"
echo
echo "| metric | result | target |"
echo "| --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
