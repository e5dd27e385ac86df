"""Issue 13, finding 2: whatever ends a person's sign-ins ends what
applications received in their name. A refresh token (and the access token
issued with it) taken before a new password (CLI, recovery link, portal), a
"sign out everywhere" (CLI and portal), an MFA reset or a disable stops
working at once; each action's event says how many grants it revoked.
Authlib is the client."""

import json

import pytest
import requests

from conftest import WebClient
from oidc_support import PASSWORD, OidcEnv

NEW_PASSWORD = "Another-Pass-Quite-Long-77"

@pytest.fixture
def env(sqlite_install):
    return OidcEnv(sqlite_install)

def tokens(env: OidcEnv, client: dict) -> dict:
    oauth = env.session_for(client["client_id"], client["client_secret"], scope="openid offline_access")
    token, *_ = env.code_flow(oauth)
    return token

def refresh(env: OidcEnv, client: dict, token: dict) -> requests.Response:
    return requests.post(env.token_url, auth=(client["client_id"], client["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})

def introspect(env: OidcEnv, client: dict, token: dict) -> bool:
    r = requests.post(env.url("/application/o/introspect/"), auth=(client["client_id"], client["client_secret"]),
                      data={"token": token["access_token"]})
    assert r.status_code == 200, r.text
    return r.json()["active"]

def recovery_link(env: OidcEnv) -> None:
    link = env.cli("recovery", "key", "alice").stdout.strip().split()[-1]
    path = link[link.index("/recovery/"):]  # the CLI prints the configured external URL
    web = WebClient(env.base)
    page = web.http.get(env.url(path))
    r = web.http.post(page.url, data={"csrf_token": web.csrf(page.text), "new_password": NEW_PASSWORD,
                                      "new_password_repeat": NEW_PASSWORD})
    assert r.status_code in (200, 303), r.text[:300]

def portal_password(env: OidcEnv) -> None:
    web = WebClient(env.base)
    web.sign_in("alice", PASSWORD)
    page = web.http.get(env.url("/if/user/account/"))
    r = web.http.post(env.url("/if/user/account/password"), data={
        "csrf_token": web.csrf(page.text), "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_repeat": NEW_PASSWORD})
    assert r.status_code in (200, 303), r.text[:300]

def portal_everywhere(env: OidcEnv) -> None:
    web = WebClient(env.base)
    web.sign_in("alice", PASSWORD)
    page = web.http.get(env.url("/if/user/account/"))
    r = web.http.post(env.url("/if/user/account/sessions/revoke-all"), data={"csrf_token": web.csrf(page.text)},
                      allow_redirects=False)
    assert r.status_code == 303 and not web.signed_in(), r.text[:300]

ACTIONS = {
    "user password (CLI)": (lambda env: env.cli("user", "password", "alice", "--stdin", input=NEW_PASSWORD + "\n"),
                            "password_set"),
    "recovery link": (recovery_link, "password_set"),
    "portal password change": (portal_password, "password_set"),
    "session revoke --user (CLI)": (lambda env: env.cli("session", "revoke", "--user", "alice"), "session_revoked"),
    "sign out everywhere (portal)": (portal_everywhere, "session_revoked"),
    "user mfa reset (CLI)": (lambda env: env.cli("user", "mfa", "reset", "alice"), "mfa_reset"),
    "user disable (CLI)": (lambda env: env.cli("user", "disable", "alice"), "model_updated"),
}

@pytest.mark.parametrize("action", list(ACTIONS))
def test_ending_sign_ins_ends_oauth_grants(env, action):
    client = env.app("wiki")
    token = tokens(env, client)
    assert introspect(env, client, token)
    do, event = ACTIONS[action]
    do(env)
    r = refresh(env, client, token)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert not introspect(env, client, token), "the access token of a revoked grant is still active"
    recorded = [e for e in env.events(event) if e.get("user") == "alice" and "grants_revoked" in e["context"]]
    assert recorded and recorded[0]["context"]["grants_revoked"] >= 1, json.dumps(env.events(event))[:500]
