#!/usr/bin/env bash
# Sign-in benchmark: the raw argon2id rate of the server's password hasher, the
# rate of full HTTP sign-ins against `gatehouse server` (4 requests each, fresh
# cookies each time), their ratio, and the server's resident memory around a
# burst of 200 concurrent sign-ins, on release builds. Prints a Markdown report
# on stdout (progress on stderr). Runnable from anywhere:
#
#   bench/signin.sh > /tmp/signin.md
#   GATEHOUSE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres bench/signin.sh
#   bench/signin.sh --no-build   # use the release binaries already in target/
#
# Everything runs on loopback in a temporary directory that is removed on exit,
# with every process it started; a PostgreSQL database made for the run is dropped.
# Only correct passwords are sent, so the sign-in throttle never engages.
set -euo pipefail

USERS=50               # bench1..benchN, signed in round robin
PASSWORD=bench-signin-password-1
ROUNDS=5 ROUND_S=4     # alternating hash / HTTP rounds (medians), against drift in machine load
HASH_C=64              # verifications in flight in the raw rate
HTTP_C=8               # concurrency of the throughput rounds
BURST_C=200 BURST_S=10
AFTER_S=3 LATE_S=12    # memory readings after the burst (tokio ends idle blocking threads after 10 s)
WARMUP_S=1             # load before each window opens (not counted)

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"
build_release signin_load
LOAD=$TARGET/release/examples/signin_load
CORES=$(nproc)
TICK=$(getconf CLK_TCK)
ARGON_MIB=19   # HashParams::default(): 19456 KiB

# kv KEY LINE: the value of KEY=... in signin_load's result line.
kv() { grep -o "\\b$1=[^ ]*" <<<"$2" | head -n 1 | cut -d= -f2; }
# calcf FORMAT EXPR VAR=VALUE...: awk arithmetic on the named values; calc: one decimal.
calcf() { local f=$1 e=$2 args=() a; shift 2; for a in "$@"; do args+=(-v "$a"); done
    awk "${args[@]}" "BEGIN { printf \"$f\", $e }" </dev/null; }
calc() { calcf %.1f "$@"; }
# CPU seconds used so far by process $1 (utime + stime), and by the whole machine.
cpu_s() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TICK" '{ printf "%.2f", ($12 + $13) / t }'; }
machine_cpu_s() { awk -v t="$TICK" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / t }' /proc/stat; }
minflt() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $8 }'; }
# "PID CPU-seconds" of every process named postgres (the loopback server's backends).
pg_cpu() {
    local pid
    for pid in $(pgrep -x postgres || true); do
        [[ -r /proc/$pid/stat ]] && printf '%s %s\n' "$pid" "$(cpu_s "$pid" 2>/dev/null)"
    done
    return 0
}
vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
median() { read -r m _ <<<"$(stats "$*")"; printf '%s' "$m"; }

# create_users DIR: bench1..benchN with PASSWORD, through the CLI.
create_users() {
    local dir=$1 k
    log "creating $USERS users"
    for k in $(seq "$USERS"); do
        gh "$dir" user create "bench$k" "bench$k@example.com" >/dev/null 2>>"$dir/cli.log" \
            || { tail -n 5 "$dir/cli.log" >&2; die "gatehouse user create bench$k failed"; }
        printf '%s\n' "$PASSWORD" | gh "$dir" user password "bench$k" --stdin >/dev/null 2>>"$dir/cli.log" \
            || { tail -n 5 "$dir/cli.log" >&2; die "gatehouse user password bench$k failed"; }
    done
}

# sample PID FILE MAX: "VmRSS-KiB threads" every 100 ms into FILE, at most MAX samples.
sample() {
    local pid=$1 out=$2 max=$3 i
    for (( i = 0; i < max; i++ )); do
        awk '$1 == "VmRSS:" { r = $2 } $1 == "Threads:" { t = $2 } END { print r, t }' \
            "/proc/$pid/status" >>"$out" 2>/dev/null || return 0
        sleep 0.1
    done
}

# hash_load CONCURRENCY SECONDS: the raw rate; sets HRES (its result line).
hash_load() {
    log "signin_load hash: $1 in flight, $2 s"
    HRES=$("$LOAD" hash --concurrency "$1" --seconds "$2" --warmup "$WARMUP_S" 2> >(tee -a "$WORK/load.log" >&2)) \
        || die "signin_load hash failed"
}

# http_load DIR CONCURRENCY SECONDS WARMUP: signin_load http against the server,
# VmRSS and threads sampled meanwhile. Sets RES (its result line), PEAK (MiB),
# PEAK_THREADS, SAMPLES, SERVER_CPU (server CPU s during the run), SERVER_FAULTS
# (its minor page faults) and OTHER_CPU (CPU s of every other process but the
# load generator; of which PG_CPU for PostgreSQL's processes when DB_URL is set).
http_load() {
    local dir=$1 c=$2 s=$3 w=$4 samples cpu0 all0 faults0 sampler
    samples="$dir/samples.$c.$RANDOM"
    : >"$samples"
    # Bounded: the run's length plus two minutes of draining at most.
    sample "$SERVER_PID" "$samples" $(( (s + w + 120) * 10 )) &
    sampler=$!; BG_PIDS+=("$sampler")
    cpu0=$(cpu_s "$SERVER_PID") all0=$(machine_cpu_s) faults0=$(minflt "$SERVER_PID")
    if [[ -n $DB_URL ]]; then pg_cpu >"$samples.pg0"; fi
    log "signin_load http: concurrency $c, $s s (+$w s warm-up)"
    RES=$("$LOAD" http --url "http://127.0.0.1:$PORT" --users "$USERS" --password "$PASSWORD" \
        --concurrency "$c" --seconds "$s" --warmup "$w" 2> >(tee -a "$dir/load.log" >&2)) \
        || die "signin_load http failed"
    SERVER_CPU=$(calc 'b - a' a="$cpu0" b="$(cpu_s "$SERVER_PID")")
    SERVER_FAULTS=$(( $(minflt "$SERVER_PID") - faults0 ))
    PG_CPU=0
    if [[ -n $DB_URL ]]; then
        pg_cpu >"$samples.pg1"
        PG_CPU=$(awk 'NR == FNR { a[$1] = $2; next } { d += $2 - a[$1] } END { printf "%.2f", d }' "$samples.pg0" "$samples.pg1")
    fi
    OTHER_CPU=$(calc 'all - a - srv - cli' a="$all0" all="$(machine_cpu_s)" srv="$SERVER_CPU" cli="$(kv client_cpu_s "$RES")")
    stop_bg "$sampler"
    PEAK=$(sort -n "$samples" | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
    PEAK_THREADS=$(sort -n -k2 "$samples" | tail -n 1 | awk '{ print $2 }')
    SAMPLES=$(wc -l <"$samples")
    [[ $(kv errors "$RES") == 0 ]] || log "$(kv errors "$RES") failed sign-ins (causes above)"
}

# rounds LABEL DIR: ROUNDS x (raw hash rate, HTTP sign-ins at HTTP_C), alternating,
# against the running server; adds the rows. Sets PEAK_ROUNDS (MiB).
rounds() {
    local label=$1 dir=$2 r hashes="" hcpu="" hfaults=0 hall=0 faults=0 rates="" p50s="" p99s="" steps=() n=0 ok=0 errors=0
    local srv=0 cli=0 other=0 pg=0 wall=0 ratios="" hash_med rate_med t0 ratio i
    PEAK_ROUNDS=0
    for r in $(seq "$ROUNDS"); do
        hash_load "$HASH_C" "$ROUND_S"
        hashes+=" $(kv rate "$HRES")"
        hcpu+=" $(calc '1000 * c / n' c="$(kv cpu_s "$HRES")" n="$(kv hashes_all "$HRES")")"
        hfaults=$(( hfaults + $(kv minflt "$HRES") )) hall=$(( hall + $(kv hashes_all "$HRES") ))
        t0=$(now_us)
        http_load "$dir" "$HTTP_C" "$ROUND_S" "$WARMUP_S"
        wall=$(calc 'w + (b - a) / 1e6' w="$wall" a="$t0" b="$(now_us)")
        rates+=" $(kv rate "$RES")" p50s+=" $(kv p50_ms "$RES")" p99s+=" $(kv p99_ms "$RES")"
        ratios+=" $(calcf %.2f 'a / b' a="$(kv rate "$RES")" b="$(kv rate "$HRES")")"
        for i in 1 2 3 4; do steps[i]+=" $(kv "step${i}_p50_ms" "$RES")"; done
        n=$(( n + $(kv signins "$RES") )) ok=$(( ok + $(kv signins_all "$RES") )) errors=$(( errors + $(kv errors "$RES") ))
        faults=$(( faults + SERVER_FAULTS ))
        srv=$(calc 'a + b' a="$srv" b="$SERVER_CPU") cli=$(calc 'a + b' a="$cli" b="$(kv client_cpu_s "$RES")")
        other=$(calc 'a + b' a="$other" b="$OTHER_CPU") pg=$(calc 'a + b' a="$pg" b="$PG_CPU")
        PEAK_ROUNDS=$(calc '(a > b) ? a : b' a="$PEAK_ROUNDS" b="$PEAK")
    done
    hash_med=$(median "$hashes") rate_med=$(median "$rates")
    read -r ratio _ <<<"$(tr ' ' '\n' <<<"$ratios" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    ROWS+=("| raw argon2id verifications/s, by the server's \`PasswordHasher\` in the load generator (m=19456 KiB, t=2, p=1; $(kv threads "$HRES") hashing threads, $HASH_C in flight), median of $ROUNDS × $ROUND_S s, between the $label rounds | **$hash_med/s** ($(median "$hcpu") ms CPU and $(calcf %.0f 'f / n' f="$hfaults" n="$hall") minor page faults each; rounds:$hashes) | - |")
    ROWS+=("| full HTTP sign-ins/s, $label, concurrency $HTTP_C, median of $ROUNDS × $ROUND_S s ($USERS users round robin; GET /login, POST /login, GET /login, POST /login/password, keep-alive) | **$rate_med/s**, p50 $(median "$p50s") ms, p99 $(median "$p99s") ms ($n sign-ins, $errors errors; rounds:$rates) | - |")
    ROWS+=("| ratio, $label: sign-ins/s ÷ raw hashes/s, median of the per-round ratios (rounds:$ratios; ratio of the medians $(calcf %.2f 'a / b' a="$rate_med" b="$hash_med")) | **$ratio** | ≥ 0.9 |")
    ROWS+=("| ratio from CPU time, $label: CPU of one raw verification ÷ CPU of one sign-in (server + load generator$([[ -z $DB_URL ]] || echo ' + PostgreSQL')) (info: what the rate ratio tends to on a machine with nothing else running) | $(calcf %.2f 'h / (1000 * (s + c + p) / n)' h="$(median "$hcpu")" s="$srv" c="$cli" p="$pg" n="$ok") | - |")
    ROWS+=("| of which, $label: p50 of each request, GET / POST identifier / GET / POST password (info) | $(median "${steps[1]}") / $(median "${steps[2]}") / $(median "${steps[3]}") / $(median "${steps[4]}") ms | - |")
    local pg_note=""
    [[ -z $DB_URL ]] || pg_note=", of which PostgreSQL $(calc '1000 * c / n' c="$pg" n="$ok") ms per sign-in"
    ROWS+=("| per sign-in, $label: CPU of the server / of the load generator; server minor page faults (a fresh argon2 work area is ~4864); CPU of other processes on the machine meanwhile (info) | $(calc '1000 * c / n' c="$srv" n="$ok") / $(calc '1000 * c / n' c="$cli" n="$ok") ms; $(calcf %.0f 'f / n' f="$faults" n="$ok") faults; others $(calc 'c / w' c="$other" w="$wall") of $CORES cores$pg_note | - |")
}

ROWS=() MEM_ROWS=()

d="$WORK/sqlite"; mkdir -p "$d"
start_server "$d" GATEHOUSE_METRICS_LISTEN=off
create_users "$d"
sleep 2
IDLE0=$(rss_mib "$SERVER_PID")
rounds SQLite "$d"
PEAK8=$PEAK_ROUNDS

# Light load: the hasher's queue empties after every hash.
hash_load 2 "$ROUND_S"
ROWS+=("| raw verifications/s with only 2 in flight (= hashing threads: no hash waits, so each frees its work area and the next maps a new one) (info) | $(kv rate "$HRES")/s ($(calc '1000 * c / n' c="$(kv cpu_s "$HRES")" n="$(kv hashes_all "$HRES")") ms CPU and $(calcf %.0f 'f / n' f="$(kv minflt "$HRES")" n="$(kv hashes_all "$HRES")") minor page faults each) | - |")
http_load "$d" 1 "$ROUND_S" "$WARMUP_S"
ROWS+=("| one sign-in at a time, SQLite (concurrency 1, $ROUND_S s) (info) | $(kv rate "$RES")/s, p50 $(kv p50_ms "$RES") ms, p99 $(kv p99_ms "$RES") ms; POST /login/password p50 $(kv step4_p50_ms "$RES") ms; server $(calc '1000 * c / n' c="$SERVER_CPU" n="$(kv signins_all "$RES")") ms CPU and $(calcf %.0f 'f / n' f="$SERVER_FAULTS" n="$(kv signins_all "$RES")") page faults per sign-in | - |")

sleep 3
IDLE=$(rss_mib "$SERVER_PID")
http_load "$d" "$BURST_C" "$BURST_S" 0
BURST=$RES
t_end=$(now_us)
while (( $(now_us) < t_end + AFTER_S * 1000000 )); do sleep 0.1; done
AFTER=$(rss_mib "$SERVER_PID")
while (( $(now_us) < t_end + LATE_S * 1000000 )); do sleep 0.2; done
LATE=$(rss_mib "$SERVER_PID")
HWM=$(calc 'k / 1024' k="$(vm_kib "$SERVER_PID" VmHWM)")
BOUND=$(calcf %.0f 'i + c * m' i="$IDLE" c="$CORES" m="$ARGON_MIB")
stop_server

MEM_ROWS+=("| server VmRSS idle, 2 s after ready and after creating the users (with the CLI, in other processes) | $IDLE0 MiB | < 20 MB |")
MEM_ROWS+=("| server VmRSS peak during the concurrency-$HTTP_C rounds (sampled every 100 ms) (info) | $PEAK8 MiB | - |")
MEM_ROWS+=("| server VmRSS idle before the burst (3 s after the concurrency-1 run) | $IDLE MiB | - |")
MEM_ROWS+=("| server VmRSS peak during a burst of $BURST_C concurrent sign-ins for $BURST_S s ($SAMPLES samples; $(kv signins "$BURST") sign-ins, $(kv rate "$BURST")/s, p50 $(kv p50_ms "$BURST") ms, p99 $(kv p99_ms "$BURST") ms, $(kv errors "$BURST") errors; server $(calc '1000 * c / n' c="$SERVER_CPU" n="$(kv signins_all "$BURST")") ms CPU and $(calcf %.0f 'f / n' f="$SERVER_FAULTS" n="$(kv signins_all "$BURST")") page faults per sign-in; up to $PEAK_THREADS threads) | **$PEAK MiB** (VmHWM over the server's life: $HWM MiB) | ≤ ~$BOUND MiB (idle + $CORES cores × $ARGON_MIB MiB) |")
MEM_ROWS+=("| server VmRSS $AFTER_S s after the burst | **$AFTER MiB** | back near idle ($IDLE MiB) |")
MEM_ROWS+=("| server VmRSS $LATE_S s after the burst (info: tokio ends idle blocking threads after 10 s) | $LATE MiB | - |")

# Users hashed at m=8 KiB, t=1 (stored hashes carry their parameters): what a
# sign-in costs the server besides argon2id, and the rate it would allow.
dc="$WORK/cheap"; mkdir -p "$dc"
printf 'GATEHOUSE_PASSWORD_HASH_MEMORY_KIB=8\nGATEHOUSE_PASSWORD_HASH_ITERATIONS=1\n' >"$dc/.env"
start_server "$dc" GATEHOUSE_METRICS_LISTEN=off
create_users "$dc"
http_load "$dc" "$HTTP_C" "$ROUND_S" "$WARMUP_S"
ROWS+=("| the same sign-ins with argon2id at m=8 KiB, t=1 (info: the cost of everything but the hash), SQLite, concurrency $HTTP_C, $ROUND_S s | $(kv rate "$RES")/s, p50 $(kv p50_ms "$RES") ms; server CPU $(calc '1000 * c / n' c="$SERVER_CPU" n="$(kv signins_all "$RES")") ms, load generator $(calc '1000 * c / n' c="$(kv client_cpu_s "$RES")" n="$(kv signins_all "$RES")") ms per sign-in | - |")
stop_server

if [[ -n $PG_URL ]]; then
    pg_create_db
    d="$WORK/pg"; mkdir -p "$d"
    start_server "$d" GATEHOUSE_METRICS_LISTEN=off
    create_users "$d"
    sleep 1
    rounds PostgreSQL "$d"
    stop_server
    DB_URL=""
fi

report_header "Gatehouse sign-in benchmark"
echo "- load generator: \`crates/cli/examples/signin_load.rs\` (one thread, hand-written HTTP/1.1) on the same machine, so it takes CPU from the server; rates count what completes inside each window, after ${WARMUP_S} s of warm-up (none for the burst)"
echo
echo "| metric | result | target |"
echo "| --- | --- | --- |"
printf '%s\n' "${ROWS[@]}" "${MEM_ROWS[@]}"
