"""The one gate, path by path: every way Gatehouse issues a credential refuses
(or steps up) a password-only session for an application that requires MFA,
refuses a person outside the application's bound groups, and issues when
neither holds. One table, one server, clients written by others (Authlib,
python3-saml, ldap3): OIDC authorize, refresh and device confirmation, SAML
SSO initiated by the service provider and by Gatehouse, the forward-auth
hand-off and check, and LDAP bind.

For the paths that hold a credential already (refresh, the forward-auth
check) the condition is set after the credential was issued: each path must
ask the gate itself rather than trust an earlier step."""

import json
import time
from urllib.parse import parse_qs, urlparse

import ldap3
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from conftest import Installation, WebClient, free_port
from oidc_support import REDIRECT
from saml_support import ACS, SLS, SamlEnv, sp_entity, sp_keypair

PASSWORD = "Gate-Table-Pass-2026"
ISSUED, STEP_UP, REFUSED = "issued", "stepped up", "refused"
CONDITIONS = ["control", "mfa_required", "outside_groups"]

class Env:
    def __init__(self):
        self.inst = Installation()
        for name in ("alice", "bob"):
            self.inst.cli("user", "create", name, f"{name}@example.com", name.title())
            self.inst.cli("user", "password", name, "--stdin", input=PASSWORD + "\n")
        self.inst.cli("group", "create", "staff")
        self.inst.cli("group", "add", "staff", "alice")
        self.ldap_port = free_port()
        self.server = self.inst.server(GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{self.ldap_port}")
        self.base = self.server.url
        self.saml = SamlEnv.__new__(SamlEnv)  # its helpers, on this server
        self.saml.inst, self.saml.server = self.inst, self.server
        self.saml.sp_key, self.saml.sp_cert = sp_keypair()

    def cli(self, *args: str) -> str:
        return self.inst.cli(*args).stdout

    @staticmethod
    def settle() -> None:
        """Changes made with the CLI reach the server's caches through the
        change feed (SQLite: a poll every 250 ms)."""
        time.sleep(1.0)

    def app(self, slug: str, condition: str, *create: str) -> str:
        """An application bound to `staff`; with `mfa_required` the policy requires MFA for it."""
        self.cli("app", "create", slug, "--name", slug, *create)
        self.cli("app", "bind", slug, "staff")
        if condition == "mfa_required":
            self.cli("policy", "mfa", "require-app", slug)
        return slug

    def after(self, slug: str, condition: str) -> None:
        """Applies `condition` to an application whose credential was already issued to alice."""
        if condition == "mfa_required":
            self.cli("policy", "mfa", "require-app", slug)
        elif condition == "outside_groups":
            self.cli("group", "create", f"only-{slug}")
            self.cli("app", "unbind", slug, "staff")
            self.cli("app", "bind", slug, f"only-{slug}")
        self.settle()

    def web(self, username: str) -> WebClient:
        web = WebClient(self.base)
        assert web.sign_in(username, PASSWORD).status_code == 303
        return web

@pytest.fixture(scope="module")
def env():
    e = Env()
    yield e
    e.inst.close()

def who(condition: str) -> str:
    """alice is in `staff`, bob is not."""
    return "bob" if condition == "outside_groups" else "alice"

def page_outcome(r: requests.Response, issued) -> str:
    """What a browser-facing step answered: the step-up page, a refusal, or `issued(r)`."""
    loc = r.headers.get("Location", "")
    if r.status_code in (302, 303) and loc.startswith("/login/mfa/step-up"):
        return STEP_UP
    if r.status_code == 403:
        return REFUSED
    return ISSUED if issued(r) else f"unexpected {r.status_code} {loc} {r.text[:200]}"

def oidc_app(env: Env, slug: str, condition: str | None, *extra: str) -> dict:
    out = env.cli("--json", "app", "create", slug, "--name", slug, "--provider", "oidc", "--redirect-uri", REDIRECT, *extra)
    env.cli("app", "bind", slug, "staff")
    if condition == "mfa_required":
        env.cli("policy", "mfa", "require-app", slug)
    return json.loads(out)

def oidc_authorize(env: Env, condition: str) -> str:
    c = oidc_app(env, f"oa-{condition}", condition)
    oauth = OAuth2Session(c["client_id"], c["client_secret"], scope="openid", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
    uri, _ = oauth.create_authorization_url(f"{env.base}/application/o/authorize/", code_verifier="v" * 48)
    r = env.web(who(condition)).http.get(uri, allow_redirects=False)
    return page_outcome(r, lambda r: r.headers.get("Location", "").startswith(REDIRECT + "?code="))

def oidc_refresh(env: Env, condition: str) -> str:
    slug = f"or-{condition}"
    c = oidc_app(env, slug, None)
    oauth = OAuth2Session(c["client_id"], c["client_secret"], scope="openid offline_access",
                          redirect_uri=REDIRECT, code_challenge_method="S256")
    uri, _ = oauth.create_authorization_url(f"{env.base}/application/o/authorize/", code_verifier="v" * 48)
    r = env.web("alice").http.get(uri, allow_redirects=False)
    token = oauth.fetch_token(f"{env.base}/application/o/token/", authorization_response=r.headers["Location"],
                              code_verifier="v" * 48)
    env.after(slug, condition)
    r = requests.post(f"{env.base}/application/o/token/", auth=(c["client_id"], c["client_secret"]),
                      data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    if r.status_code == 200 and "access_token" in r.json():
        return ISSUED
    return REFUSED if r.json().get("error") == "invalid_grant" else f"unexpected {r.status_code} {r.text}"

def oidc_device(env: Env, condition: str) -> str:
    c = oidc_app(env, f"od-{condition}", condition, "--device-flow", "on")
    start = requests.post(f"{env.base}/application/o/device/", auth=(c["client_id"], c["client_secret"]),
                          data={"scope": "openid"}).json()
    web = env.web(who(condition))
    page = web.http.get(f"{env.base}/device")
    r = web.http.post(f"{env.base}/device", data={"user_code": start["user_code"], "csrf_token": web.csrf(page.text)},
                      allow_redirects=False)
    if r.status_code != 200:
        return page_outcome(r, lambda _: False)
    r = web.http.post(f"{env.base}/device/confirm", allow_redirects=False, data={
        "user_code": start["user_code"], "csrf_token": web.csrf(r.text), "decision": "allow"})
    return page_outcome(r, lambda r: r.status_code == 200 and "Device connected" in r.text)

def saml_app(env: Env, slug: str, condition: str) -> str:
    return env.app(slug, condition, "--provider", "saml", "--acs-url", ACS, "--audience", sp_entity(slug),
                   "--slo-url", SLS)

def saml_continue(env: Env, web: WebClient, r: requests.Response) -> str:
    """Follows Gatehouse's own redirects (parking, continue) to the answer."""
    for _ in range(5):
        loc = r.headers.get("Location", "")
        if r.status_code not in (302, 303) or loc.startswith("/login/mfa/step-up"):
            break
        r = web.http.get(loc if loc.startswith("http") else env.base + loc, allow_redirects=False)
    return page_outcome(r, lambda r: r.status_code == 200 and 'name="SAMLResponse"' in r.text)

def saml_sp_initiated(env: Env, condition: str) -> str:
    slug = saml_app(env, f"ss-{condition}", condition)
    settings = env.saml.settings(slug)
    auth = OneLogin_Saml2_Auth(SamlEnv.request_data("/login"), old_settings=settings)
    web = env.web(who(condition))
    r = web.http.get(auth.login(), allow_redirects=False)
    return saml_continue(env, web, r)

def saml_idp_initiated(env: Env, condition: str) -> str:
    slug = saml_app(env, f"si-{condition}", condition)
    web = env.web(who(condition))
    r = web.http.get(f"{env.base}/application/saml/{slug}/sso/binding/init/", allow_redirects=False)
    return saml_continue(env, web, r)

def proxy_app(env: Env, slug: str, condition: str | None) -> str:
    env.cli("app", "create", slug, "--name", slug, "--provider", "proxy", "--external-host", f"http://{slug}.test")
    env.cli("app", "bind", slug, "staff")
    if condition == "mfa_required":
        env.cli("policy", "mfa", "require-app", slug)
    env.settle()
    return f"{slug}.test"

def hand_off(env: Env, web: WebClient, host: str) -> requests.Response:
    """`/start` on the protected host (proxied to us), then Gatehouse's hand-off page."""
    start = requests.get(f"{env.base}/outpost.goauthentik.io/start", params={"rd": f"http://{host}/"},
                         headers={"Host": host}, allow_redirects=False)
    assert start.status_code == 302, start.text
    state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
    r = web.http.get(f"{env.base}/application/proxy/authorize/", params={"state": state}, allow_redirects=False)
    r.state_cookie = start.cookies
    return r

def proxy_handoff(env: Env, condition: str) -> str:
    host = proxy_app(env, f"ph-{condition}", condition)
    r = hand_off(env, env.web(who(condition)), host)
    return page_outcome(r, lambda r: "/outpost.goauthentik.io/callback?code=" in r.headers.get("Location", ""))

def proxy_check(env: Env, condition: str) -> str:
    slug = f"pc-{condition}"
    host = proxy_app(env, slug, None)
    r = hand_off(env, env.web("alice"), host)
    callback = urlparse(r.headers["Location"])
    done = requests.get(f"{env.base}{callback.path}?{callback.query}", headers={"Host": host},
                        cookies=r.state_cookie, allow_redirects=False)
    assert done.status_code == 302, done.text
    env.after(slug, condition)

    # What nginx forwards: the browser's cookies for the protected host.
    cookie = "; ".join(f"{c.name}={c.value}" for c in done.cookies)

    def check() -> int:
        return requests.get(f"{env.base}/outpost.goauthentik.io/auth/nginx",
                            headers={"X-Original-URL": f"http://{host}/", "Cookie": cookie}).status_code

    status = check()
    return {200: ISSUED, 401: REFUSED, 403: REFUSED}.get(status, f"unexpected {status}")

def ldap_bind(env: Env, condition: str) -> str:
    slug = f"lb-{condition}".replace("_", "-")
    base = f"dc={slug},dc=example"
    env.app(slug, condition, "--provider", "ldap", "--base-dn", base)
    env.settle()
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=env.ldap_port, get_info=ldap3.NONE),
                            f"cn={who(condition)},ou=users,{base}", PASSWORD)
    return ISSUED if conn.bind() else REFUSED

PATHS = {
    "oidc authorize": (oidc_authorize, STEP_UP),
    "oidc refresh": (oidc_refresh, REFUSED),
    "oidc device confirmation": (oidc_device, STEP_UP),
    "saml sso, sp-initiated": (saml_sp_initiated, STEP_UP),
    "saml sso, idp-initiated": (saml_idp_initiated, STEP_UP),
    "forward-auth hand-off": (proxy_handoff, STEP_UP),
    "forward-auth check": (proxy_check, REFUSED),
    "ldap bind": (ldap_bind, REFUSED),
}

@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("path", list(PATHS))
def test_every_issuing_path_asks_the_gate(env, path, condition):
    attempt, without_mfa = PATHS[path]
    expected = {"control": ISSUED, "mfa_required": without_mfa, "outside_groups": REFUSED}[condition]
    assert attempt(env, condition) == expected

def test_group_mfa_reaches_existing_proxy_sessions(env):
    """Issue 13, finding 8: putting someone in a group the MFA policy covers
    steps up the proxy sessions they already hold (the check asks the gate on
    every miss, and the policy's groups are part of its snapshot)."""
    slug = "pc-group-mfa"
    host = proxy_app(env, slug, None)
    r = hand_off(env, env.web("alice"), host)
    callback = urlparse(r.headers["Location"])
    done = requests.get(f"{env.base}{callback.path}?{callback.query}", headers={"Host": host},
                        cookies=r.state_cookie, allow_redirects=False)
    cookie = "; ".join(f"{c.name}={c.value}" for c in done.cookies)

    def check() -> int:
        return requests.get(f"{env.base}/outpost.goauthentik.io/auth/nginx",
                            headers={"X-Original-URL": f"http://{host}/", "Cookie": cookie}).status_code

    assert check() == 200
    env.cli("group", "create", "mfa-people")
    env.cli("policy", "mfa", "set", "groups", "--group", "admins", "--group", "mfa-people")
    try:
        env.cli("group", "add", "mfa-people", "alice")
        env.settle()
        assert check() == 401, "a password-only proxy session passed where the policy now wants MFA"
    finally:
        env.cli("policy", "mfa", "set", "groups", "--group", "admins")
        env.cli("group", "remove", "mfa-people", "alice")
