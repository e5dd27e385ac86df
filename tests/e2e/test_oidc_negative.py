"""What an OIDC provider must refuse, and how (RFC 6749/6750/7636/8628, OIDC
Core, RP-initiated logout): never redirect on a bad client or redirect URI,
spent or expired codes, wrong PKCE verifiers, plain PKCE, wrong secrets, people
outside the bound groups, open redirects after logout, malformed requests, the
device grant for a client that did not opt in, guessed device codes, and
tokens of people the access rule no longer lets in."""

import time

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import Installation, WebClient
from oidc_support import LOGOUT_REDIRECT, PASSWORD, REDIRECT, OidcEnv, callback_params

@pytest.fixture(scope="module")
def env():
    inst = Installation()
    e = OidcEnv(inst)
    e.confidential = e.app("wiki")
    e.cli("app", "bind", "wiki", "staff")
    e.public = e.app("spa", public=True)
    e.explicit = e.app("nosy", "--consent", "explicit")
    yield e
    inst.close()

def authorize(env, web=None, **params):
    web = web or WebClient(env.base)
    base = {"client_id": "wiki", "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid", "state": "s1"}
    base.update(params)
    base = {k: v for k, v in base.items() if v is not None}
    return web.http.get(env.url("/application/o/authorize/"), params=base, allow_redirects=False), web

def signed_in(env, user="alice"):
    web = WebClient(env.base)
    r = web.sign_in(user, PASSWORD)
    assert r.status_code == 303
    return web

def test_unknown_client_and_unregistered_redirect_never_redirect(env):
    web = signed_in(env)
    for params in (
        {"client_id": "no-such-client"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT + "/extra"},
        {"redirect_uri": REDIRECT + "?x=1"},
    ):
        r, _ = authorize(env, web, **params)
        assert r.status_code == 400, params
        assert "Location" not in r.headers
        assert "evil.example" not in r.text or "registered" in r.text

def test_errors_after_the_redirect_is_known_go_back_with_state(env):
    web = signed_in(env)
    r, _ = authorize(env, web, response_type="token")
    loc = r.headers["Location"]
    assert loc.startswith(REDIRECT)
    q = callback_params(loc)
    assert q["error"] == "unsupported_response_type" and q["state"] == "s1" and q["iss"]
    # PKCE plain is refused by default.
    r, _ = authorize(env, web, code_challenge="a" * 43, code_challenge_method="plain")
    assert callback_params(r.headers["Location"])["error"] == "invalid_request"
    # A public client must use PKCE.
    r, _ = authorize(env, web, client_id="spa")
    assert callback_params(r.headers["Location"])["error"] == "invalid_request"
    # Parameters twice: invalid_request (RFC 6749 §3.1), as a page (which one is meant?).
    dup = web.http.get(env.url("/application/o/authorize/?client_id=wiki&client_id=spa"), allow_redirects=False)
    assert dup.status_code == 400 and "Location" not in dup.headers

def test_prompt_none_login_and_max_age(env):
    r, _ = authorize(env, prompt="none")
    assert callback_params(r.headers["Location"])["error"] == "login_required"
    web = signed_in(env)
    r, _ = authorize(env, web, prompt="login")
    assert r.headers["Location"].startswith("/login?next=") and r.headers["Location"].endswith("&force=1")
    page = web.http.get(env.url(r.headers["Location"]))
    assert 'name="identifier"' in page.text, "a live session does not skip the forced sign-in"
    r, _ = authorize(env, web, max_age="0")
    env.advance(2)
    r, _ = authorize(env, web, max_age="1")
    assert r.headers["Location"].startswith("/login?next="), "older than max_age"

def exchange(env, code, verifier=None, redirect_uri=REDIRECT, app=None):
    app = app or env.confidential
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(env.token_url, data=data, auth=(app["client_id"], app["client_secret"]))

def test_replayed_code_revokes_what_it_issued(env):
    oauth = env.session_for("wiki", env.confidential["client_secret"], scope="openid offline_access")
    token, callback, verifier, _ = env.code_flow(oauth)
    code = callback_params(callback)["code"]
    replay = exchange(env, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    info = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 401
    refresh = requests.post(env.token_url, data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                            auth=("wiki", env.confidential["client_secret"]))
    assert refresh.status_code == 400
    assert any(e["context"]["reason"] == "authorization code replay" for e in env.events("suspicious_request"))

def test_wrong_verifier_expired_code_and_wrong_redirect(env):
    oauth = env.session_for("wiki", env.confidential["client_secret"], scope="openid")
    web = signed_in(env)
    for case in ("verifier", "expired", "redirect", "secret"):
        uri, _, verifier = env.authorize_url(oauth)
        r = env.browse(web, uri)
        code = callback_params(r.headers["Location"])["code"]
        if case == "verifier":
            bad = exchange(env, code, "x" * 43)
            assert bad.json()["error"] == "invalid_grant", bad.text
        elif case == "expired":
            env.advance(120)
            bad = exchange(env, code, verifier)
            assert bad.json()["error"] == "invalid_grant" and "expired" in bad.json()["error_description"]
        elif case == "redirect":
            bad = exchange(env, code, verifier, redirect_uri=REDIRECT + "2")
            assert bad.json()["error"] == "invalid_grant"
        else:
            bad = requests.post(env.token_url, data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                                     "code_verifier": verifier}, auth=("wiki", "wrong"))
            assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Basic")
            # Nothing happened: the code still works for the right client.
            assert exchange(env, code, verifier).status_code == 200

def test_user_outside_the_bound_groups_gets_no_access(env):
    before = len([e for e in env.events("authorize_application") if e.get("user") == "bob"])
    web = signed_in(env, "bob")
    r, _ = authorize(env, web)
    assert r.status_code == 403 and "No access" in r.text
    assert "Location" not in r.headers
    after = len([e for e in env.events("authorize_application") if e.get("user") == "bob"])
    assert after == before

def test_explicit_consent_is_asked_remembered_and_withdrawable(env):
    app = env.explicit
    oauth = env.session_for(app["client_id"], app["client_secret"], scope="openid email offline_access")
    web = signed_in(env)
    uri, _, verifier = env.authorize_url(oauth)
    page = env.browse(web, uri)
    assert page.status_code == 200 and "Allow" in page.text and "Nosy" in page.text
    # Deny: access_denied back to the client.
    form = dict(__import__("re").findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    denied = web.http.post(env.url("/application/o/authorize/"), data={**form, "gh_consent": "deny"}, allow_redirects=False)
    assert callback_params(denied.headers["Location"])["error"] == "access_denied"
    # Allow.
    allowed = web.http.post(env.url("/application/o/authorize/"), data={**form, "gh_consent": "allow"}, allow_redirects=False)
    import html

    code = callback_params(html.unescape(allowed.headers["Location"]))["code"]
    tok = exchange(env, code, verifier, app=app)
    assert tok.status_code == 200, tok.text
    # Remembered: no page the second time.
    uri, _, _ = env.authorize_url(oauth)
    again = env.browse(web, uri)
    assert again.status_code in (302, 303) and again.headers["Location"].startswith(REDIRECT)
    # Withdrawn in the portal: the refresh token dies, and consent is asked again.
    portal = web.http.get(env.url("/if/user/consents/"))
    assert "Nosy" in portal.text
    w = web.http.post(env.url("/if/user/consents/withdraw"), data={"slug": "nosy", "csrf_token": web.csrf(portal.text)},
                      allow_redirects=False)
    assert w.status_code == 303
    dead = requests.post(env.token_url, data={"grant_type": "refresh_token", "refresh_token": tok.json()["refresh_token"]},
                         auth=(app["client_id"], app["client_secret"]))
    assert dead.status_code == 400
    uri, _, _ = env.authorize_url(oauth)
    assert env.browse(web, uri).status_code == 200

def test_end_session_refuses_open_redirects(env):
    oauth = env.session_for("wiki", env.confidential["client_secret"], scope="openid")
    token, _, _, web = env.code_flow(oauth)
    end = env.url("/application/o/wiki/end-session/")
    for evil in ("https://evil.example/", LOGOUT_REDIRECT + ".evil.example", "//evil.example", LOGOUT_REDIRECT + "/../x"):
        r = web.http.get(end, params={"post_logout_redirect_uri": evil, "id_token_hint": token["id_token"]}, allow_redirects=False)
        assert r.status_code == 400 and "Location" not in r.headers, evil
    assert web.signed_in(), "a refused request signs nobody out"
    # Without a hint the person confirms first.
    r = web.http.get(end, params={"post_logout_redirect_uri": LOGOUT_REDIRECT, "state": "bye"}, allow_redirects=False)
    assert r.status_code == 200 and "Sign out" in r.text and web.signed_in()
    # With the hint: signed out at once, back to the registered URI with state.
    r = web.http.get(end, params={"post_logout_redirect_uri": LOGOUT_REDIRECT, "state": "bye", "id_token_hint": token["id_token"]},
                     allow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["Location"] == LOGOUT_REDIRECT + "?state=bye"
    assert not web.signed_in()

def test_malformed_token_requests_change_nothing(env):
    app = env.confidential
    auth = (app["client_id"], app["client_secret"])
    assert requests.post(env.token_url, json={"grant_type": "client_credentials"}, auth=auth).status_code == 400
    dup = requests.post(env.token_url, data="grant_type=client_credentials&grant_type=password",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, auth=auth)
    assert dup.status_code == 400 and dup.json()["error"] == "invalid_request"
    huge = requests.post(env.token_url, data={"grant_type": "client_credentials", "pad": "x" * 100_000}, auth=auth)
    assert huge.status_code == 413
    both = requests.post(env.token_url, data={"grant_type": "client_credentials", "client_id": "wiki",
                                              "client_secret": app["client_secret"]}, auth=auth)
    assert both.status_code == 400
    assert requests.post(env.token_url, data={"grant_type": "nope"}, auth=auth).json()["error"] == "unsupported_grant_type"
    none = requests.get(env.url("/application/o/userinfo/"))
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == 'Bearer realm="gatehouse"'
    bad = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    # client_credentials tokens carry no user: userinfo says insufficient_scope.
    cc = OAuth2Session("wiki", app["client_secret"]).fetch_token(env.token_url, grant_type="client_credentials")
    r = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {cc['access_token']}"})
    assert r.status_code == 403

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

def start_device(env, client_id):
    return requests.post(env.url("/application/o/device/"), data={"client_id": client_id, "scope": "openid"})

def test_device_flow_is_opt_in_per_client(env):
    # Issue 13, finding 1: any public client could start the device flow.
    env.app("kiosk", public=True)
    r = start_device(env, "kiosk")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", r.text
    doc = requests.get(env.url("/application/o/kiosk/.well-known/openid-configuration")).json()
    assert "device_authorization_endpoint" not in doc
    assert "device flow" in env.cli("app", "show", "kiosk").stdout

    env.cli("app", "update", "kiosk", "--device-flow", "on")
    time.sleep(1.5)  # the change feed reaches the server's client cache
    r = start_device(env, "kiosk")
    assert r.status_code == 200, r.text
    device_code = r.json()["device_code"]
    env.cli("app", "update", "kiosk", "--device-flow", "off")
    time.sleep(1.5)
    assert start_device(env, "kiosk").json()["error"] == "unauthorized_client"
    poll = requests.post(env.token_url, data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": "kiosk"})
    assert poll.json()["error"] == "unauthorized_client", "a code started before it was turned off"

def test_guessed_device_codes_are_throttled_and_a_late_hit_is_denied(env):
    # Issue 13, finding 7: 300 random codes were all answered.
    env.app("console", "--device-flow", "on", public=True)
    d = start_device(env, "console").json()
    web = signed_in(env, "bob")
    page = web.http.get(env.url("/device"))
    answers = []
    for guess in ["BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "FFFF-FFFF", "GGGG-GGGG", "HHHH-HHHH"]:
        r = web.http.post(env.url("/device"), data={"user_code": guess, "csrf_token": web.csrf(page.text)})
        answers.append(r.status_code)
        time.sleep(1.1)  # past the first delays, so the count (not the delay) speaks
    assert answers[:3] == [200, 200, 200] and 429 in answers, answers
    hit = web.http.post(env.url("/device"), data={"user_code": d["user_code"], "csrf_token": web.csrf(page.text)})
    assert hit.status_code == 429 and "/device/confirm" not in hit.text
    poll = requests.post(env.token_url, data={"grant_type": DEVICE_GRANT, "device_code": d["device_code"], "client_id": "console"})
    assert poll.json()["error"] == "access_denied", "a code found by guessing is burnt"

def test_introspection_calls_a_token_dead_once_its_user_may_not_use_the_client(env):
    # Issue 13, finding 3: introspection said active where userinfo refused.
    app = env.app("ledger")
    env.cli("app", "bind", "ledger", "admins-grafana")
    env.inst.user("carol", PASSWORD)
    env.cli("group", "add", "admins-grafana", "carol")
    oauth = env.session_for(app["client_id"], app["client_secret"], scope="openid offline_access")
    token, *_ = env.code_flow(oauth, username="carol", nonce="n")
    auth = (app["client_id"], app["client_secret"])

    def active(t):
        return requests.post(env.url("/application/o/introspect/"), data={"token": t}, auth=auth).json()["active"]

    assert active(token["access_token"]) and active(token["refresh_token"])
    env.cli("group", "remove", "admins-grafana", "carol")
    time.sleep(1.5)
    assert not active(token["access_token"]) and not active(token["refresh_token"])
    info = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 401
