"""Sessions live in PostgreSQL: two server processes see the same sessions,
and a revocation on one takes effect on the other at once."""

from conftest import WebClient

PASSWORD = "Shared-Session-Pass-9"

def test_revocation_reaches_every_node(pg_install):
    pg_install.user("alice", PASSWORD)
    a = pg_install.server()
    b = pg_install.server()

    client = WebClient(a.url)
    r = client.sign_in("alice", PASSWORD)
    assert r.status_code == 303 and r.headers["Location"] == "/if/user/"
    assert client.signed_in(a.url)
    assert client.signed_in(b.url), "node B honours a session started on node A"

    # Revoked from the command line: both nodes refuse it on the next request.
    out = pg_install.cli("session", "revoke", "--user", "alice").stdout
    assert "revoked 1 session" in out
    assert not client.signed_in(a.url)
    assert not client.signed_in(b.url)

    # Revoked through node B's account page: node A refuses it at once.
    laptop, phone = WebClient(a.url), WebClient(a.url)
    laptop.sign_in("alice", PASSWORD)
    phone.sign_in("alice", PASSWORD)
    listing = pg_install.cli("session", "list", "alice", "--json").stdout
    import json

    sessions = json.loads(listing)
    assert len(sessions) == 2
    account = laptop.http.get(f"{b.url}/if/user/account/")
    assert account.status_code == 200
    csrf = laptop.csrf(account.text)
    mine = {s["id"] for s in sessions}
    # The phone's session is the one the laptop's page does not mark as this device.
    current = [line for line in account.text.split("<tr") if "This device" in line]
    assert len(current) == 1
    phone_id = next(i for i in mine if i not in current[0])
    r = laptop.http.post(f"{b.url}/if/user/account/sessions/revoke", data={"session_id": phone_id, "csrf_token": csrf}, allow_redirects=False)
    assert r.status_code == 303
    assert not phone.signed_in(a.url)
    assert laptop.signed_in(a.url)

def test_password_change_by_admin_ends_sessions(sqlite_install):
    sqlite_install.user("bob", PASSWORD)
    server = sqlite_install.server()
    client = WebClient(server.url)
    client.sign_in("bob", PASSWORD)
    assert client.signed_in()
    sqlite_install.cli("user", "password", "bob", "--generate")
    assert not client.signed_in()
    client.sign_in("bob", PASSWORD)
    assert not client.signed_in(), "the old password no longer works"
