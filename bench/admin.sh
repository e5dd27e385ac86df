#!/usr/bin/env bash
# Admin interface latency: p99 of every admin page on a directory of 10,000
# users, 50 groups and 200 applications (seeded through the Directory services
# by crates/cli/examples/seed_directory.rs) with a stack manifest of 20
# services (the dashboard's drift card), signed in as an administrator.
#
#   bench/admin.sh [--no-build] > report.md
#
# Each page is fetched REQUESTS times (default 200, one at a time, keep-alive)
# with curl; the table gives median, p90, p99 and the target (< 50 ms p99).
# The administrator signs in through the real sign-in pages; the MFA policy is
# set to `off` for the run (a TOTP step would only add a page before the
# measurements, not to them). Set GATEHOUSE_BENCH_PG_URL to a loopback
# PostgreSQL server to repeat the table on a database created for the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_args "$@"

REQUESTS=${REQUESTS:-200}
PASSWORD="Bench-Admin-Pass-42"

build_release seed_directory

# p99 with nearest rank, besides median and p90 (stats gives median min p90).
p99() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { p = int(0.99 * NR); if (p < 0.99 * NR) p++; printf "%.1f", v[p] }'; }

# sign_in JAR: the administrator's session cookies into JAR.
sign_in() {
    local jar=$1 base="http://127.0.0.1:$PORT" page csrf
    page=$(curl -s -c "$jar" -b "$jar" "$base/login?next=/if/admin/")
    csrf=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$page" | head -1 | sed 's/.*value="//; s/"$//')
    page=$(curl -s -c "$jar" -b "$jar" -L --data-urlencode "identifier=benchadmin" --data-urlencode "csrf_token=$csrf" "$base/login")
    csrf=$(grep -o 'name="csrf_token" value="[^"]*"' <<<"$page" | head -1 | sed 's/.*value="//; s/"$//')
    curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf_token=$csrf" "$base/login/password"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$base/if/admin/") == 200 ]] || die "the administrator could not sign in"
}

# measure LABEL PATH: one table row for GET PATH, REQUESTS times.
measure() {
    local label=$1 path=$2 url times code
    url="http://127.0.0.1:$PORT$path"
    code=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$url")
    [[ $code == 200 ]] || die "$path answered $code"
    # One curl for all requests: keep-alive, like a browser; time_total per request in seconds.
    local args=()
    for _ in $(seq "$REQUESTS"); do args+=(-o /dev/null "$url"); done
    times=$(curl -s -b "$JAR" -w '%{time_total}\n' "${args[@]}" | awk '{ printf "%.2f ", $1 * 1000 }')
    read -r med _min p90 <<<"$(stats "$times")"
    echo "| $label \`$path\` | $med | $p90 | $(p99 "$times") | < 50 |"
}

# run_backend NAME: seed, start, sign in, measure every page.
run_backend() {
    local name=$1 dir=$WORK/$name t0
    mkdir -p "$dir/data"
    local url=${DB_URL:-sqlite://$dir/data/gatehouse.db}
    t0=$(now_us)
    "$TARGET/release/examples/seed_directory" "$url" --users 10000 --apps 200 --groups 50 >"$dir/seed.log" 2>&1
    log "$name: seeded in $(ms_since "$t0") ms"
    # A stack of 20 services for the drift card and page (proxy: no files to read).
    { echo "version: 1"; echo "services:"
      for i in $(seq -f '%03g' 0 19); do echo "  - {name: app-$i, sso: {type: proxy, external_host: \"https://app-$i.example.test\"}}"; done
    } >"$dir/stack.yaml"
    start_server "$dir" GATEHOUSE_BOOTSTRAP_PASSWORD="$PASSWORD" GATEHOUSE_STACK_FILE="$dir/stack.yaml"
    gh "$dir" user create benchadmin benchadmin@example.com "Bench Admin" >/dev/null
    gh "$dir" user password benchadmin --stdin <<<"$PASSWORD" >/dev/null
    gh "$dir" group add admins benchadmin >/dev/null
    gh "$dir" policy mfa set off >/dev/null
    sleep 0.5  # the server follows the change feed (SQLite: a 250 ms poll)
    JAR=$dir/cookies
    sign_in "$JAR"
    echo
    echo "## $name: 10,000 users, 50 groups, 200 applications"
    echo
    echo "| page | median ms | p90 ms | p99 ms | target p99 ms |"
    echo "| --- | --- | --- | --- | --- |"
    measure "dashboard" "/if/admin/"
    measure "users, first page" "/if/admin/users/"
    measure "users, search" "/if/admin/users/?q=user0042"
    measure "users, page 200" "/if/admin/users/?page=200"
    measure "user" "/if/admin/users/user00042/"
    measure "groups" "/if/admin/groups/"
    measure "group" "/if/admin/groups/group-000/"
    measure "applications" "/if/admin/applications/"
    measure "application" "/if/admin/applications/app-000/"
    measure "new application" "/if/admin/applications/new/oidc"
    measure "events" "/if/admin/events/"
    measure "events, filtered" "/if/admin/events/?action=login&since=24h"
    measure "access heat map, first page" "/if/admin/access/"
    measure "access heat map, one group" "/if/admin/access/?group=group-001"
    measure "access CSV, every user" "/if/admin/access/access.csv"
    measure "blueprints" "/if/admin/blueprints/"
    measure "SSO drift, 20 services checked" "/if/admin/drift/"
    stop_server
}

{
    report_header "Admin interface: p99 per page"
    echo "- requests per page: $REQUESTS, sequential, keep-alive (curl), signed in as a superuser"
    run_backend sqlite
    if [[ -n $PG_URL ]]; then
        pg_create_db
        run_backend postgresql
    fi
}
