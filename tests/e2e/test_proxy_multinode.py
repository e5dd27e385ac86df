"""Two Gatehouse servers on one PostgreSQL, each behind its own nginx: a
sign-out, a revocation or a group change made through one node is refused by
the other on its next requests (PostgreSQL NOTIFY tells its decision cache)."""

import time

import pytest

from conftest import free_port
from proxy_helpers import Person, localtest_dns, nginx, wait_until
from upstream import Upstream

PASSWORD = "Forward-Auth-Pass-7"

@pytest.fixture
def two_nodes(pg_install):
    port_a, port_b = free_port(), free_port()
    pg_install.user("alice", PASSWORD)
    pg_install.cli("group", "create", "staff")
    pg_install.cli("group", "add", "staff", "alice")
    pg_install.cli(
        "app", "create", "wiki", "--name", "Wiki", "--provider", "proxy",
        "--external-host", f"http://wiki.localtest:{port_a}", "--allow-group", "staff",
    )
    a, b = pg_install.server(), pg_install.server()
    upstream = Upstream()
    proxies = [
        nginx(int(a.url.rsplit(":", 1)[1]), upstream.port, "wiki.localtest", port=port_a),
        nginx(int(b.url.rsplit(":", 1)[1]), upstream.port, "wiki.localtest", port=port_b),
    ]
    with localtest_dns():
        yield pg_install, a, f"http://wiki.localtest:{port_a}", f"http://wiki.localtest:{port_b}"
    for p in proxies:
        p.close()
    upstream.close()

def status(person: Person, url: str) -> int:
    return person.http.get(url, allow_redirects=False).status_code

def refused_within(person: Person, url: str, code: int, seconds: float = 2.0) -> float:
    """Seconds until `url` answers `code`; fails after `seconds`."""
    t0 = time.time()
    assert wait_until(lambda: status(person, url) == code, timeout=seconds), f"still allowed after {seconds} s"
    return time.time() - t0

def signed_in(gatehouse_url: str, via: str) -> Person:
    person = Person(gatehouse_url)
    r = person.http.get(f"{via}/")
    r = person.sign_in_here(r, "alice", PASSWORD)
    assert r.status_code == 200 and r.url == f"{via}/"
    return person

def test_changes_on_one_node_are_refused_by_the_other(two_nodes):
    inst, node_a, via_a, via_b = two_nodes
    person = signed_in(node_a.url, via_a)
    assert status(person, f"{via_b}/page") == 200, "node B honours node A's proxy session"
    assert status(person, f"{via_b}/page") == 200, "…from its cache now"

    # Sign-out through node A: node B refuses (back to sign-in).
    person.sign_out_via(f"{via_a}/outpost.goauthentik.io/sign_out")
    took = refused_within(person, f"{via_b}/page", 302)
    assert took < 1.5, took

    # Revocation from the command line (a third process).
    person = signed_in(node_a.url, via_a)
    assert status(person, f"{via_b}/x") == 200
    inst.cli("session", "revoke", "--user", "alice")
    refused_within(person, f"{via_b}/x", 302)

    # A binding change: a 403 on node B, not a sign-in loop.
    person = signed_in(node_a.url, via_a)
    assert status(person, f"{via_b}/y") == 200
    inst.cli("group", "remove", "staff", "alice")
    refused_within(person, f"{via_b}/y", 403)
