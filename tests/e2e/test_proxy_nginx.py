"""Forward-auth behind real nginx (Debian's, with `auth_request`), configured
with deploy/nginx/*.conf, in front of a header-echo upstream."""

import base64
import json

import pytest

from conftest import Installation, free_port
from proxy_helpers import IDENTITY_HEADERS, Person, localtest_dns, nginx, wait_until
from upstream import Upstream, seen_headers

PASSWORD = "Forward-Auth-Pass-7"

class Stack:
    def __init__(self, inst: Installation):
        self.inst = inst
        self.port = free_port()
        self.host = f"wiki.localtest:{self.port}"
        inst.user("alice", PASSWORD)
        inst.user("bob", PASSWORD)
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        inst.cli(
            "app", "create", "wiki", "--name", "Wiki", "--provider", "proxy",
            "--external-host", f"http://{self.host}",
            "--skip-path", "^/health$", "--skip-path", "^/public/",
            "--allow-group", "staff",
        )
        self.gh = inst.server()
        self.gh_port = int(self.gh.url.rsplit(":", 1)[1])
        self.upstream = Upstream()
        self.nginx = nginx(self.gh_port, self.upstream.port, "wiki.localtest", port=self.port)

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def close(self):
        self.nginx.close()
        self.upstream.close()

@pytest.fixture
def stack(sqlite_install):
    s = Stack(sqlite_install)
    with localtest_dns():
        yield s
    s.close()

def sign_in_through(stack: Stack, person: Person, username: str, path: str):
    """Visits `path` on the protected host, signs in when Gatehouse asks, and
    returns the final response (redirects followed)."""
    r = person.http.get(stack.url(path))
    assert r.url.startswith(f"{stack.gh.url}/login?next=/application/proxy/authorize/"), r.url
    return person.sign_in_here(r, username, PASSWORD)

def test_sign_in_lands_on_the_original_url_with_the_identity(stack):
    person = Person(stack.gh.url)
    original = stack.url("/docs/page?x=1&y=%C3%BC")
    r = person.http.get(original)
    # nginx: 401 from the check → 302 to /start on the same host → Gatehouse.
    first = r.history[0]
    assert first.status_code == 302 and first.url == original
    # (nginx makes the snippet's relative Location absolute.)
    assert first.headers["Location"] == stack.url(f"/outpost.goauthentik.io/start?rd={original}")
    assert r.history[1].headers["Location"].startswith(f"{stack.gh.url}/application/proxy/authorize/?state=")
    state_cookie = [c for c in person.http.cookies if c.name == "gatehouse_proxy_state"]
    assert state_cookie and state_cookie[0].domain == "wiki.localtest" and state_cookie[0].path == "/outpost.goauthentik.io/"

    r = person.sign_in_here(r, "alice", PASSWORD)
    assert r.status_code == 200, r.text[:300]
    assert r.url == original, [h.url for h in r.history]
    echo = r.json()
    assert echo["path"] == "/docs/page?x=1&y=%C3%BC"
    seen = seen_headers(r)
    for name in IDENTITY_HEADERS:
        if name != "x-authentik-entitlements":  # empty (no source yet): nginx drops empty headers
            assert name in seen, name
    assert seen["x-authentik-username"] == "alice"
    assert seen["x-authentik-groups"] == "staff"
    assert seen["x-authentik-email"] == "alice@example.com"
    assert seen["x-authentik-name"] == "Alice"
    assert seen["x-authentik-meta-app"] == "wiki"
    assert seen["x-authentik-meta-provider"] == "Wiki"
    assert seen["x-authentik-meta-outpost"] == "gatehouse-embedded-outpost"
    assert seen["x-authentik-meta-jwks"] == f"{stack.gh.url}/application/o/wiki/jwks/"
    assert len(seen["x-authentik-uid"]) == 64
    claims = json.loads(base64.urlsafe_b64decode(seen["x-authentik-jwt"].split(".")[1] + "=="))
    assert claims["preferred_username"] == "alice" and claims["sub"] == seen["x-authentik-uid"]
    assert "gatehouse_proxy_state" not in {c.name for c in person.http.cookies}

    # Signed in: straight through now, no more redirects.
    r = person.http.get(stack.url("/other"))
    assert r.status_code == 200 and not r.history
    assert seen_headers(r)["x-authentik-username"] == "alice"

    # The session is a cookie of the protected host only.
    proxy_cookies = [c for c in person.http.cookies if c.name.startswith("gatehouse_proxy_")]
    assert len(proxy_cookies) == 1 and proxy_cookies[0].domain == "wiki.localtest"
    assert proxy_cookies[0].has_nonstandard_attr("HttpOnly")

def test_group_not_allowed_gets_403(stack):
    person = Person(stack.gh.url)
    r = sign_in_through(stack, person, "bob", "/")
    assert r.status_code == 403
    assert "does not have access to Wiki" in r.text
    # Asking again is still a 403 at Gatehouse, never a loop through sign-in.
    r = person.http.get(stack.url("/"))
    assert r.status_code == 403 and len(r.history) <= 3

def test_removing_the_group_denies_on_the_next_request(stack):
    person = Person(stack.gh.url)
    assert sign_in_through(stack, person, "alice", "/").status_code == 200
    stack.inst.cli("group", "remove", "staff", "alice")
    # The CLI writes behind the server's back; SQLite's change poll (250 ms) tells it.
    status = lambda: person.http.get(stack.url("/"), allow_redirects=False).status_code  # noqa: E731
    assert wait_until(lambda: status() == 403), "a 403, not a sign-in loop"
    assert status() == 403

def test_skip_paths_are_reachable_without_sign_in_and_identity_cannot_be_forged(stack):
    anonymous = Person(stack.gh.url)
    forged = {"X-authentik-username": "akadmin", "X-authentik-groups": "admins"}
    r = anonymous.http.get(stack.url("/health"), headers=forged, allow_redirects=False)
    assert r.status_code == 200
    seen = seen_headers(r)
    # Absent (nginx drops empty headers) or empty (Caddy): never the forged value.
    assert not seen.get("x-authentik-username") and not seen.get("x-authentik-groups"), seen
    assert anonymous.http.get(stack.url("/public/logo.png"), allow_redirects=False).status_code == 200
    for trick in ["/healthz", "/public/../admin", "/public/%2e%2e/admin", "/x?/health"]:
        r = anonymous.http.get(stack.url(trick), allow_redirects=False)
        assert r.status_code == 302 and "/outpost.goauthentik.io/start" in r.headers["Location"], trick

def test_sign_out_denies_again(stack):
    person = Person(stack.gh.url)
    assert sign_in_through(stack, person, "alice", "/").status_code == 200
    # A link to the outpost's sign-out (from any site) only asks…
    r = person.http.get(stack.url("/outpost.goauthentik.io/sign_out"))
    assert r.url == f"{stack.gh.url}/logout" and "Sign out of Gatehouse?" in r.text
    assert person.http.get(stack.url("/")).status_code == 200, "nothing ended without the click"
    # …and the click signs out.
    person.sign_out_via(stack.url("/outpost.goauthentik.io/sign_out"))
    r = person.http.get(stack.url("/"))
    assert r.url.startswith(f"{stack.gh.url}/login"), "denied: back to sign-in"
    # Even a copy of the old cookie (the upstream saw it) opens nothing now.

def test_revocation_and_disable_deny_on_the_next_request(stack):
    person = Person(stack.gh.url)
    assert sign_in_through(stack, person, "alice", "/").status_code == 200
    stack.inst.cli("session", "revoke", "--user", "alice")
    assert wait_until(lambda: person.http.get(stack.url("/"), allow_redirects=False).status_code == 302)
    person = Person(stack.gh.url)
    assert sign_in_through(stack, person, "alice", "/").status_code == 200
    stack.inst.cli("user", "disable", "alice")
    assert wait_until(lambda: person.http.get(stack.url("/"), allow_redirects=False).status_code == 302)

def test_jwt_verifies_against_the_advertised_jwks(stack):
    from jwcrypto import jwk, jwt

    person = Person(stack.gh.url)
    r = sign_in_through(stack, person, "alice", "/")
    seen = seen_headers(r)
    keys = person.http.get(seen["x-authentik-meta-jwks"])
    assert keys.status_code == 200, keys.text
    token = jwt.JWT(jwt=seen["x-authentik-jwt"], key=jwk.JWKSet.from_json(keys.text))
    claims = json.loads(token.claims)
    assert claims["preferred_username"] == "alice"
    assert claims["iss"] == f"{stack.gh.url}/application/o/wiki/"
