"""Blueprints through the command line and the server: plan, apply, export
round trip, the blueprint directory applied at start and re-applied when a
file changes, and `blueprint list`."""

import json
import time

import pytest

from conftest import Installation, WebClient

GROUPS = """
version: 1
metadata: {name: teams}
entries:
  - model: authentik_core.group
    id: staff
    identifiers: {name: staff}
  - model: authentik_core.user
    identifiers: {username: carol}
    attrs:
      name: Carol
      email: carol@example.com
      password: !Env CAROL_PASSWORD
      groups: [!KeyOf staff]
"""

def wait_for(pred, timeout: float = 10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False

def groups(inst: Installation) -> set:
    return {g["name"] for g in json.loads(inst.cli("--json", "group", "list").stdout)}

def test_directory_is_applied_at_start_and_on_change(sqlite_install: Installation):
    inst = sqlite_install
    bp = inst.dir / "blueprints"
    bp.mkdir()
    (bp / "teams.yaml").write_text(GROUPS)
    server = inst.server(GATEHOUSE_BLUEPRINTS_DIR=str(bp), GATEHOUSE_BLUEPRINTS_WATCH_SECONDS="1",
                         CAROL_PASSWORD="Carol-Pass-12345")
    # Applied before the server was ready; the bootstrap blueprint too.
    assert {"staff", "admins"} <= groups(inst)
    # carol (not an admin) signs in with the blueprint's password.
    web = WebClient(server.url)
    assert web.sign_in("carol", "Carol-Pass-12345").status_code == 303
    assert web.signed_in()

    listed = json.loads(inst.cli("--json", "blueprint", "list").stdout)
    by_path = {i["path"]: i for i in listed}
    assert by_path["embedded:bootstrap.yaml"]["result"] == "applied"
    teams = by_path[str(bp / "teams.yaml")]
    assert (teams["name"], teams["result"]) == ("teams", "applied")
    first_hash = teams["hash"]

    # A changed file is re-applied by the watch.
    (bp / "teams.yaml").write_text(GROUPS.replace("name: staff}", "name: staff}\n  - model: authentik_core.group\n    identifiers: {name: ops}"))
    assert wait_for(lambda: "ops" in groups(inst)), "the watch did not re-apply the changed file"
    listed = {i["path"]: i for i in json.loads(inst.cli("--json", "blueprint", "list").stdout)}
    assert listed[str(bp / "teams.yaml")]["hash"] != first_hash

    # A broken file is recorded as failed and changes nothing.
    (bp / "zz-broken.yaml").write_text("version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: never}\n  - model: authentik_core.nope\n")
    assert wait_for(lambda: any(i["result"] == "failed" for i in json.loads(inst.cli("--json", "blueprint", "list").stdout)))
    failed = {i["path"]: i for i in json.loads(inst.cli("--json", "blueprint", "list").stdout)}[str(bp / "zz-broken.yaml")]
    assert "zz-broken.yaml:5" in failed["message"] and "authentik_core.nope" in failed["message"]
    assert "never" not in groups(inst)
    table = inst.cli("blueprint", "list").stdout
    assert "failed" in table and "teams" in table

def test_plan_apply_and_errors(sqlite_install: Installation):
    inst = sqlite_install
    f = inst.dir / "teams.yaml"
    f.write_text(GROUPS)
    # !Env falls back to Gatehouse's .env (GATEHOUSE_ENV_FILE).
    (inst.dir / ".env").write_text("CAROL_PASSWORD=Carol-Pass-12345\n")
    plan = inst.cli("blueprint", "plan", str(f))
    assert "password: \"(set)\"" in plan.stdout
    assert "+ create group staff" in plan.stdout
    assert "+ create user carol" in plan.stdout
    assert "Carol-Pass-12345" not in plan.stdout
    assert "plan: 3 to create, 0 to change, 0 to delete" in plan.stdout
    assert "staff" not in groups(inst)  # a plan changes nothing
    out = json.loads(inst.cli("--json", "blueprint", "apply", str(f), CAROL_PASSWORD="Carol-Pass-12345").stdout)
    assert len(out["changes"]) == 3
    again = inst.cli("blueprint", "apply", str(f), CAROL_PASSWORD="Carol-Pass-12345")
    assert "no changes" in again.stdout

    bad = inst.dir / "bad.yaml"
    bad.write_text("version: 1\nentries:\n  - model: authentik_policies_expression.expressionpolicy\n    identifiers: {name: x}\n")
    r = inst.cli("blueprint", "apply", str(bad), check=False)
    assert r.returncode == 2
    assert f"{bad}:3:12" in r.stderr and "no expression policies" in r.stderr
    r = inst.cli("blueprint", "apply", "--allow-unsupported", str(bad))
    assert "warnings (unsupported, skipped):" in r.stdout

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_export_round_trip_through_the_cli(backend: str, sqlite_install: Installation, request):
    src = sqlite_install if backend == "sqlite" else request.getfixturevalue("pg_install")
    f = src.dir / "teams.yaml"
    f.write_text(GROUPS)
    src.cli("blueprint", "apply", str(f), CAROL_PASSWORD="Carol-Pass-12345")
    src.cli("app", "create", "grafana", "--name", "Grafana", "--provider", "oidc",
            "--redirect-uri", "https://grafana.example.test/login/generic_oauth", "--allow-group", "staff")
    src.cli("app", "create", "wiki", "--name", "Wiki", "--provider", "proxy", "--external-host", "https://wiki.example.test")
    src.cli("app", "create", "docs", "--name", "Docs", "--provider", "saml", "--acs-url", "https://docs.example.test/saml/acs",
            "--acs-url", "https://docs.example.test/saml/acs2", "--audience", "https://docs.example.test/saml/metadata",
            "--sign", "both", "--name-id", "email", "--signing-alg", "rsa-sha512")
    exported = src.dir / "export.yaml"
    r = src.cli("blueprint", "export", "--include-secrets", "--output", str(exported))
    assert "GRAFANA_CLIENT_SECRET" in r.stderr and "cannot be exported" in r.stderr
    # Into an empty database (the other backend's empty twin).
    dst = Installation() if backend == "sqlite" else Installation(src.database_url.rsplit("/", 1)[0] + "/" + src.database_url.rsplit("/", 1)[1] + "_copy")
    try:
        if backend == "postgres":
            import subprocess
            from conftest import PG_ADMIN_URL
            name = dst.database_url.rsplit("/", 1)[1]
            subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        dst.cli("blueprint", "apply", str(exported), GRAFANA_CLIENT_SECRET="a-new-secret-for-the-copy-0123456789")
        again = dst.dir / "again.yaml"
        dst.cli("blueprint", "export", "--include-secrets", "--output", str(again))
        assert exported.read_text() == again.read_text()
        assert "model: authentik_providers_saml.samlprovider" in exported.read_text()
        shown = dst.cli("app", "show", "docs").stdout
        assert "https://docs.example.test/saml/acs2" in shown and "https://docs.example.test/saml/metadata" in shown
        # carol's password came along as its hash.
        web_ok = dst.server()
        assert WebClient(web_ok.url).sign_in("carol", "Carol-Pass-12345").status_code == 303
    finally:
        dst.close()
        if backend == "postgres":
            import subprocess
            from conftest import PG_ADMIN_URL
            subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"DROP DATABASE IF EXISTS {dst.database_url.rsplit('/', 1)[1]} WITH (FORCE)"], capture_output=True)
