"""OpenID Connect against a running server, with clients written by others:
Authlib drives the code flow with PKCE through the real sign-in pages, refresh
(rotation and reuse detection), client credentials, the device flow,
revocation and introspection; jwcrypto checks every ID and access token
against the published JWKS, for RS256, ES256 and EdDSA, and again across a
key rotation."""

import base64
import json

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
import warnings

with warnings.catch_warnings():
    # authlib.jose still does the job (OIDC ID token validation); its successor
    # joserfc is a separate package.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
    from authlib.oidc.core import CodeIDToken

from conftest import WebClient
from oidc_support import LOGOUT_REDIRECT, REDIRECT, OidcEnv, callback_params

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from conftest import Installation

    inst = Installation()
    e = OidcEnv(inst)
    yield e
    inst.close()

def verify_id_token_with_authlib(env: OidcEnv, slug: str, token: dict, nonce: str, client_id: str) -> dict:
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

def test_discovery_and_jwks(env):
    env.app("disco")
    doc = requests.get(env.url("/application/o/disco/.well-known/openid-configuration")).json()
    assert doc["issuer"] == env.url("/application/o/disco/")
    assert doc["authorization_endpoint"] == env.url("/application/o/authorize/")
    assert doc["token_endpoint"] == env.url("/application/o/token/")
    assert doc["userinfo_endpoint"] == env.url("/application/o/userinfo/")
    assert doc["jwks_uri"] == env.url("/application/o/disco/jwks/")
    assert doc["end_session_endpoint"] == env.url("/application/o/disco/end-session/")
    assert "device_authorization_endpoint" not in doc, "the device grant is opt-in"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = requests.get(doc["jwks_uri"]).json()["keys"]
    assert any(k["kty"] == "RSA" and k["alg"] == "RS256" for k in keys)
    assert all("d" not in k for k in keys), "no private material"
    assert requests.get(env.url("/application/o/nope/.well-known/openid-configuration")).status_code == 404

@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_code_flow_with_pkce_tokens_verify_and_refresh_rotates(env, alg):
    slug = f"grafana-{alg.lower()}"
    app = env.app(slug, "--signing-alg", alg, "--role", "admins-grafana=admin")
    oauth = env.session_for(app["client_id"], app["client_secret"])
    token, callback, _, web = env.code_flow(oauth, nonce="n-0S6_WzA2Mj", state="st4te")
    params = callback_params(callback)
    assert params["state"] == "st4te"
    assert params["iss"] == env.url(f"/application/o/{slug}/")
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" in token and "id_token" in token

    # The ID token: signature (jwcrypto), then OIDC's own checks (Authlib).
    id_claims = env.verify(token["id_token"], slug, alg)
    assert id_claims["iss"] == env.url(f"/application/o/{slug}/")
    assert id_claims["aud"] == app["client_id"]
    assert id_claims["nonce"] == "n-0S6_WzA2Mj"
    for claim in ("sub", "exp", "iat", "auth_time", "acr", "amr", "at_hash", "sid"):
        assert claim in id_claims, claim
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["preferred_username"] == "alice"
    assert "staff" in id_claims["groups"]
    assert id_claims["roles"] == ["admin"]
    verify_id_token_with_authlib(env, slug, token, "n-0S6_WzA2Mj", app["client_id"])

    # The access token is an RFC 9068 JWT.
    header = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[0] + "=="))
    assert header["typ"] == "at+jwt" and header["alg"] == alg
    at = env.verify(token["access_token"], slug, alg)
    assert at["client_id"] == app["client_id"] and at["sub"] == id_claims["sub"]
    assert "openid" in at["scope"].split()

    info = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == id_claims["sub"]
    assert info.json()["email"] == "alice@example.com"
    posted = requests.post(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert posted.status_code == 200

    # Refresh: a new refresh token each time; the old one is spent.
    first_refresh = token["refresh_token"]
    refreshed = oauth.refresh_token(env.token_url, refresh_token=first_refresh)
    assert refreshed["refresh_token"] != first_refresh
    env.verify(refreshed["id_token"], slug, alg)
    env.verify(refreshed["access_token"], slug, alg)

    # Reusing the spent one revokes the whole family and is recorded.
    reuse = requests.post(env.token_url, data={"grant_type": "refresh_token", "refresh_token": first_refresh},
                          auth=(app["client_id"], app["client_secret"]))
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    again = requests.post(env.token_url, data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
                          auth=(app["client_id"], app["client_secret"]))
    assert again.status_code == 400, "the rotated token died with its family"
    gone = requests.get(env.url("/application/o/userinfo/"), headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert gone.status_code == 401 and "invalid_token" in gone.headers["WWW-Authenticate"]
    assert any(e["context"]["reason"] == "refresh token reuse" for e in env.events("suspicious_request"))
    assert any(e["context"].get("application") == slug for e in env.events("authorize_application"))

def test_client_credentials_introspection_and_revocation(env):
    app = env.app("machine", "--signing-alg", "EdDSA")
    cid, secret = app["client_id"], app["client_secret"]
    oauth = OAuth2Session(cid, secret)
    token = oauth.fetch_token(env.token_url, grant_type="client_credentials")
    claims = env.verify(token["access_token"], "machine", "EdDSA")
    assert claims["sub"] == cid and claims["client_id"] == cid
    assert "refresh_token" not in token and "id_token" not in token

    # client_secret_post works as well as Basic.
    post = requests.post(env.token_url, data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    assert post.status_code == 200
    assert post.headers["Cache-Control"] == "no-store"

    intro = requests.post(env.url("/application/o/introspect/"), data={"token": token["access_token"]}, auth=(cid, secret))
    assert intro.status_code == 200 and intro.json()["active"] is True
    assert intro.json()["client_id"] == cid

    # Another client learns nothing about it.
    other = env.app("other-machine")
    peek = requests.post(env.url("/application/o/introspect/"), data={"token": token["access_token"]},
                         auth=(other["client_id"], other["client_secret"]))
    assert peek.json() == {"active": False}

    rev = requests.post(env.url("/application/o/revoke/"), data={"token": token["access_token"], "token_type_hint": "access_token"},
                        auth=(cid, secret))
    assert rev.status_code == 200
    intro = requests.post(env.url("/application/o/introspect/"), data={"token": token["access_token"]}, auth=(cid, secret))
    assert intro.json() == {"active": False}
    # Revoking garbage is still 200 (RFC 7009).
    assert requests.post(env.url("/application/o/revoke/"), data={"token": "nonsense"}, auth=(cid, secret)).status_code == 200

def test_wrong_and_rotated_secrets(env):
    app = env.app("secretive")
    cid, secret = app["client_id"], app["client_secret"]
    bad = requests.post(env.token_url, data={"grant_type": "client_credentials"}, auth=(cid, secret + "x"))
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert bad.headers["WWW-Authenticate"].startswith("Basic")
    unknown = requests.post(env.token_url, data={"grant_type": "client_credentials"}, auth=("no-such-client", secret))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"

    out = json.loads(env.cli("--json", "app", "secret", "rotate", "secretive").stdout)
    new = out["client_secret"]
    assert new != secret and len(new) >= 43
    import time

    time.sleep(1.5)  # the change feed reaches the server's client cache
    old = requests.post(env.token_url, data={"grant_type": "client_credentials"}, auth=(cid, secret))
    assert old.status_code == 401, "the old secret stops working"
    ok = requests.post(env.token_url, data={"grant_type": "client_credentials"}, auth=(cid, new))
    assert ok.status_code == 200
    assert any(e["context"].get("slug") == "secretive" for e in env.events("secret_rotate"))

def test_device_flow(env):
    app = env.app("tv", "--signing-alg", "ES256", "--device-flow", "on", public=True)
    cid = app["client_id"]
    doc = requests.get(env.url("/application/o/tv/.well-known/openid-configuration")).json()
    assert doc["device_authorization_endpoint"] == env.url("/application/o/device/")
    assert "urn:ietf:params:oauth:grant-type:device_code" in doc["grant_types_supported"]
    start = requests.post(env.url("/application/o/device/"), data={"client_id": cid, "scope": "openid profile offline_access"})
    assert start.status_code == 200, start.text
    d = start.json()
    assert d["verification_uri"] == env.url("/device")
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    poll = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": cid})
    assert poll.status_code == 400 and poll.json()["error"] == "authorization_pending"
    fast = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": cid})
    assert fast.json()["error"] == "slow_down"

    # The person signs in, types the code and allows.
    web = WebClient(env.base)
    web.sign_in("alice", "Oidc-Test-Pass-42", next="/device")
    page = web.http.get(env.url("/device"), params={"code": d["user_code"]})
    assert page.status_code == 200 and d["user_code"] in page.text
    confirm = web.http.post(env.url("/device"), data={"user_code": d["user_code"].lower(), "csrf_token": web.csrf(page.text)})
    assert confirm.status_code == 200 and "Tv" in confirm.text
    done = web.http.post(env.url("/device/confirm"), data={"user_code": d["user_code"], "decision": "allow",
                                                            "csrf_token": web.csrf(confirm.text)})
    assert done.status_code == 200 and "connected" in done.text

    env.advance(6)
    tok = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": cid})
    assert tok.status_code == 200, tok.text
    t = tok.json()
    env.verify(t["id_token"], "tv", "ES256")
    assert "refresh_token" in t
    env.advance(6)
    replay = requests.post(env.token_url, data={"grant_type": grant, "device_code": d["device_code"], "client_id": cid})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # A public client's refresh works with its id only.
    r = requests.post(env.token_url, data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"], "client_id": cid})
    assert r.status_code == 200, r.text

def test_key_rotation_breaks_no_client(env):
    app = env.app("rotor")
    oauth = env.session_for(app["client_id"], app["client_secret"], scope="openid")
    before, *_ = env.code_flow(oauth, nonce="b")
    kid_before = json.loads(base64.urlsafe_b64decode(before["id_token"].split(".")[0] + "=="))["kid"]

    out = env.cli("key", "rotate", "--alg", "RS256").stdout
    assert "published now" in out
    listing = json.loads(env.cli("--json", "key", "list").stdout)
    statuses = {k["kid"]: k["status"] for k in listing if k["alg"] == "RS256"}
    assert statuses[kid_before] == "signing" and "next" in statuses.values()
    import time

    time.sleep(1.5)
    jwks_kids = {k["kid"] for k in requests.get(env.url("/application/o/rotor/jwks/")).json()["keys"]}
    assert set(statuses) <= jwks_kids, "the next key is published before it signs"

    # Until it activates, the old key still signs.
    still, *_ = env.code_flow(env.session_for(app["client_id"], app["client_secret"], scope="openid"), nonce="s")
    assert json.loads(base64.urlsafe_b64decode(still["id_token"].split(".")[0] + "=="))["kid"] == kid_before

    env.advance(11 * 60)
    after, *_ = env.code_flow(env.session_for(app["client_id"], app["client_secret"], scope="openid"), nonce="a")
    kid_after = json.loads(base64.urlsafe_b64decode(after["id_token"].split(".")[0] + "=="))["kid"]
    assert kid_after != kid_before
    # Tokens from before and after verify against today's JWKS.
    env.verify(before["id_token"], "rotor", "RS256")
    env.verify(after["id_token"], "rotor", "RS256")
    env.verify(after["access_token"], "rotor", "RS256")
    listing = json.loads(env.cli("--json", "key", "list").stdout)
    statuses = {k["kid"]: k["status"] for k in listing}
    assert statuses[kid_before] == "retiring" and statuses[kid_after] == "signing"
