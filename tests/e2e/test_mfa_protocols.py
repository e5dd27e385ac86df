"""MFA and the protocols: an OIDC ID token after MFA carries the right `amr`
(Authlib as the client), and applications that require MFA step a
password-only session up instead of refusing it (OIDC authorize, the OIDC
device flow, and forward-auth behind real nginx)."""

import html
import json
import re
import time
import warnings
from urllib.parse import urljoin

import pyotp
import requests

from conftest import WebClient, free_port
from oidc_support import PASSWORD, REDIRECT, OidcEnv
from proxy_helpers import Person, localtest_dns, nginx
from upstream import Upstream

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
    from authlib.oidc.core import CodeIDToken

SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')
CSRF = WebClient.CSRF

def id_token_claims(env: OidcEnv, slug: str, client_id: str, token: dict, nonce: str) -> dict:
    keys = JsonWebKey.import_key_set(requests.get(env.url(f"/application/o/{slug}/jwks/")).json())
    claims = authlib_jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"value": env.url(f"/application/o/{slug}/")}, "aud": {"value": client_id}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate()
    return dict(claims)

def follow_local(http: requests.Session, base: str, r: requests.Response, stop) -> requests.Response:
    """Follows local redirects until `stop(location)` or a page."""
    for _ in range(10):
        if r.status_code not in (302, 303):
            return r
        loc = r.headers["Location"]
        if stop(loc):
            return r
        r = http.get(urljoin(base + "/", loc), allow_redirects=False)
    return r

def test_oidc_step_up_enrols_and_id_token_carries_amr(sqlite_install):
    env = OidcEnv(sqlite_install)
    created = env.app("vault")
    client_id, client_secret = created["client_id"], created["client_secret"]
    env.cli("policy", "mfa", "require-app", "vault")
    assert "vault" in env.cli("policy", "mfa", "show").stdout

    # bob (no MFA) signs in with his password: a password-only session.
    web = WebClient(env.base)
    r = web.sign_in("bob", PASSWORD)
    assert r.status_code == 303 and r.headers["Location"] == "/if/user/"
    oauth = env.session_for(client_id, client_secret, scope="openid profile")
    uri, state, verifier = env.authorize_url(oauth, nonce="n-0S6_WzA2Mj")

    # The application requires MFA: stepped up (here: enrolment), not refused.
    r = web.http.get(uri, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login/mfa/step-up?next=/application/o/authorize/"), r.headers
    r = follow_local(web.http, env.base, r, lambda loc: False)
    assert r.url.endswith("/login/mfa/enrol"), r.url
    secret = SECRET.search(r.text).group(1)
    pending = re.search(r'name="pending" value="([^"]+)"', r.text).group(1)
    r = web.http.post(env.url("/login/mfa/enrol"), data={
        "csrf_token": CSRF.search(r.text).group(1), "pending": pending, "name": "Phone", "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and "Your recovery codes" in r.text, r.text[:400]
    back = html.unescape(re.search(r'href="(/application/o/authorize/[^"]+)"', r.text).group(1))
    r = web.http.get(env.url(back), allow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["Location"].startswith(REDIRECT), (r.status_code, r.headers, r.text[:300])
    token = oauth.fetch_token(env.token_url, authorization_response=r.headers["Location"], code_verifier=verifier)
    claims = id_token_claims(env, "vault", client_id, token, "n-0S6_WzA2Mj")
    assert claims["amr"] == ["pwd", "otp", "mfa"], claims
    # The step-up replaced the password-only session.
    sessions = json.loads(env.cli("session", "list", "--json").stdout)
    assert [s["amr"] for s in sessions if s["username"] == "bob"] == [["pwd", "otp", "mfa"]]

    # A fresh sign-in with the authenticator: password, code, and the same amr.
    web2 = WebClient(env.base)
    r = web2.sign_in("bob", PASSWORD, next="/if/user/")
    assert r.status_code == 303 and r.headers["Location"] == "/login/mfa"
    page = web2.http.get(env.url("/login/mfa"))
    time.sleep(30 - time.time() % 30 + 0.5)  # a step later than enrolment's
    r = web2.http.post(env.url("/login/mfa"), data={"csrf_token": CSRF.search(page.text).group(1), "code": pyotp.TOTP(secret).now()},
                       allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/if/user/", r.text[:300]
    token, _cb, _v, _w = env.code_flow(env.session_for(client_id, client_secret, scope="openid"), web=web2, username="bob", nonce="abc")
    claims = id_token_claims(env, "vault", client_id, token, "abc")
    assert claims["amr"] == ["pwd", "otp", "mfa"], claims

    # An application without the requirement takes a password-only session as it is.
    plain = env.app("notes")
    web3 = WebClient(env.base)
    env.cli("policy", "mfa", "unrequire-app", "vault")
    env.cli("user", "mfa", "reset", "bob")
    r = web3.sign_in("bob", PASSWORD)
    assert r.headers["Location"] == "/if/user/"
    token, _cb, _v, _w = env.code_flow(env.session_for(plain["client_id"], plain["client_secret"], scope="openid"), web=web3, username="bob", nonce="xyz")
    assert id_token_claims(env, "notes", plain["client_id"], token, "xyz")["amr"] == ["pwd"]

def test_device_flow_steps_up_where_the_application_requires_mfa(sqlite_install):
    # Issue 13, finding 1: the device confirmation issued tokens with amr ["pwd"].
    env = OidcEnv(sqlite_install)
    env.app("cli", "--device-flow", "on", public=True)
    env.cli("policy", "mfa", "require-app", "cli")
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    d = requests.post(env.url("/application/o/device/"), data={"client_id": "cli", "scope": "openid"}).json()

    web = WebClient(env.base)
    assert web.sign_in("bob", PASSWORD).headers["Location"] == "/if/user/"
    page = web.http.get(env.url("/device"))
    r = web.http.post(env.url("/device"), data={"user_code": d["user_code"], "csrf_token": CSRF.search(page.text).group(1)},
                      allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login/mfa/step-up?next=/device"), r.headers
    # Posting the approval without the page is stepped up too; nothing is issued.
    r2 = web.http.post(env.url("/device/confirm"), data={"user_code": d["user_code"], "decision": "allow",
                                                         "csrf_token": CSRF.search(page.text).group(1)}, allow_redirects=False)
    assert r2.status_code == 303 and r2.headers["Location"].startswith("/login/mfa/step-up"), r2.headers
    poll = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": "cli"})
    assert poll.json()["error"] == "authorization_pending", poll.text

    # The step-up (here: enrolment) leads back to the code form; then it works, with mfa.
    r = follow_local(web.http, env.base, r, lambda loc: False)
    assert r.url.endswith("/login/mfa/enrol"), r.url
    secret = SECRET.search(r.text).group(1)
    pending = re.search(r'name="pending" value="([^"]+)"', r.text).group(1)
    r = web.http.post(env.url("/login/mfa/enrol"), data={
        "csrf_token": CSRF.search(r.text).group(1), "pending": pending, "name": "Phone", "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and "Your recovery codes" in r.text, r.text[:400]
    back = html.unescape(re.search(r'href="(/device[^"]*)"', r.text).group(1))
    page = web.http.get(env.url(back))
    assert d["user_code"] in page.text
    confirm = web.http.post(env.url("/device"), data={"user_code": d["user_code"], "csrf_token": CSRF.search(page.text).group(1)})
    assert "/device/confirm" in confirm.text, confirm.text[:300]
    done = web.http.post(env.url("/device/confirm"), data={"user_code": d["user_code"], "decision": "allow",
                                                           "csrf_token": CSRF.search(confirm.text).group(1)})
    assert "connected" in done.text
    env.advance(6)
    tok = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": "cli"})
    assert tok.status_code == 200, tok.text
    assert env.verify(tok.json()["id_token"], "cli", "RS256")["amr"] == ["pwd", "otp", "mfa"]

def test_forward_auth_app_requiring_mfa_steps_a_password_session_up(sqlite_install):
    inst = sqlite_install
    port = free_port()
    host = f"wiki.localtest:{port}"
    inst.user("alice", PASSWORD)
    inst.cli("app", "create", "wiki", "--name", "Wiki", "--provider", "proxy", "--external-host", f"http://{host}")
    gh = inst.server()
    upstream = Upstream()
    proxy = nginx(int(gh.url.rsplit(":", 1)[1]), upstream.port, "wiki.localtest", port=port)
    try:
        with localtest_dns():
            person = Person(gh.url)
            web = WebClient(gh.url)
            web.http = person.http
            # Password-only session, then an authenticator added in the portal (session unchanged).
            assert web.sign_in("alice", PASSWORD).headers["Location"] == "/if/user/"
            page = person.http.get(f"{gh.url}/if/user/security/totp")
            secret = SECRET.search(page.text).group(1)
            pending = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
            r = person.http.post(f"{gh.url}/if/user/security/totp", data={
                "csrf_token": CSRF.search(page.text).group(1), "pending": pending, "name": "Phone", "code": pyotp.TOTP(secret).now()})
            assert "Your recovery codes" in r.text

            # Before the application requires MFA, the password session opens it.
            original = f"http://{host}/docs/?x=1"
            r = person.http.get(original)
            assert r.status_code == 200 and r.url == original, r.url

            # Then it does: the same proxy session is sent through sign-in again,
            # nginx → /start → hand-off → step-up asks for the code.
            inst.cli("policy", "mfa", "require-app", "wiki")
            time.sleep(1.5)  # the change feed flushes cached decisions (SQLite polls every 250 ms)
            r = person.http.get(original)
            assert r.url.startswith(f"{gh.url}/login/mfa"), [h.headers.get("Location") for h in r.history] + [r.url]
            assert any("/login/mfa/step-up?next=/application/proxy/authorize/" in (h.headers.get("Location") or "") for h in r.history)
            assert "Verify it’s you" in r.text
            time.sleep(30 - time.time() % 30 + 0.5)  # a step later than enrolment's
            r = person.http.post(f"{gh.url}/login/mfa", data={"csrf_token": CSRF.search(r.text).group(1), "code": pyotp.TOTP(secret).now()})
            assert r.status_code == 200 and r.url == original, (r.status_code, r.url, r.text[:300])
            assert r.json()["path"] == "/docs/?x=1"
            assert r.json()["headers"]["x-authentik-username"] == ["alice"]
    finally:
        proxy.close()
        upstream.close()
