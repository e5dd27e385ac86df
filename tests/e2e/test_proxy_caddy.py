"""Forward-auth behind real Caddy (Debian's, `forward_auth`), configured with
deploy/caddy/gatehouse.caddy, in front of a header-echo upstream; both modes."""

import pytest

from conftest import Installation, free_port
from proxy_helpers import IDENTITY_HEADERS, Person, caddy, localtest_dns, wait_until
from upstream import Upstream, seen_headers

PASSWORD = "Forward-Auth-Pass-7"

class Stack:
    def __init__(self, inst: Installation):
        self.inst = inst
        self.port = free_port()
        inst.user("alice", PASSWORD)
        inst.user("bob", PASSWORD)
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        inst.cli(
            "app", "create", "wiki", "--name", "Wiki", "--provider", "proxy",
            "--external-host", f"http://wiki.localtest:{self.port}",
            "--skip-path", "^/health$", "--allow-group", "staff",
        )
        # One sign-in for every host under gh.localtest.
        inst.cli(
            "app", "create", "corp", "--name", "Corp", "--provider", "proxy",
            "--mode", "forward_domain", "--cookie-domain", "gh.localtest",
            "--external-host", f"http://auth.gh.localtest:{self.port}",
        )
        self.gh = inst.server()
        self.upstream = Upstream()
        sites = ["wiki.localtest", "auth.gh.localtest", "grafana.gh.localtest", "files.gh.localtest"]
        self.caddy = caddy(int(self.gh.url.rsplit(":", 1)[1]), self.upstream.port, sites, port=self.port)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.caddy.close()
        self.upstream.close()

@pytest.fixture
def stack(sqlite_install):
    s = Stack(sqlite_install)
    with localtest_dns():
        yield s
    s.close()

def test_sign_in_lands_on_the_original_url_with_the_identity(stack):
    person = Person(stack.gh.url)
    original = stack.url("wiki.localtest", "/docs?x=1&y=2")
    r = person.http.get(original)
    # Caddy passes Gatehouse's own answer on: a redirect to /start.
    first = r.history[0]
    assert first.status_code == 302
    assert first.headers["Location"].startswith(stack.url("wiki.localtest", "/outpost.goauthentik.io/start?rd=http%3A%2F%2Fwiki.localtest"))
    assert r.url.startswith(f"{stack.gh.url}/login?next=/application/proxy/authorize/")
    r = person.sign_in_here(r, "alice", PASSWORD)
    assert r.status_code == 200 and r.url == original, [h.url for h in r.history]
    seen = seen_headers(r)
    for name in IDENTITY_HEADERS:
        assert name in seen, name
    assert seen["x-authentik-username"] == "alice"
    assert seen["x-authentik-groups"] == "staff"
    assert seen["x-authentik-meta-app"] == "wiki"
    r = person.http.get(stack.url("wiki.localtest", "/again"))
    assert r.status_code == 200 and not r.history

def test_group_not_allowed_gets_403(stack):
    person = Person(stack.gh.url)
    r = person.http.get(stack.url("wiki.localtest", "/"))
    r = person.sign_in_here(r, "bob", PASSWORD)
    assert r.status_code == 403
    assert "does not have access to Wiki" in r.text

def test_skip_path_without_sign_in_and_no_forged_identity(stack):
    anonymous = Person(stack.gh.url)
    r = anonymous.http.get(
        stack.url("wiki.localtest", "/health"),
        headers={"X-Authentik-Username": "akadmin", "x-authentik-groups": "admins"},
        allow_redirects=False,
    )
    assert r.status_code == 200
    seen = seen_headers(r)
    # Absent (nginx drops empty headers) or empty (Caddy): never the forged value.
    assert not seen.get("x-authentik-username") and not seen.get("x-authentik-groups"), seen
    r = anonymous.http.get(stack.url("wiki.localtest", "/healthz"), allow_redirects=False)
    assert r.status_code == 302

def test_sign_out_denies_again(stack):
    person = Person(stack.gh.url)
    r = person.http.get(stack.url("wiki.localtest", "/"))
    assert person.sign_in_here(r, "alice", PASSWORD).status_code == 200
    person.sign_out_via(stack.url("wiki.localtest", "/outpost.goauthentik.io/sign_out"))
    r = person.http.get(stack.url("wiki.localtest", "/"))
    assert r.url.startswith(f"{stack.gh.url}/login")

def test_domain_mode_one_sign_in_for_every_host(stack):
    person = Person(stack.gh.url)
    r = person.http.get(stack.url("grafana.gh.localtest", "/d/1"))
    # Domain mode starts on the sign-in host (the external host).
    assert r.history[0].headers["Location"].startswith(stack.url("auth.gh.localtest", "/outpost.goauthentik.io/start?rd="))
    r = person.sign_in_here(r, "bob", PASSWORD)
    assert r.status_code == 200 and r.url == stack.url("grafana.gh.localtest", "/d/1")
    assert seen_headers(r)["x-authentik-username"] == "bob"
    callback = [h for h in r.history if "/outpost.goauthentik.io/callback" in h.url][0]
    set_cookie = callback.headers["Set-Cookie"]
    assert "Domain=gh.localtest" in set_cookie and "HttpOnly" in set_cookie, set_cookie
    # Another host of the domain: straight through, no sign-in.
    r = person.http.get(stack.url("files.gh.localtest", "/x"))
    assert r.status_code == 200 and not r.history
    assert seen_headers(r)["x-authentik-meta-app"] == "corp"
    # Sign-out on the sign-in host ends it for every host.
    person.sign_out_via(stack.url("auth.gh.localtest", "/outpost.goauthentik.io/sign_out"))
    assert wait_until(lambda: person.http.get(stack.url("files.gh.localtest", "/"), allow_redirects=False).status_code == 302)
