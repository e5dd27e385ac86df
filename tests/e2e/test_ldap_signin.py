"""Bind is sign-in: MFA codes appended to the password, throttling and locks,
access bindings, and a service configured like Redmine's LDAP
authentication. Then hardening: malformed BER, oversized messages and the
per-connection and connection-count bounds. Python ldap3, ldap-utils and raw
sockets; SQLite and PostgreSQL."""

import json
import time

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException

from ldap_support import PASSWORD, enrol_totp, group_dn, install, raw_exchange, start, user_dn  # noqa: F401

NOTICE_OF_DISCONNECTION = b"1.3.6.1.4.1.1466.20036"

def connect(ldap, dn: str, password: str) -> ldap3.Connection:
    return ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE), dn, password)

def test_mfa_code_after_the_password(install):
    install.user("alice", PASSWORD, "Alice Liddell")
    install.user("bob", PASSWORD, "Bob")
    install.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap")
    install.cli("app", "create", "vault", "--name", "Vault", "--provider", "ldap", "--base-dn", "dc=vault,dc=example",
                "--mfa", "required")
    ldap = start(install)
    totp = enrol_totp(ldap.server.url, "alice", PASSWORD)
    # Alice has an authenticator now: the password alone is not enough.
    r = ldap.whoami(user_dn("alice"), PASSWORD)
    assert r.returncode == 49 and "second factor" in r.stderr, r.stderr
    code = totp.at(time.time() + 30)  # the next step: later than the one enrolment used
    r = ldap.whoami(user_dn("alice"), f"{PASSWORD};{code}")
    assert r.returncode == 0 and r.stdout.strip() == f"dn:{user_dn('alice')}", r.stderr
    # A code is good once, and a wrong one fails like a wrong password.
    assert ldap.whoami(user_dn("alice"), f"{PASSWORD};{code}").returncode == 49
    assert ldap.whoami(user_dn("alice"), f"{PASSWORD};000000").returncode == 49
    # An application that requires MFA refuses a bind without a valid code,
    # even from someone the policy does not ask for one.
    assert ldap.whoami(user_dn("bob"), PASSWORD).returncode == 0
    vault_bob = "cn=bob,ou=users,dc=vault,dc=example"
    r = ldap.whoami(vault_bob, PASSWORD)
    assert r.returncode == 49 and "second factor" in r.stderr, r.stderr
    assert ldap.whoami(vault_bob, f"{PASSWORD};123456").returncode == 49
    # The audit log tells it as the web would.
    logins = json.loads(install.cli("events", "--action", "login", "--user", "alice", "--json").stdout)
    assert logins[0]["context"]["amr"] == ["pwd", "otp", "mfa"] and logins[0]["context"]["via"] == "ldap"
    assert json.loads(install.cli("events", "--action", "mfa_failed", "--user", "alice", "--json").stdout)
    refused = json.loads(install.cli("events", "--action", "login_failed", "--user", "bob", "--json").stdout)
    assert refused[0]["context"] == {"via": "ldap", "application": "vault", "reason": "mfa_required"}

def test_failed_binds_throttle_and_lock_like_web_sign_ins(install):
    install.user("alice", PASSWORD)
    install.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap")
    ldap = start(install, GATEHOUSE_LOGIN_DELAY_AFTER=3, GATEHOUSE_LOGIN_LOCK_AFTER=3)
    for _ in range(3):
        assert ldap.whoami(user_dn("alice"), "wrong-password-here").returncode == 49
    # Locked: the right password is refused too, with the reason.
    r = ldap.whoami(user_dn("alice"), PASSWORD)
    assert r.returncode == 49 and "too many failed attempts" in r.stderr, r.stderr
    assert json.loads(install.cli("events", "--action", "login_locked", "--json").stdout)
    # ldap3 sees the same refusal.
    conn = connect(ldap, user_dn("alice"), PASSWORD)
    assert not conn.bind() and conn.result["result"] == 49

def test_a_service_configured_like_redmine(install):
    """Redmine's LDAP authentication: bind as the service account, find the
    user by `uid`, bind as the found DN with the user's password, read the
    name, mail and groups."""
    base = "dc=redmine,dc=example,dc=com"
    install.user("redmine-svc", PASSWORD, "Redmine")
    install.user("alice", "Alice-Own-Pass-204", "Alice Liddell")
    install.user("bob", "Bob-Own-Pass-307", "Bob Builder")
    for g in ("ldap-search", "redmine-users", "developers"):
        install.cli("group", "create", g)
    install.cli("group", "add", "ldap-search", "redmine-svc")
    for g, u in (("redmine-users", "redmine-svc"), ("redmine-users", "alice"), ("developers", "alice")):
        install.cli("group", "add", g, u)
    install.cli("app", "create", "redmine", "--name", "Redmine", "--provider", "ldap", "--base-dn", base,
                "--search-group", "ldap-search")
    install.cli("app", "bind", "redmine", "redmine-users")
    ldap = start(install)
    server = ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE)
    svc = ldap3.Connection(server, f"cn=redmine-svc,ou=users,{base}", PASSWORD, auto_bind=True)

    def find(login: str):
        svc.search(base, f"(&(objectClass=user)(uid={login}))", attributes=["givenName", "sn", "mail", "memberOf"])
        return svc.entries

    [alice] = find("alice")
    assert (alice.givenName.value, alice.sn.value, alice.mail.value) == ("Alice", "Liddell", "alice@example.com")
    assert group_dn("developers", base) in alice.memberOf.values
    user = ldap3.Connection(server, alice.entry_dn, "Alice-Own-Pass-204")
    assert user.bind(), user.result
    assert not ldap3.Connection(server, alice.entry_dn, "Bob-Own-Pass-307").bind()
    # Groups, as Redmine's group sync reads them.
    svc.search(base, f"(&(objectClass=groupOfNames)(member={alice.entry_dn}))", attributes=["cn"])
    assert {e.cn.value for e in svc.entries} == {"redmine-users", "developers"}
    # Bob is in the directory but not allowed to use Redmine: his bind fails.
    [bob] = find("bob")
    assert not ldap3.Connection(server, bob.entry_dn, "Bob-Own-Pass-307").bind()
    denied = json.loads(install.cli("events", "--action", "login_failed", "--user", "bob", "--json").stdout)
    assert denied[0]["context"]["reason"] == "application_denied"
    assert find("nobody") == []
    svc.unbind()

def test_malformed_messages_close_the_connection_and_nothing_else(install):
    install.user("alice", PASSWORD)
    install.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap")
    ldap = start(install, GATEHOUSE_LDAP_MAX_MESSAGE_BYTES=2048, GATEHOUSE_LDAP_MAX_MESSAGES=5,
                 GATEHOUSE_LDAP_MAX_CONNECTIONS=3)
    samples = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not BER at all
        bytes.fromhex("3005020101630000"),  # a search request with a broken body
        bytes.fromhex("300c0201016007020103040080ff"),  # a bind whose password overruns the message
        bytes.fromhex("30840fffffff"),  # a 256 MiB length
        bytes.fromhex("3003020101") + b"\x00" * 8,  # a message without an operation
        bytes.fromhex("3006020101780100"),  # an extended response sent by a client
    ]
    for payload in samples:
        answer = raw_exchange(ldap.port, payload)
        assert NOTICE_OF_DISCONNECTION in answer, (payload, answer)
    # A bind bigger than GATEHOUSE_LDAP_MAX_MESSAGE_BYTES.
    big = "x" * 3000
    conn = connect(ldap, user_dn("alice"), big)
    with pytest.raises(LDAPException):
        conn.open()
        conn.bind()
        if conn.result.get("result") == 49:
            raise AssertionError("an oversized bind was processed")
    # The server lives on.
    assert ldap.whoami(user_dn("alice"), PASSWORD).returncode == 0
    # At most 5 requests per connection: the sixth ends it.
    conn = connect(ldap, user_dn("alice"), PASSWORD)
    conn.raise_exceptions = True
    assert conn.bind()
    for _ in range(4):
        conn.search("DC=ldap,DC=goauthentik,DC=io", "(uid=alice)")
    with pytest.raises(LDAPException):
        conn.search("DC=ldap,DC=goauthentik,DC=io", "(uid=alice)")
    # Three connections at most: a fourth is turned away with a notice.
    held = [connect(ldap, user_dn("alice"), PASSWORD) for _ in range(3)]
    for c in held:
        assert c.bind()
    assert NOTICE_OF_DISCONNECTION in raw_exchange(ldap.port, b"")
    for c in held:
        c.unbind()
    time.sleep(0.2)
    assert ldap.whoami(user_dn("alice"), PASSWORD).returncode == 0

def test_sso_drift_of_an_ldap_service(install):
    """`sso check` names an LDAP service's missing application, tree and search
    group; `sso fix` creates them, and the service can then search."""
    install.user("nas-svc", PASSWORD, "NAS")
    install.cli("group", "create", "staff")
    install.cli("group", "add", "staff", "nas-svc")
    manifest = install.dir / "stack.yaml"
    manifest.write_text(
        "version: 1\nservices:\n  - name: nas\n    sso:\n      type: ldap\n"
        "      base_dn: dc=${NAS_DOMAIN:-nas},dc=example\n      search_group: nas-search\n"
    )
    env = {"GATEHOUSE_STACK_FILE": str(manifest)}
    r = install.cli("--json", "sso", "check", "nas", check=False, **env)
    assert r.returncode == 1, r.stdout + r.stderr
    kinds = {d["kind"] for s in json.loads(r.stdout)["services"] for d in s["drifts"]}
    assert kinds == {"application_missing", "groups_missing"}, r.stdout
    install.cli("sso", "fix", "nas", **env)
    install.cli("group", "add", "nas-search", "nas-svc")
    assert install.cli("sso", "check", "nas", check=False, **env).returncode == 0
    ldap = start(install)
    code, found = ldap.search(("cn=nas-svc,ou=users,dc=nas,dc=example", PASSWORD), "(objectClass=user)", "uid",
                              base="dc=nas,dc=example")
    assert code == 0 and {e[1]["uid"][0] for e in found} == {"akadmin", "nas-svc"}
    # The service moves to another tree: drift, then repaired.
    r = install.cli("--json", "sso", "check", "nas", check=False, NAS_DOMAIN="files", **env)
    assert r.returncode == 1 and {d["kind"] for s in json.loads(r.stdout)["services"] for d in s["drifts"]} == {"base_dn"}
    install.cli("sso", "fix", "nas", NAS_DOMAIN="files", **env)
    assert install.cli("sso", "check", "nas", check=False, NAS_DOMAIN="files", **env).returncode == 0
