#!/usr/bin/env bash
# Blueprints and SSO drift on a release build: the time to plan and to apply
# a blueprint of 10,000 users, 500 groups and 200 applications (OIDC and
# proxy providers, group bindings) on a fresh SQLite database, the time of a
# second apply that changes nothing, and `sso check` over 50 services.
#
#   bench/blueprint.sh [--no-build] > report.md
#
# Set GATEHOUSE_BENCH_PG_URL to a loopback PostgreSQL server to repeat the
# plan/apply rows on a database created for the run and dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "${1:-}" != "--no-build" ]; then
    cargo build --release -p gatehouse >&2
fi
bin=${BP_BENCH_BIN:-$root/target/release/gatehouse}
work=$(mktemp -d)
pgdb=""
cleanup() {
    rm -rf "$work"
    if [ -n "$pgdb" ]; then psql "$GATEHOUSE_BENCH_PG_URL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

BP_USERS=${BP_BENCH_USERS:-10000} BP_GROUPS=${BP_BENCH_GROUPS:-500} BP_APPS=${BP_BENCH_APPS:-200} python3 - "$work/big.yaml" <<'PY'
import os, sys
users, groups, apps = int(os.environ["BP_USERS"]), int(os.environ["BP_GROUPS"]), int(os.environ["BP_APPS"])
out = ["version: 1", "metadata: {name: bench}", "entries:"]
for g in range(groups):
    parent = f"\n    attrs: {{parent: !KeyOf g{g // 10}}}" if g >= 10 else ""
    out.append(f"  - model: authentik_core.group\n    id: g{g}\n    identifiers: {{name: group-{g}}}{parent}")
for u in range(users):
    gs = ", ".join(f"!KeyOf g{(u * 7 + k * 13) % groups}" for k in range(2))
    out.append(f"  - model: authentik_core.user\n    identifiers: {{username: user{u}}}\n"
               f"    attrs: {{name: User {u}, email: user{u}@example.com, groups: [{gs}]}}")
for a in range(apps):
    if a % 2 == 0:
        out.append(f"  - model: authentik_providers_oauth2.oauth2provider\n    id: p{a}\n    identifiers: {{name: App {a}}}\n"
                   f"    attrs: {{client_id: app{a}, client_secret: !Format ['secret-%s-0123456789abcdef', {a}], "
                   f"redirect_uris: [{{matching_mode: strict, url: 'https://app{a}.example.com/cb'}}]}}")
    else:
        out.append(f"  - model: authentik_providers_proxy.proxyprovider\n    id: p{a}\n    identifiers: {{name: App {a}}}\n"
                   f"    attrs: {{mode: forward_single, external_host: 'https://app{a}.example.com'}}")
    out.append(f"  - model: authentik_core.application\n    id: a{a}\n    identifiers: {{slug: app{a}}}\n"
               f"    attrs: {{name: App {a}, provider: !KeyOf p{a}}}")
    out.append(f"  - model: authentik_policies.policybinding\n    identifiers: {{target: !KeyOf a{a}, group: !KeyOf g{a % groups}}}")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
run() { # run LABEL ENV... -- ARGS...: prints elapsed ms
    local start end
    start=$(ms); "$@" >/dev/null; end=$(ms); echo $((end - start))
}
envs() { env -u GATEHOUSE_BENCH_PG_URL GATEHOUSE_DATA_DIR="$work/$1" GATEHOUSE_ENV_FILE="$work/$1.env" GATEHOUSE_DATABASE_URL="$2" "${@:3}"; }

rows=()
bench_db() { # NAME URL
    local name=$1 url=$2
    envs "$name" "$url" "$bin" migrate >/dev/null
    local plan apply again
    plan=$(run envs "$name" "$url" "$bin" blueprint plan "$work/big.yaml")
    apply=$(run envs "$name" "$url" "$bin" blueprint apply "$work/big.yaml")
    local n
    n=$(envs "$name" "$url" "$bin" --json blueprint list | python3 -c 'import json,sys; print([i["changes"] for i in json.load(sys.stdin) if i["name"]=="bench"][0])')
    again=$(run envs "$name" "$url" "$bin" blueprint apply "$work/big.yaml")
    rows+=("| plan, $name (fresh database: everything to create) | ${plan} ms | - |")
    local target="-"
    [ "$name" = sqlite ] && target="< 5000 ms"
    rows+=("| apply, $name (one transaction: $n steps; every object created with its audit event, a new user's groups in that event) | **${apply} ms** | $target |")
    rows+=("| apply again, $name (nothing to change) (info) | ${again} ms | - |")
}
bench_db sqlite "sqlite://$work/sqlite/gatehouse.db"
if [ -n "${GATEHOUSE_BENCH_PG_URL:-}" ]; then
    pgdb="gh_bench_bp_$$"
    psql "$GATEHOUSE_BENCH_PG_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
    bench_db postgres "${GATEHOUSE_BENCH_PG_URL%/*}/$pgdb"
fi

# sso check over 50 services (OIDC with env files and JWKS trust files).
stack=$work/stack
mkdir -p "$stack"
echo "ASD_TUNNEL_HOST=stack.example.com" > "$stack/.env"
python3 - "$stack" <<'PY'
import sys
root = sys.argv[1]
out = ["version: 1", "services:"]
for i in range(50):
    out.append(f"""  - name: svc{i}
    sso:
      type: oidc
      redirect_uris: ["https://${{ASD_TUNNEL_HOST}}/svc{i}/callback"]
      client: {{env_file: svc{i}.env, client_id_key: CLIENT_ID, client_secret_key: CLIENT_SECRET}}
      trust: {{jwks_file: svc{i}.jwks.json}}
      groups: [group-{i}]""")
open(f"{root}/stack.yaml", "w").write("\n".join(out) + "\n")
PY
url="sqlite://$work/sqlite/gatehouse.db"
envs sqlite "$url" "$bin" sso fix --all --manifest "$stack/stack.yaml" >/dev/null
checks=()
for _ in 1 2 3 4 5; do
    checks+=("$(run envs sqlite "$url" "$bin" sso check --manifest "$stack/stack.yaml")")
done
median=$(printf '%s\n' "${checks[@]}" | sort -n | sed -n 3p)
rows+=("| \`sso check\` over 50 OIDC services (env-file secret through the HMAC, JWKS file, groups; SQLite with the directory above; median of 5) | **${median} ms** (runs: ${checks[*]}) | - |")

echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- build: release, commit $(git rev-parse --short HEAD)"
echo "- blueprint: ${BP_BENCH_USERS:-10000} users (2 groups each via !KeyOf), ${BP_BENCH_GROUPS:-500} nested groups, ${BP_BENCH_APPS:-200} applications (half OIDC with client secrets, half proxy) each bound to a group; $(wc -c < "$work/big.yaml") bytes"
echo
echo "| metric | result | target |"
echo "| --- | --- | --- |"
printf '%s\n' "${rows[@]}"
