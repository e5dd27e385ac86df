#!/usr/bin/env bash
# Forward-auth benchmark: checks per second and latency of
# /outpost.goauthentik.io/auth/nginx with a valid proxy session cookie (the
# decision cache's hit path, as nginx's auth_request calls it), next to a bare
# axum "hello" server built in the same workspace (crates/cli/examples/hello_axum.rs)
# and loaded the same way: same path, headers, wrk settings, alternating runs.
# Prints a Markdown report on stdout (progress on stderr). Runnable from anywhere:
#
#   bench/forward_auth.sh > /tmp/forward_auth.md
#   bench/forward_auth.sh --no-build   # use the release binaries already in target/
#   FA_SERVER_ENV="GATEHOUSE_LOG_LEVEL=warn" bench/forward_auth.sh   # other server settings
#
# Needs curl; installs wrk (Debian package) if missing. Everything runs on
# loopback in a temporary directory that is removed on exit, with every
# process it started.
set -euo pipefail

RUNS=3            # alternating runs of each server (medians)
DURATION=8        # seconds per wrk run
WARMUP=2          # seconds of load before each measured run
THREADS=1         # wrk threads: one, so the 2-core machine keeps a core for the server
CONNECTIONS=32
HOST=bench.localtest

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
command -v curl >/dev/null || die "curl is needed"
build_release hello_axum
HELLO=$TARGET/release/examples/hello_axum

d="$WORK/gh"; mkdir -p "$d"
# Gatehouse's own defaults (info log of every request, metrics on): as deployed.
start_server "$d" ${FA_SERVER_ENV:-}
GH_PORT=$PORT GH_PID=$SERVER_PID
ORIGIN="http://$HOST:$GH_PORT"
gh "$d" user create bench bench@example.com "Bench" >/dev/null
printf 'bench-forward-auth-1\n' | gh "$d" user password bench --stdin >/dev/null
gh "$d" app create bench --name Bench --provider proxy --external-host "$ORIGIN" >/dev/null
sleep 0.5   # the server learns of the application through its change feed

# The sign-in dance with curl: /start on the protected host, Gatehouse's
# sign-in, the code hand-off, the callback that sets the proxy cookie.
jar="$WORK/cookies"
c() { curl -s --resolve "$HOST:$GH_PORT:127.0.0.1" -b "$jar" -c "$jar" "$@"; }
csrf() { grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//'; }
authorize=$(c -o /dev/null -w '%{redirect_url}' "$ORIGIN/outpost.goauthentik.io/start?rd=$ORIGIN/")
token=$(c "http://127.0.0.1:$GH_PORT/login" | csrf)
c -o /dev/null --data-urlencode identifier=bench --data-urlencode "csrf_token=$token" "http://127.0.0.1:$GH_PORT/login"
token=$(c "http://127.0.0.1:$GH_PORT/login" | csrf)
c -o /dev/null --data-urlencode password=bench-forward-auth-1 --data-urlencode "csrf_token=$token" "http://127.0.0.1:$GH_PORT/login/password"
callback=$(c -o /dev/null -w '%{redirect_url}' "$authorize")
[[ $callback == "$ORIGIN/outpost.goauthentik.io/callback?code="* ]] || die "no code from Gatehouse (got '$callback')"
c -o /dev/null "$callback"
COOKIE=$(awk '$6 ~ /^gatehouse_proxy_/ && $6 != "gatehouse_proxy_state" { print $6 "=" $7 }' "$jar" | head -n 1)
[[ -n $COOKIE ]] || die "no proxy session cookie after the callback"
PATH_=/outpost.goauthentik.io/auth/nginx
check=$(curl -s -o /dev/null -D - -H "X-Original-URL: $ORIGIN/" -H "Cookie: $COOKIE" "http://127.0.0.1:$GH_PORT$PATH_")
grep -q '^HTTP/1.1 200' <<<"$check" || die "the check did not pass: $check"
grep -qi '^x-authentik-username: bench' <<<"$check" || die "no identity headers: $check"
HEADER_BYTES=$(wc -c <<<"$check")

HELLO_PORT=$(free_port)
"$HELLO" "127.0.0.1:$HELLO_PORT" >"$WORK/hello.log" 2>&1 &
HELLO_PID=$!; BG_PIDS+=("$HELLO_PID")
for _ in $(seq 100); do port_in_use "$HELLO_PORT" && break; sleep 0.05; done

TICK=$(getconf CLK_TCK)
# CPU seconds used so far by process $1 (user + system).
cpu_s() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TICK" '{ printf "%.2f", ($12 + $13) / t }'; }

# run_wrk PORT PID: one warm-up and one measured run; sets RPS, P50, P99 (ms),
# ERRORS and CPU_US (the server's CPU time per request, in microseconds: less
# sensitive than throughput to other work on the machine).
run_wrk() {
    local port=$1 pid=$2 out cpu0 cpu1 n
    local args=(-t"$THREADS" -c"$CONNECTIONS" -H "X-Original-URL: $ORIGIN/" -H "Cookie: $COOKIE")
    wrk "${args[@]}" -d"${WARMUP}s" "http://127.0.0.1:$port$PATH_" >/dev/null
    cpu0=$(cpu_s "$pid")
    out=$(wrk "${args[@]}" -d"${DURATION}s" --latency "http://127.0.0.1:$port$PATH_")
    cpu1=$(cpu_s "$pid")
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    CPU_US=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    P50=$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)
    P99=$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)
    ERRORS=$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { n = 0; for (i = 3; i <= NF; i += 2) n += $i; print n }' <<<"$out" | awk '{ s += $1 } END { print s + 0 }')
}
# wrk prints 812.00us, 1.20ms or 2.00s.
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.2f", v }'; }

GH_RPS="" GH_P50="" GH_P99="" GH_CPU="" HELLO_RPS="" HELLO_P50="" HELLO_P99="" HELLO_CPU="" GH_ERRORS=0
for run in $(seq "$RUNS"); do
    log "run $run/$RUNS: gatehouse"
    run_wrk "$GH_PORT" "$GH_PID"; GH_RPS+=" $RPS" GH_P50+=" $P50" GH_P99+=" $P99" GH_CPU+=" $CPU_US"
    GH_ERRORS=$((GH_ERRORS + ERRORS))
    log "  $RPS checks/s, p99 $P99 ms, $CPU_US us of server CPU each"
    log "run $run/$RUNS: hello_axum"
    run_wrk "$HELLO_PORT" "$HELLO_PID"; HELLO_RPS+=" $RPS" HELLO_P50+=" $P50" HELLO_P99+=" $P99" HELLO_CPU+=" $CPU_US"
    log "  $RPS requests/s, p99 $P99 ms, $CPU_US us of server CPU each"
done
GH_CPU_RSS=$(rss_mib "$GH_PID")
med() { read -r m _ <<<"$(stats "$1")"; printf '%s' "$m"; }
gh_rps=$(printf '%.0f' "$(med "$GH_RPS")") hello_rps=$(printf '%.0f' "$(med "$HELLO_RPS")")
ratio=$(awk -v a="$gh_rps" -v b="$hello_rps" 'BEGIN { printf "%.2f", a / b }')

report_header "Gatehouse forward-auth benchmark"
echo "- load: wrk ${THREADS} thread, ${CONNECTIONS} connections, ${DURATION} s per run after ${WARMUP} s of warm-up, $RUNS alternating runs per server (medians), on the same 2 cores as the server"
echo "- request: \`GET $PATH_\` with \`X-Original-URL: $ORIGIN/\` and a valid proxy session cookie, as nginx's \`auth_request\` sends it; the answer is 200 with authentik's identity headers and a signed \`X-authentik-jwt\` (~$HEADER_BYTES bytes of status line and headers)"
echo "- gatehouse: \`gatehouse server\` with its defaults (SQLite, log at info, metrics on; checks keep out of the request log and count themselves, see docs/ARCHITECTURE.md)${FA_SERVER_ENV:+, with $FA_SERVER_ENV}; yardstick: \`hello_axum\`, axum's router with one fallback handler returning \"hello\", same tokio runtime"
echo
echo "| metric | result | target |"
echo "| --- | --- | --- |"
echo "| forward-auth checks/s, \`/outpost.goauthentik.io/auth/nginx\`, valid session (decision cache hit) | $gh_rps/s (runs:$GH_RPS) | ≥ 40,000/s |"
echo "| forward-auth latency | p50 $(med "$GH_P50") ms, p99 $(med "$GH_P99") ms | - |"
echo "| bare axum hello, same load (info) | $hello_rps/s (runs:$HELLO_RPS), p50 $(med "$HELLO_P50") ms, p99 $(med "$HELLO_P99") ms | - |"
echo "| ratio forward-auth / hello | $ratio | ≥ 0.6 |"
echo "| server CPU time per request (info: steadier than rates on a busy machine) | forward-auth $(med "$GH_CPU") µs, hello $(med "$HELLO_CPU") µs | - |"
echo "| non-200 answers or socket errors during the forward-auth runs | $GH_ERRORS | 0 |"
echo "| server resident memory after the runs (info) | $GH_CPU_RSS MiB | - |"
