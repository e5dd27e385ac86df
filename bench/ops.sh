#!/usr/bin/env bash
# Operations on a release build: backup and restore of a large directory
# (100,000 users, 1,000 groups, 200 applications, 1,000,000 audit events) on
# SQLite and on PostgreSQL (time, file size, peak memory), `restore --check`,
# an encrypted backup, `migrate-db` from SQLite to PostgreSQL, and the figures
# of the multi-node fault run (tests/e2e/test_ops_multinode.py: three nodes
# behind nginx, one SIGKILLed, PostgreSQL restarted).
#
#   bench/ops.sh [--no-build] > report.md
#
# Set GATEHOUSE_BENCH_PG_URL to a loopback PostgreSQL server for the
# PostgreSQL rows (databases are created for the run and dropped after). The
# multi-node run needs .venv (scripts/test makes it). OPS_USERS, OPS_GROUPS,
# OPS_APPS and OPS_EVENTS change the size.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
parse_args "$@"

USERS=${OPS_USERS:-100000} GROUPS_N=${OPS_GROUPS:-1000} APPS=${OPS_APPS:-200} EVENTS=${OPS_EVENTS:-1000000}
build_release seed_ops
SEED=$TARGET/release/examples/seed_ops
EXTRA_DBS=()
drop_extra_dbs() {
    local db
    for db in "${EXTRA_DBS[@]}"; do
        psql "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    EXTRA_DBS=()
}
ops_cleanup() { drop_extra_dbs; cleanup; }
trap ops_cleanup EXIT

# timed CMD...: runs CMD, sets SECS (wall clock) and RSS_MIB (peak resident memory).
timed() {
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; die "failed: $*"; }
    read -r SECS kib < "$WORK/time"
    RSS_MIB=$(awk -v k="$kib" 'BEGIN { printf "%.0f", k / 1024 }')
}
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# timed_gh DIR URL ARGS...: `timed` the binary with its own data directory and database.
timed_gh() {
    local dir=$1 url=$2; shift 2
    timed env GATEHOUSE_DATA_DIR="$dir/data" GATEHOUSE_ENV_FILE="$dir/.env" GATEHOUSE_DATABASE_URL="$url" "$BIN" "$@"
}
new_pg() { pg_create_db; EXTRA_DBS+=("$PG_DB"); PG_DB=""; }

rows=()
row() { rows+=("| $1 | $2 | $3 |"); }

log "seeding SQLite: $USERS users, $GROUPS_N groups, $APPS applications, $EVENTS events"
SRC=$WORK/src; mkdir -p "$SRC/data"
SRC_URL="sqlite://$SRC/data/gatehouse.db"
t0=$(now_us)
"$SEED" "$SRC_URL" --users "$USERS" --groups "$GROUPS_N" --apps "$APPS" --events "$EVENTS" 2>"$WORK/seed.log"
row "seeding SQLite (info: groups and applications through the Directory services, users and events in 5,000-row write transactions)" "$(awk -v ms="$(ms_since "$t0")" 'BEGIN { printf "%.1f s", ms / 1000 }'); database $(mib "$SRC/data/gatehouse.db")" "-"

log "SQLite: backup"
timed_gh "$SRC" "$SRC_URL" backup -o "$WORK/sqlite.tar"
row "**backup, SQLite** (one snapshot, $USERS users, $EVENTS events)" "**${SECS} s**, $(mib "$WORK/sqlite.tar"), peak RSS ${RSS_MIB} MiB" "< 60 s"
timed_gh "$SRC" "$SRC_URL" restore --check "$WORK/sqlite.tar"
row "\`restore --check\` of that file (every checksum, every row parsed)" "${SECS} s, peak RSS ${RSS_MIB} MiB" "-"
log "SQLite: restore"
DST=$WORK/dst-sqlite
timed_gh "$DST" "sqlite://$DST/data/gatehouse.db" restore "$WORK/sqlite.tar"
row "**restore, SQLite** (verify, one transaction, re-count, chain walk)" "**${SECS} s**, peak RSS ${RSS_MIB} MiB" "< 60 s"
rm -rf "$DST"  # disk space is shared: keep only what the next rows need
printf 'a long passphrase for the benchmark\n' > "$WORK/pass"
timed_gh "$SRC" "$SRC_URL" backup -o "$WORK/sqlite.tar.age" --passphrase-file "$WORK/pass"
row "backup, SQLite, encrypted (age, scrypt passphrase) (info)" "${SECS} s, $(mib "$WORK/sqlite.tar.age")" "-"
rm -f "$WORK/sqlite.tar.age"

if [[ -n $PG_URL ]]; then
    new_pg; PG_SRC=$DB_URL
    log "migrate-db: SQLite to PostgreSQL"
    timed_gh "$SRC" "$SRC_URL" migrate-db --to "$PG_SRC"
    row "\`migrate-db\` SQLite → PostgreSQL (snapshot, one transaction, chain walk)" "${SECS} s, peak RSS ${RSS_MIB} MiB" "-"
    log "PostgreSQL: backup"
    timed_gh "$WORK/pg" "$PG_SRC" backup -o "$WORK/pg.tar"
    row "**backup, PostgreSQL** (REPEATABLE READ snapshot)" "**${SECS} s**, $(mib "$WORK/pg.tar"), peak RSS ${RSS_MIB} MiB" "-"
    drop_extra_dbs
    new_pg; PG_DST=$DB_URL
    log "PostgreSQL: restore"
    timed_gh "$WORK/pg2" "$PG_DST" restore "$WORK/pg.tar"
    row "**restore, PostgreSQL** (multi-row INSERTs of up to 1,000 rows, one transaction)" "**${SECS} s**, peak RSS ${RSS_MIB} MiB" "-"
    drop_extra_dbs
fi

multinode=""
if [[ -x $ROOT/.venv/bin/python ]]; then
    log "multi-node fault run"
    mkdir -p "$ROOT/test-output"
    rm -f "$ROOT/test-output/ops-multinode.json"
    if GATEHOUSE_BIN_UNDER_TEST=$BIN "$ROOT/.venv/bin/python" -m pytest "$ROOT/tests/e2e/test_ops_multinode.py" -q -p no:cacheprovider >"$WORK/multinode.log" 2>&1; then
        multinode=pass
    else
        multinode=FAIL; tail -n 30 "$WORK/multinode.log" >&2
    fi
fi

report_header "Operations: backup, restore, migrate-db, multi-node faults"
echo "- size: $USERS users, $GROUPS_N groups, $APPS applications, $EVENTS audit events ($(tail -n1 "$WORK/seed.log"))"
echo
echo "| metric | result | target |"
echo "| --- | --- | --- |"
printf '%s\n' "${rows[@]}"
if [[ -n $multinode ]] && [[ -f $ROOT/test-output/ops-multinode.json ]]; then
    python3 - "$ROOT/test-output/ops-multinode.json" "$multinode" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["revocation_delay_s"]
fmt = lambda xs: " / ".join(f"{x * 1000:.0f} ms" for x in xs)
print(f"| multi-node run ({d['nodes']} nodes behind nginx, {d['threads']} clients, {d['seconds']} s; test {sys.argv[2]}) | {d['requests']} requests: {d['requests_by_kind']['signin']} sign-ins, {d['requests_by_kind']['refresh']} refreshes, {d['requests_by_kind']['forward']} forward-auth checks | - |")
causes = ", ".join(f"{n} {c}" for c, n in d["failures_by_cause"].items()) or "none"
print(f"| failed requests, by cause | {causes}; unexplained: {len(d['unexplained_failures'])} | 0 unexplained |")
print(f"| acknowledged sign-ins lost | {d['lost_sign_ins']} of {d['acknowledged_sign_ins']} | 0 |")
print(f"| readiness while PostgreSQL was stopped: 503 within (per node) | {fmt(d['readiness_503_within_s'])}; ready again {fmt(d['readiness_recovered_after_db_start_s'])} after it started, no restart | - |")
print(f"| revocation seen by the other nodes (nodes 2 / 3): session, forward-auth, disabled user | {fmt(r['session'])}; {fmt(r['forward_auth'])}; {fmt(r['disabled_user_forward_auth'])} | < 1 s |")
print(f"| PostgreSQL connections, most seen | {d['postgres_connections_max']} (bound {d['postgres_connection_bound']}: 3 × (pool 5 + 2 listeners) + 2) | bounded |")
print(f"| killed node: restart to ready | {d['killed_node_restart_to_ready_s'] * 1000:.0f} ms | - |")
PY
fi
