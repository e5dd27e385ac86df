# Shared helpers of the bench/*.sh scripts; sourced, not run. The script sets
# `set -euo pipefail` first. Provides: ROOT, PG_URL (GATEHOUSE_BENCH_PG_URL),
# WORK (temporary directory), clean-up on exit of the server, background
# processes (BG_PIDS) and PostgreSQL database made here, and the helpers below.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The binary refuses unknown GATEHOUSE_* names, so take ours out of the
# environment, and drop any others so that each run starts from defaults.
PG_URL=${GATEHOUSE_BENCH_PG_URL:-}
while read -r name; do unset "$name"; done < <(compgen -e | grep '^GATEHOUSE_' || true)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# The script's leading comment block, for --help.
usage() { sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

# parse_args "$@": --no-build (sets BUILD=0) and --help; nothing else.
BUILD=1
parse_args() {
    local arg
    for arg in "$@"; do
        case $arg in
            --no-build) BUILD=0 ;;
            -h|--help) usage; exit 0 ;;
            *) printf 'unknown argument: %s (try --help)\n' "$arg" >&2; exit 2 ;;
        esac
    done
}

# Microseconds since the epoch, without forking (bash 5), else via date.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { local t=${EPOCHREALTIME//[.,]/}; printf '%s' "$t"; }
else
    now_us() { printf '%s' $(( $(date +%s%N) / 1000 )); }
fi
ms_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# stats "v1 v2 ...": "median min p90" (nearest-rank p90, median averages the middle pair).
stats() {
    tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            n = NR; med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            p = int(0.9 * n); if (p < 0.9 * n) p++; if (p < 1) p = 1
            printf "%.1f %.1f %.1f", med, v[1], v[p]
        }'
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
SERVER_PID="" PORT="" PG_DB="" DB_URL=""
BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [[ -n $SERVER_PID ]] && stop_server
    if [[ -n $PG_DB ]]; then
        psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 \
            || log "could not drop PostgreSQL database $PG_DB"
    fi
    rm -rf "$WORK"
}
# stop_bg PID: ends a background process started here and forgets it.
stop_bg() {
    local pid keep=()
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for pid in "${BG_PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    BG_PIDS=("${keep[@]}")
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build_release EXAMPLE...: builds the gatehouse binary and these examples in
# release (unless --no-build), then sets TARGET (cargo's target directory), BIN
# and LOAD_START (the load average after the build, for the report).
build_release() {
    local args=() ex
    for ex in "$@"; do args+=(--example "$ex"); done
    if (( BUILD )); then
        log "building release binaries (cargo may wait for the build directory lock)"
        (cd "$ROOT" && cargo build --release -p gatehouse --bin gatehouse "${args[@]}" >&2)
    fi
    TARGET=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    BIN=$TARGET/release/gatehouse
    [[ -x $BIN ]] || die "release binary not found: $BIN"
    for ex in "$@"; do
        [[ -x $TARGET/release/examples/$ex ]] || die "release example not found: $TARGET/release/examples/$ex"
    done
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 100); do
        p=$(( 20000 + RANDOM % 40000 ))
        port_in_use "$p" || { printf '%s' "$p"; return 0; }
    done
    die "no free loopback port found"
}

# Runs the gatehouse binary with settings for data directory $1 (and optional
# database URL in DB_URL); the remaining arguments are the command.
gh() {
    local dir=$1; shift
    env GATEHOUSE_DATA_DIR="$dir/data" GATEHOUSE_ENV_FILE="$dir/.env" \
        ${DB_URL:+GATEHOUSE_DATABASE_URL="$DB_URL"} "$BIN" "$@"
}

# start_server DIR [NAME=VALUE...]: spawns `gatehouse server` (database DB_URL
# if set, else SQLite in DIR; extra settings override the defaults here), waits
# for /-/health/ready/ to say 200 and sets PORT, SERVER_PID and START_MS
# (spawn to first 200, ms).
start_server() {
    local dir=$1 t0 code deadline; shift
    PORT=$(free_port)
    local mport; mport=$(free_port)
    t0=$(now_us)
    # `env` execs the server, so $! is the server's own PID; of two settings of
    # one name, env keeps the later.
    env GATEHOUSE_DATA_DIR="$dir/data" GATEHOUSE_ENV_FILE="$dir/.env" \
        ${DB_URL:+GATEHOUSE_DATABASE_URL="$DB_URL"} \
        GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_METRICS_LISTEN="127.0.0.1:$mport" \
        GATEHOUSE_LDAP_LISTEN=off GATEHOUSE_LDAPS_LISTEN=off \
        GATEHOUSE_EXTERNAL_URL="http://127.0.0.1:$PORT" GATEHOUSE_LOG_FORMAT=json \
        "$@" "$BIN" server >>"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    deadline=$(( t0 + 15000000 ))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
            "http://127.0.0.1:$PORT/-/health/ready/" || true)
        [[ $code == 200 ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$dir/server.log" >&2; die "server exited before it was ready"
        fi
        (( $(now_us) < deadline )) || { tail -n 20 "$dir/server.log" >&2; die "server not ready after 15 s"; }
    done
    START_MS=$(ms_since "$t0")
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# pg_create_db: a fresh database on the loopback server at PG_URL, dropped on
# exit; sets PG_DB and DB_URL (its URL, with PG_URL's query string).
pg_create_db() {
    local host base query=""
    host=$(sed -E 's#^[a-z]+://([^@/]*@)?(\[[^]]*\]|[^:/?]*).*#\2#' <<<"$PG_URL")
    case $host in
        127.0.0.1|localhost|'[::1]') ;;
        *) die "GATEHOUSE_BENCH_PG_URL must point at a loopback address, not '$host'" ;;
    esac
    PG_DB="gatehouse_bench_$(date +%s)_$$_$RANDOM"
    log "PostgreSQL: creating database $PG_DB"
    psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    base=${PG_URL%%\?*}
    [[ $PG_URL == *\?* ]] && query="?${PG_URL#*\?}"
    DB_URL="${base%/*}/$PG_DB$query"
}

# report_header TITLE: the Markdown title and the machine/build lines.
report_header() {
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && commit+=" (with uncommitted changes)"
    echo "# $1"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes times noisy)"
    echo "- build: release profile (\`cargo build --release\`), $(rustc --version 2>/dev/null || echo 'rustc ?'), commit $commit"
}
