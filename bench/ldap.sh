#!/usr/bin/env bash
# LDAP benchmark: Gatehouse's LDAP server next to OpenLDAP's slapd (Debian
# package, mdb backend, equality indexes on the same attributes), both on
# loopback, loaded with the same directory (10,000 users in 500 nested groups,
# seeded into Gatehouse through its Directory services and copied into slapd
# from Gatehouse's own LDAP tree) and driven by one load generator
# (crates/cli/examples/ldap_load.rs) in the same run, alternating:
#   - searches/s and p99 for (uid=user00123), for (memberOf=cn=group-007,…)
#     and for a paged subtree search of every user (pages of 1000);
#   - binds/s (both verify the same argon2id hashes: slapd through its argon2
#     module), next to the raw argon2id rate of Gatehouse's hasher, and the
#     same ratio in CPU time (server CPU per bind, hasher CPU per verification);
#   - resident memory of both servers.
# Prints a Markdown report on stdout (progress on stderr):
#
#   bench/ldap.sh > /tmp/ldap.md
#   bench/ldap.sh --no-build   # use the release binaries already in target/
#
# Installs slapd (without its default database) and ldap-utils if missing.
# Everything runs on loopback in a temporary directory removed on exit, with
# every process it started.
set -euo pipefail

USERS=10000
NGROUPS=500
BIND_USERS=32      # users with a password, bound in turn
ROUNDS=3           # alternating rounds per measurement (medians)
SECONDS_PER=8      # measured seconds per run
WARMUP=2
CONC=16            # connections of the load generator (search)
BIND_CONC=8        # connections of the load generator (bind)
LOAD_THREADS=1     # load generator threads: the 2-core machine keeps a core for the server
PASSWORD=Bench-Ldap-Password-1
BASE="DC=ldap,DC=goauthentik,DC=io"

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_args "$@"
if ! command -v slapd >/dev/null || ! command -v ldapsearch >/dev/null; then
    log "installing slapd (no default database) and ldap-utils"
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >&2
fi
command -v python3 >/dev/null || die "python3 is needed"
build_release seed_directory signin_load ldap_load
LOAD=$TARGET/release/examples/ldap_load

d="$WORK/gh"; mkdir -p "$d/data"
log "seeding $USERS users in $NGROUPS nested groups"
"$TARGET/release/examples/seed_directory" "sqlite://$d/data/gatehouse.db" --users "$USERS" --groups "$NGROUPS" --apps 0 \
    2>"$d/seed.log" || { tail -n 20 "$d/seed.log" >&2; die "seeding failed"; }
SEED=$(grep '^seeded' "$d/seed.log" | sed 's/^seeded //; s/ in [0-9.]* s \[.*//')
gh "$d" migrate >/dev/null
gh "$d" user create ldap-svc svc@example.com "LDAP search account" >/dev/null
printf '%s\n' "$PASSWORD" | gh "$d" user password ldap-svc --stdin >/dev/null
for i in $(seq 1 "$BIND_USERS"); do
    printf '%s\n' "$PASSWORD" | gh "$d" user password "$(printf 'user%05d' "$i")" --stdin >/dev/null
done
gh "$d" app create dir --name Directory --provider ldap >/dev/null
GH_LDAP=$(free_port)
start_server "$d" GATEHOUSE_LDAP_LISTEN="127.0.0.1:$GH_LDAP" GATEHOUSE_LDAPS_LISTEN=off GATEHOUSE_LOG_LEVEL=warn
GH_PID=$SERVER_PID
SVC_DN="cn=ldap-svc,ou=users,$BASE"

s="$WORK/slapd"; mkdir -p "$s/db"
log "copying the tree into slapd"
LDAPTLS_REQCERT=never ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$GH_LDAP" -D "$SVC_DN" -w "$PASSWORD" \
    -b "$BASE" -E pr=1000/noprompt '(objectClass=*)' '*' >"$s/gatehouse.ldif"
python3 - "$d/data/gatehouse.db" "$s/gatehouse.ldif" "$s/data.ldif" "$BIND_USERS" <<'PY'
# Gatehouse's entries in slapd's schema: the same DNs, values and indexed
# attributes; object classes slapd's schema has (and `user` from the small
# schema below), password hashes copied so both verify the same argon2id.
import sqlite3, sys
db, src, out, bind_users = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hashes = dict(sqlite3.connect(db).execute("SELECT username, password_hash FROM users WHERE password_hash IS NOT NULL"))
keep_classes = {"top", "person", "organizationalPerson", "inetOrgPerson", "user", "posixAccount",
                "groupOfNames", "dcObject", "organization", "organizationalUnit"}
with open(src) as f, open(out, "w") as w:
    for block in f.read().strip().split("\n\n"):
        lines = [l for l in block.splitlines() if l and not l.startswith("#")]
        if not lines or not lines[0].startswith("dn:"):
            continue
        classes = {l.split(": ", 1)[1] for l in lines if l.startswith("objectClass: ")}
        body = [lines[0]]
        for l in lines[1:]:
            if l.startswith("objectClass: ") and l.split(": ", 1)[1] not in keep_classes:
                continue
            body.append(l)
        if "posixGroup" in classes:
            body.append("objectClass: gatehouseGroup")
        uid = next((l.split(": ", 1)[1] for l in lines if l.startswith("uid: ")), None)
        if uid in hashes:
            body.append("userPassword: {ARGON2}" + hashes[uid])
        w.write("\n".join(body) + "\n\n")
PY
cat >"$s/gatehouse.schema" <<'EOF'
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'ak-active' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'ak-superuser' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP top AUXILIARY MAY ( memberOf $ sAMAccountName $ name $ ak-active $ ak-superuser ) )
objectclass ( 1.3.6.1.4.1.99999.2.2 NAME 'gatehouseGroup' SUP top AUXILIARY MAY ( gidNumber $ memberUid $ memberOf $ ak-superuser ) )
EOF
cat >"$s/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $s/gatehouse.schema
pidfile $s/slapd.pid
argsfile $s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload argon2
sizelimit unlimited
loglevel 0
database mdb
maxsize 1073741824
suffix "$BASE"
rootdn "cn=admin,$BASE"
directory $s/db
index objectClass,cn,uid,mail,memberOf eq
access to * by * read
EOF
slapadd -q -s -f "$s/slapd.conf" -l "$s/data.ldif" 2>"$s/slapadd.log" || { tail "$s/slapadd.log" >&2; die "slapadd failed"; }
SL_PORT=$(free_port)
slapd -f "$s/slapd.conf" -h "ldap://127.0.0.1:$SL_PORT/" -d 0 >"$s/slapd.log" 2>&1 &
SL_PID=$!; BG_PIDS+=("$SL_PID")
for _ in $(seq 100); do port_in_use "$SL_PORT" && break; sleep 0.05; done
port_in_use "$SL_PORT" || die "slapd did not start: $(tail -n 5 "$s/slapd.log")"

# Both servers hold the same entries.
count() { ldapsearch -x -LLL -H "ldap://127.0.0.1:$1" -D "$SVC_DN" -w "$PASSWORD" -b "$BASE" -E pr=1000/noprompt "$2" 1.1 | grep -c '^dn:'; }
for f in '(objectClass=user)' "(memberOf=cn=group-007,ou=groups,$BASE)" '(uid=user00123)'; do
    a=$(count "$GH_LDAP" "$f"); b=$(count "$SL_PORT" "$f")
    [[ $a == "$b" && $a -gt 0 ]] || die "the servers disagree on $f: Gatehouse $a, slapd $b"
done
GROUP7=$(count "$GH_LDAP" "(memberOf=cn=group-007,ou=groups,$BASE)")

kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { "$LOAD" --concurrency "$1" --threads "$LOAD_THREADS" --seconds "$SECONDS_PER" --warmup "$WARMUP" "${@:2}"; }

ROWS=()
# measure LABEL LOAD-ARGS...: alternating runs on each server; a row per server.
measure() {
    local label=$1; shift
    local gr=() gp=() sr=() sp=() r
    for _ in $(seq "$ROUNDS"); do
        r=$(load "$CONC" --addr "127.0.0.1:$GH_LDAP" "$@"); gr+=("$(kv rate "$r")"); gp+=("$(kv p99_ms "$r")")
        [[ $(kv errors "$r") == 0 ]] || die "Gatehouse errors on $label: $r"
        r=$(load "$CONC" --addr "127.0.0.1:$SL_PORT" "$@"); sr+=("$(kv rate "$r")"); sp+=("$(kv p99_ms "$r")")
        [[ $(kv errors "$r") == 0 ]] || die "slapd errors on $label: $r"
    done
    local g s
    g=$(median "${gr[*]}"); s=$(median "${sr[*]}")
    ROWS+=("| $label | **$g/s**, p99 $(median "${gp[*]}") ms (runs: ${gr[*]}) | $s/s, p99 $(median "${sp[*]}") ms (runs: ${sr[*]}) | $(calcf %.2f 'g / s' g="$g" s="$s") | ≥ 1.00 |")
}
calcf() {
    local fmt=$1 expr=$2; shift 2
    local vars=() kv
    for kv in "$@"; do vars+=(-v "$kv"); done
    awk "${vars[@]}" "BEGIN { printf \"$fmt\", $expr }"
}

search=(search --bind-dn "$SVC_DN" --password "$PASSWORD" --base "$BASE")
log "equality search"
measure "search \`(uid=user00123)\`, all attributes, $CONC connections" "${search[@]}" --filter '(uid=user00123)'
log "memberOf search"
measure "search \`(memberOf=cn=group-007,…)\` ($GROUP7 users, nested), attributes cn uid mail, $CONC connections" \
    "${search[@]}" --filter "(memberOf=cn=group-007,ou=groups,$BASE)" --attrs cn,uid,mail
log "paged subtree search"
measure "paged subtree search \`(objectClass=user)\`: all $USERS users + 1 in pages of 1000, attributes cn uid mail (one op = every page), $CONC connections" \
    "${search[@]}" --filter '(objectClass=user)' --page-size 1000 --attrs cn,uid,mail

log "binds"
BR=(); SBR=(); HR=(); BCPU=(); HCPU=()
# CPU time of a process so far, in ms (utime + stime).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
for _ in $(seq "$ROUNDS"); do
    c0=$(cpu_ms "$GH_PID")
    r=$(load "$BIND_CONC" --addr "127.0.0.1:$GH_LDAP" bind --dn-template "cn=user{:05},ou=users,$BASE" --users "$BIND_USERS" --password "$PASSWORD")
    [[ $(kv errors "$r") == 0 ]] || die "Gatehouse bind errors: $r"
    BR+=("$(kv rate "$r")"); BP=$(kv p99_ms "$r")
    # Server CPU per bind: the whole run (warm-up included) over the binds it made at the measured rate.
    BCPU+=("$(calcf %.2f 'c / (r * t)' c="$(( $(cpu_ms "$GH_PID") - c0 ))" r="$(kv rate "$r")" t="$(calcf %.1f 'a + b' a="$SECONDS_PER" b="$WARMUP")")")
    r=$("$TARGET/release/examples/signin_load" hash --seconds "$SECONDS_PER" --warmup "$WARMUP")
    HR+=("$(kv rate "$r")"); HCPU+=("$(calcf %.2f '1000 * c / n' c="$(kv cpu_s "$r")" n="$(kv hashes_all "$r")")")
    r=$(load "$BIND_CONC" --addr "127.0.0.1:$SL_PORT" bind --dn-template "cn=user{:05},ou=users,$BASE" --users "$BIND_USERS" --password "$PASSWORD")
    [[ $(kv errors "$r") == 0 ]] || die "slapd bind errors: $r"
    SBR+=("$(kv rate "$r")"); SBP=$(kv p99_ms "$r")
done
b=$(median "${BR[*]}"); h=$(median "${HR[*]}"); sb=$(median "${SBR[*]}")
ROWS+=("| binds (argon2id m=19456 KiB, t=2, p=1, the same hashes on both), $BIND_CONC connections | **$b/s**, p99 $BP ms (runs: ${BR[*]}) | $sb/s, p99 $SBP ms (runs: ${SBR[*]}) | $(calcf %.2f 'g / s' g="$b" s="$sb") | - |")
ROWS+=("| Gatehouse binds ÷ raw argon2id verifications/s of its hasher ($h/s; runs: ${HR[*]}) | **$(calcf %.2f 'b / h' b="$b" h="$h")** | - | - | ≥ 0.9 |")
bc=$(median "${BCPU[*]}"); hc=$(median "${HCPU[*]}")
ROWS+=("| CPU per raw verification ÷ server CPU per bind (the same ratio in CPU time, steadier on a shared machine: $hc ms per verification, runs: ${HCPU[*]}; $bc ms per bind, runs: ${BCPU[*]}) | $(calcf %.2f 'h / b' h="$hc" b="$bc") | - | - | (info) |")
ROWS+=("| resident memory after the runs (VmRSS; VmHWM) | **$(rss_mib "$GH_PID") MiB**; $(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$GH_PID/status") MiB | $(rss_mib "$SL_PID") MiB; $(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SL_PID/status") MiB | - | - |")

report_header "LDAP: Gatehouse and OpenLDAP slapd, same directory, same load generator"
echo "- slapd: $(slapd -VV 2>&1 | head -n 1 | sed 's/^@(#) //;s/\t.*//'), mdb, \`index objectClass,cn,uid,mail,memberOf eq\`, argon2 module"
echo "- directory: $SEED; plus ldap-svc (the search account) and $BIND_USERS users with passwords"
echo "- load generator: \`ldap_load\` ($LOAD_THREADS thread), $ROUNDS alternating rounds of ${SECONDS_PER} s after ${WARMUP} s warm-up, medians"
echo
echo "| metric | Gatehouse | slapd | Gatehouse ÷ slapd | target |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
