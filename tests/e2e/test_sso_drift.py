"""SSO drift check and repair against a real running server: the stack is
configured by a blueprint, the services' env files hold their client
credentials, and the stack manifest says what each service expects. People
sign in as a NON-admin user (MFA will be enforced for admins)."""

import base64
import json
import os
import stat
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from conftest import Installation, WebClient

PASSWORD = "Drift-Test-Pass-42"
GRAFANA_SECRET = "grafana-initial-secret-0123456789"
GITLAB_SECRET = "gitlab-initial-secret-0123456789"

BLUEPRINT = """
version: 1
metadata: {name: stack}
entries:
  - model: authentik_core.group
    id: grafana-users
    identifiers: {name: grafana-users}
  - model: authentik_core.user
    identifiers: {username: alice}
    attrs:
      name: Alice
      email: alice@example.com
      password: !Env ALICE_PASSWORD
      groups: [!KeyOf grafana-users]
  - model: authentik_providers_oauth2.oauth2provider
    id: grafana-provider
    identifiers: {name: Grafana}
    attrs:
      client_id: grafana
      client_secret: !Env GRAFANA_SECRET
      redirect_uris:
        - {matching_mode: strict, url: !Format ["https://%s/grafana/login/generic_oauth", !Env ASD_TUNNEL_HOST]}
  - model: authentik_core.application
    id: grafana
    identifiers: {slug: grafana}
    attrs: {name: Grafana, provider: !KeyOf grafana-provider}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf grafana, group: !KeyOf grafana-users}
    attrs: {order: 0}
  - model: authentik_providers_oauth2.oauth2provider
    id: gitlab-provider
    identifiers: {name: GitLab}
    attrs:
      client_id: gitlab
      client_secret: !Env GITLAB_SECRET
      redirect_uris:
        - {matching_mode: strict, url: !Format ["https://%s/gitlab/users/auth/openid_connect/callback", !Env ASD_TUNNEL_HOST]}
  - model: authentik_core.application
    identifiers: {slug: gitlab}
    attrs: {name: GitLab, provider: !KeyOf gitlab-provider}
  - model: authentik_providers_proxy.proxyprovider
    id: wiki-provider
    identifiers: {name: Wiki}
    attrs: {mode: forward_single, external_host: !Format ["https://wiki.%s", !Env ASD_TUNNEL_HOST]}
  - model: authentik_core.application
    identifiers: {slug: wiki}
    attrs: {name: Wiki, provider: !KeyOf wiki-provider}
"""

MANIFEST = """
version: 1
services:
  - name: grafana
    application: grafana
    sso:
      type: oidc
      redirect_uris: ["https://${ASD_TUNNEL_HOST}/grafana/login/generic_oauth"]
      client:
        env_file: grafana/grafana.env
        client_id_key: GF_AUTH_GENERIC_OAUTH_CLIENT_ID
        client_secret_key: GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET
      trust:
        issuer: "${GATEHOUSE_URL}/application/o/grafana/"
        jwks_file: grafana/jwks.json
      groups: [grafana-users]
  - name: gitlab
    sso:
      type: oidc
      redirect_uris: ["https://${ASD_TUNNEL_HOST}/gitlab/users/auth/openid_connect/callback"]
      client: {env_file: gitlab/gitlab.env, client_id_key: OIDC_CLIENT_ID, client_secret_key: OIDC_CLIENT_SECRET}
  - name: wiki
    sso: {type: proxy, external_host: "https://wiki.${ASD_TUNNEL_HOST}"}
"""

class Stack:
    def __init__(self, inst: Installation):
        self.inst = inst
        self.root = inst.dir / "stack"
        (self.root / "grafana").mkdir(parents=True)
        (self.root / "gitlab").mkdir()
        self.set_host("old.example.test")
        (self.root / "stack.yaml").write_text(MANIFEST)
        (self.root / "grafana" / "grafana.env").write_text(
            f"GF_SERVER_ROOT_URL=https://old.example.test/grafana\nGF_AUTH_GENERIC_OAUTH_CLIENT_ID=grafana\n"
            f"GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET={GRAFANA_SECRET}\n")
        os.chmod(self.root / "grafana" / "grafana.env", 0o640)
        (self.root / "gitlab" / "gitlab.env").write_text(f"OIDC_CLIENT_ID=gitlab\nOIDC_CLIENT_SECRET={GITLAB_SECRET}\n")
        (inst.dir / "stack.blueprint.yaml").write_text(BLUEPRINT)
        self.cli("blueprint", "apply", str(inst.dir / "stack.blueprint.yaml"), ALICE_PASSWORD=PASSWORD,
                 GRAFANA_SECRET=GRAFANA_SECRET, GITLAB_SECRET=GITLAB_SECRET, ASD_TUNNEL_HOST="old.example.test")
        self.server = inst.server(GATEHOUSE_STACK_FILE=str(self.root / "stack.yaml"))
        self.base = self.server.url
        # The service trusts the issuer it is configured with (GATEHOUSE_URL in the stack's .env).
        with open(self.root / ".env", "a") as f:
            f.write(f"GATEHOUSE_URL={self.base}\n")

    def set_host(self, host: str) -> None:
        env = self.root / ".env"
        lines = [l for l in (env.read_text().splitlines() if env.exists() else []) if not l.startswith("ASD_TUNNEL_HOST=")]
        lines.insert(0, f"ASD_TUNNEL_HOST={host}")
        env.write_text("\n".join(lines) + "\n")

    def cli(self, *args: str, check: bool = True, **extra):
        extra.setdefault("GATEHOUSE_STACK_FILE", str(self.root / "stack.yaml"))
        if hasattr(self, "base"):
            extra.setdefault("GATEHOUSE_EXTERNAL_URL", self.base)
        return self.inst.cli(*args, check=check, **extra)

    def check(self, *args: str):
        r = self.cli("--json", "sso", "check", *args, check=False)
        return r.returncode, json.loads(r.stdout)

    def env_file(self, service: str) -> dict:
        path = self.root / service / f"{service}.env"
        return dict(l.split("=", 1) for l in path.read_text().splitlines() if "=" in l)

    def events(self, action: str) -> list:
        return json.loads(self.cli("--json", "events", "--action", action, "--limit", "1000").stdout)

    def code_flow(self, client_id: str, secret: str, redirect_uri: str) -> dict:
        """A full authorization-code flow with PKCE through the real sign-in pages, as alice."""
        oauth = OAuth2Session(client_id, secret, scope="openid email profile", redirect_uri=redirect_uri,
                              code_challenge_method="S256")
        verifier = generate_token(48)
        uri, _ = oauth.create_authorization_url(f"{self.base}/application/o/authorize/", code_verifier=verifier)
        web = WebClient(self.base)
        r = web.http.get(uri, allow_redirects=False)
        for _ in range(6):
            assert r.status_code in (302, 303), r.text
            loc = r.headers["Location"]
            if loc.startswith(redirect_uri):
                break
            if loc.startswith("/login"):
                page = web.http.get(self.base + loc)
                r = web.http.post(f"{self.base}/login", data={"identifier": "alice", "csrf_token": web.csrf(page.text)})
                r = web.http.post(f"{self.base}/login/password", data={"password": PASSWORD, "csrf_token": web.csrf(r.text)},
                                  allow_redirects=False)
                assert r.status_code == 303, r.text
                r = web.http.get(self.base + r.headers["Location"], allow_redirects=False)
                continue
            r = web.http.get(self.base + loc, allow_redirects=False)
        callback = r.headers["Location"]
        assert callback.startswith(redirect_uri), callback
        return oauth.fetch_token(f"{self.base}/application/o/token/", authorization_response=callback, code_verifier=verifier)

    def token_request(self, client_id: str, secret: str) -> requests.Response:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return requests.post(f"{self.base}/application/o/token/",
                             data={"grant_type": "authorization_code", "code": "not-a-code",
                                   "redirect_uri": "https://x.example.test/cb"},
                             headers={"Authorization": f"Basic {basic}"})

@pytest.fixture
def stack(sqlite_install):
    return Stack(sqlite_install)

@pytest.fixture
def pg_stack(pg_install):
    return Stack(pg_install)

def drifts(report: dict, service: str) -> dict:
    svc = next(s for s in report["services"] if s["service"] == service)
    return {d["kind"]: d for d in svc["drifts"]}

def wait_for_authorize(stack: Stack, client_id: str, redirect_uri: str) -> None:
    """The server notices a change within its change-feed poll (1 s on PostgreSQL)."""
    deadline = time.time() + 5
    while time.time() < deadline:
        r = requests.get(f"{stack.base}/application/o/authorize/", allow_redirects=False, params={
            "client_id": client_id, "response_type": "code", "scope": "openid", "redirect_uri": redirect_uri,
            "code_challenge": "x" * 43, "code_challenge_method": "S256"})
        if r.status_code in (302, 303):
            return
        time.sleep(0.1)

def test_tunnel_host_change_on_postgres(pg_stack: Stack):
    stack = pg_stack
    stack.cli("sso", "fix", "--all")
    assert stack.check()[0] == 0
    stack.set_host("pg.example.test")
    code, report = stack.check()
    assert code == 1 and "redirect_uris" in drifts(report, "grafana")
    stack.cli("sso", "fix", "--all")
    assert stack.check()[0] == 0
    wait_for_authorize(stack, "grafana", "https://pg.example.test/grafana/login/generic_oauth")
    token = stack.code_flow("grafana", GRAFANA_SECRET, "https://pg.example.test/grafana/login/generic_oauth")
    assert token["id_token"]
    assert stack.cli("sso", "fix", "--all").stdout.strip() == "nothing to repair"

def test_tunnel_host_change_is_reported_fixed_and_signs_in(stack: Stack):
    # A fresh stack: the service's JWKS file does not exist yet; fix writes it; then clean.
    code, report = stack.check()
    assert code == 1 and set(drifts(report, "grafana")) == {"trust"}
    assert stack.cli("sso", "fix", "grafana").returncode == 0
    code, report = stack.check()
    assert code == 0 and report["clean"], report

    stack.set_host("new.example.test")
    code, report = stack.check()
    assert code == 1, report
    g = drifts(report, "grafana")["redirect_uris"]
    assert "https://new.example.test/grafana/login/generic_oauth" in g["items"]
    assert "https://old.example.test/grafana/login/generic_oauth" in g["items"]
    gl = drifts(report, "gitlab")["redirect_uris"]
    assert "https://new.example.test/gitlab/users/auth/openid_connect/callback" in gl["items"]
    assert drifts(report, "wiki")["external_host"]["items"] == ["https://wiki.new.example.test"]
    # The table names every affected URI too.
    table = stack.cli("sso", "check", check=False)
    assert table.returncode == 1
    assert "https://new.example.test/grafana/login/generic_oauth" in table.stdout
    assert "https://new.example.test/gitlab/users/auth/openid_connect/callback" in table.stdout

    # A dry run changes nothing.
    dry = stack.cli("sso", "fix", "--all", "--dry-run")
    assert "would set redirect URIs of grafana" in dry.stdout
    assert stack.check()[0] == 1

    fixed = stack.cli("sso", "fix", "--all")
    assert "did set redirect URIs of grafana" in fixed.stdout
    code, report = stack.check()
    assert code == 0 and report["clean"], report
    # Secrets were not touched: the services' copies still work.
    assert stack.env_file("grafana")["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] == GRAFANA_SECRET

    wait_for_authorize(stack, "grafana", "https://new.example.test/grafana/login/generic_oauth")
    token = stack.code_flow("grafana", GRAFANA_SECRET, "https://new.example.test/grafana/login/generic_oauth")
    assert token["token_type"].lower() == "bearer" and token["id_token"]
    # The old redirect URI is gone.
    r = requests.get(f"{stack.base}/application/o/authorize/", allow_redirects=False, params={
        "client_id": "grafana", "response_type": "code", "scope": "openid",
        "redirect_uri": "https://old.example.test/grafana/login/generic_oauth"})
    assert r.status_code == 400

    # Idempotent: a second fix changes nothing, not even an event.
    before = len(stack.events("model_updated"))
    again = stack.cli("sso", "fix", "--all")
    assert again.stdout.strip() == "nothing to repair"
    assert len(stack.events("model_updated")) == before

def test_corrupted_client_secret_is_named_rotated_and_written_back(stack: Stack):
    stack.cli("sso", "fix", "--all")  # the initial trust file
    path = stack.root / "grafana" / "grafana.env"
    text = path.read_text().replace(GRAFANA_SECRET, "corrupted-secret")
    path.write_text(text)
    os.chmod(path, 0o640)
    r = stack.token_request("grafana", "corrupted-secret")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"

    code, report = stack.check("grafana")
    assert code == 1
    assert set(drifts(report, "grafana")) == {"client_secret"}
    assert [s["service"] for s in report["services"]] == ["grafana"]
    # Other services are clean.
    assert stack.check("gitlab")[0] == 0

    out = stack.cli("--json", "sso", "fix", "grafana")
    kinds = [r["kind"] for r in json.loads(out.stdout)["repairs"]]
    assert "client_secret" in kinds
    new = stack.env_file("grafana")["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]
    assert new not in ("corrupted-secret", GRAFANA_SECRET) and len(new) >= 32
    # Atomic rewrite: other lines kept, permissions preserved, previous file as .bak.
    assert "GF_SERVER_ROOT_URL=https://old.example.test/grafana" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    backup = stack.root / "grafana" / "grafana.env.bak"
    assert "corrupted-secret" in backup.read_text()
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o640
    # Each repair is an event; the secret is in none.
    assert stack.events("secret_rotate")
    fix_events = stack.events("sso_fix")
    assert any(e["context"].get("keys") == ["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] for e in fix_events)
    assert new not in json.dumps(fix_events)

    assert stack.check()[0] == 0
    r = stack.token_request("grafana", "corrupted-secret")
    assert r.json()["error"] == "invalid_client"
    # The server sees the change within its change-feed poll (250 ms on SQLite).
    deadline = time.time() + 5
    while (r := stack.token_request("grafana", new)).json()["error"] == "invalid_client" and time.time() < deadline:
        time.sleep(0.1)
    assert r.json()["error"] == "invalid_grant"  # the client authenticated; the code is bogus
    token = stack.code_flow("grafana", new, "https://old.example.test/grafana/login/generic_oauth")
    assert token["access_token"]
    assert stack.cli("sso", "fix", "grafana").stdout.strip() == "nothing to repair"

def test_key_rotation_is_trust_drift(stack: Stack):
    stack.cli("sso", "fix", "--all")
    assert stack.check()[0] == 0
    stack.cli("key", "rotate", "--activate-in", "0s")
    code, report = stack.check("grafana")
    assert code == 1 and "trust" in drifts(report, "grafana")
    stack.cli("sso", "fix", "grafana")
    assert stack.check()[0] == 0
    served = {k["kid"] for k in requests.get(f"{stack.base}/application/o/grafana/jwks/").json()["keys"]}
    stored = {k["kid"] for k in json.loads((stack.root / "grafana" / "jwks.json").read_text())["keys"]}
    assert served <= stored

def test_missing_application_and_groups_are_created(stack: Stack):
    with open(stack.root / "stack.yaml", "a") as f:
        f.write("""  - name: notes
    sso:
      type: oidc
      redirect_uris: ["https://${ASD_TUNNEL_HOST}/notes/callback"]
      client: {env_file: notes/notes.env, client_id_key: NOTES_CLIENT_ID, client_secret_key: NOTES_CLIENT_SECRET}
      groups: [notes-editors]
""")
    code, report = stack.check("notes")
    assert code == 1 and set(drifts(report, "notes")) == {"application_missing", "groups_missing"}
    stack.cli("sso", "fix", "notes")
    env = (stack.root / "notes" / "notes.env").read_text()
    assert "NOTES_CLIENT_ID=notes" in env
    secret = [l.split("=", 1)[1] for l in env.splitlines() if l.startswith("NOTES_CLIENT_SECRET=")][0]
    assert stat.S_IMODE(os.stat(stack.root / "notes" / "notes.env").st_mode) == 0o600
    assert stack.check("notes")[0] == 0
    wait_for_authorize(stack, "notes", "https://old.example.test/notes/callback")
    token = stack.code_flow("notes", secret, "https://old.example.test/notes/callback")
    assert token["id_token"]

def test_broken_manifest_exits_2(stack: Stack):
    (stack.root / "stack.yaml").write_text(MANIFEST.replace("${ASD_TUNNEL_HOST}", "${UNSET_VARIABLE_X}"))
    r = stack.cli("sso", "check", check=False)
    assert r.returncode == 2
    assert "UNSET_VARIABLE_X" in r.stderr and "stack.yaml" in r.stderr
    (stack.root / "stack.yaml").write_text("services:\n  - name: x\n    sso: {type: oidc, bogus: 1}\n")
    r = stack.cli("sso", "check", check=False)
    assert r.returncode == 2 and "stack.yaml:2" in r.stderr
    r = stack.cli("sso", "check", "--manifest", str(stack.inst.dir / "nope.yaml"), check=False)
    assert r.returncode == 2

def test_just_recipes(stack: Stack):
    """`just sso-check`, `sso-fix SVC` and `sso-fix-all` call the binary and keep its exit status."""
    import shutil
    import subprocess
    from pathlib import Path
    from conftest import BIN
    just = os.environ.get("GATEHOUSE_TEST_JUST") or shutil.which("just") or str(Path(__file__).parents[2] / ".venv/bin/just")
    if not Path(just).exists() and not shutil.which(just):
        assert "CI" not in os.environ, "`just` is missing: scripts/test installs it"
        pytest.skip("just not installed")
    justfile = Path(__file__).parents[2] / "justfile"
    env = stack.inst.env(GATEHOUSE_BIN=str(BIN), GATEHOUSE_STACK_FILE=str(stack.root / "stack.yaml"),
                         GATEHOUSE_EXTERNAL_URL=stack.base)

    def run(*args):
        return subprocess.run([just, "--justfile", str(justfile), "--working-directory", str(stack.inst.dir), *args],
                              env=env, capture_output=True, text=True)

    assert run("sso-check").returncode == 1  # the trust file is not there yet
    r = run("sso-fix", "grafana", "--dry-run")
    assert r.returncode == 0 and "would write the current JWKS" in r.stdout
    assert run("sso-fix-all").returncode == 0
    r = run("sso-check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "grafana" in r.stdout and "ok" in r.stdout
