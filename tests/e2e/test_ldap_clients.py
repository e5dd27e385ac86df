"""The LDAP server through clients no one here wrote: OpenLDAP's ldapsearch,
ldapwhoami and ldapcompare (Debian ldap-utils) and Python's ldap3. Binds by
DN and shorthand, refusals, the tree and its attributes, filters, nested
memberOf, scopes and attribute selection, search groups, paging, size
limits, LDAPS and StartTLS with the generated certificate, and changes made
with the CLI reaching the next search. On SQLite and PostgreSQL."""

import json
import ssl

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException

from ldap_support import BASE, PASSWORD, certificate, group_dn, install, load_users, start, user_dn, wait_for  # noqa: F401

def directory(inst, *extra_app_args: str) -> None:
    """staff > devs > oncall (nested); alice in oncall, bob in nothing; carol disabled."""
    inst.user("alice", PASSWORD, "Alice Liddell")
    inst.user("bob", PASSWORD, "Bob")
    inst.user("carol", PASSWORD, "Carol Danvers")
    inst.cli("user", "disable", "carol")
    inst.cli("group", "create", "staff")
    inst.cli("group", "create", "devs", "--parent", "staff")
    inst.cli("group", "create", "oncall", "--parent", "devs")
    inst.cli("group", "add", "oncall", "alice")
    inst.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap", *extra_app_args)

def test_binds_by_dn_and_shorthand_and_refusals(install):
    directory(install)
    ldap = start(install)
    want = f"dn:{user_dn('alice')}"
    for dn in (user_dn("alice"), "CN=Alice,OU=Users,dc=LDAP,dc=goauthentik,dc=io", "cn=alice", "uid=alice", "alice",
               f"uid=alice,ou=users,{BASE}"):
        r = ldap.whoami(dn, PASSWORD)
        assert r.returncode == 0 and r.stdout.strip() == want, (dn, r.stdout, r.stderr)
    wrong = ldap.whoami(user_dn("alice"), "not-the-password")
    assert wrong.returncode == 49 and "Invalid credentials" in wrong.stderr, wrong.stderr
    disabled = ldap.whoami(user_dn("carol"), PASSWORD)
    assert disabled.returncode == 49, disabled.stderr
    nobody = ldap.whoami(user_dn("nobody"), PASSWORD)
    assert nobody.returncode == 49, nobody.stderr
    anonymous = ldap.tool("ldapwhoami", "-H", ldap.url)
    assert anonymous.returncode == 48 and "anonymous bind is disabled" in anonymous.stderr, anonymous.stderr
    unauthenticated = ldap.tool("ldapwhoami", "-H", ldap.url, "-D", user_dn("alice"), "-w", "")
    assert unauthenticated.returncode == 53, unauthenticated.stderr
    # Searching without a bind is refused too (ldap3 sends no bind at all here).
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE))
    conn.open()
    conn.search(BASE, "(objectClass=*)")
    assert conn.result["result"] == 50, conn.result
    conn.unbind()

    # Binds are sign-ins: the same events as the web's, naming LDAP and the address.
    ok = json.loads(install.cli("events", "--action", "login", "--json").stdout)
    assert ok and all(e["context"]["via"] == "ldap" and e["client_ip"] == "127.0.0.1" for e in ok), ok
    assert ok[0]["context"]["application"] == "dir" and ok[0]["user"] == "alice"
    failed = json.loads(install.cli("events", "--action", "login_failed", "--json").stdout)
    reasons = {(e["user"], e["context"]["reason"]) for e in failed if e["context"].get("via") == "ldap"}
    assert {("alice", "wrong_password"), ("carol", "user_disabled"), (None, "unknown_user")} <= reasons, reasons

def test_entries_filters_and_nested_membership(install):
    directory(install)
    ldap = start(install)
    me = (user_dn("alice"), PASSWORD)
    code, entries = ldap.search(me, "(uid=alice)")
    assert code == 0 and len(entries) == 1
    dn, a = entries[0]
    assert dn == user_dn("alice")
    assert {"top", "person", "organizationalPerson", "inetOrgPerson", "user", "posixAccount",
            "goauthentik.io/ldap/user"} <= set(a["objectClass"])
    assert a["cn"] == ["alice"] and a["uid"] == ["alice"] and a["sAMAccountName"] == ["alice"]
    assert a["displayName"] == ["Alice Liddell"] and a["givenName"] == ["Alice"] and a["sn"] == ["Liddell"]
    assert a["mail"] == ["alice@example.com"] and a["ak-active"] == ["true"] and a["ak-superuser"] == ["false"]
    assert a["homeDirectory"] == ["/home/alice"] and a["loginShell"] == ["/bin/bash"]
    assert int(a["uidNumber"][0]) > 2000 and a["gidNumber"] == a["uidNumber"]
    # memberOf: the direct group and every group it is nested in.
    assert set(a["memberOf"]) == {group_dn("oncall"), group_dn("devs"), group_dn("staff")}
    assert "entryUUID" not in a, "operational attributes only on request"

    def uids(filter: str, base: str = BASE, extra: tuple = ()) -> set:
        code, found = ldap.search(me, filter, "uid", base=base, extra=extra)
        assert code == 0, (filter, code)
        return {e[1]["uid"][0] for e in found if "uid" in e[1]}

    assert uids(f"(memberOf={group_dn('staff')})") == {"alice"}
    assert uids(f"(memberOf=CN=Staff,OU=Groups,{BASE.lower()})") == {"alice"}, "DN values compare by DN rules"
    assert uids("(&(objectClass=user)(|(uid=alice)(uid=BOB)))") == {"alice", "bob"}
    assert uids("(&(objectClass=user)(!(uid=alice)))") == {"akadmin", "bob", "carol"}
    assert uids("(cn=a*)") == {"alice", "akadmin"}
    assert uids("(cn=*o*)") == {"bob", "carol"}
    assert uids("(&(uidNumber>=2000)(ak-active=FALSE))") == {"carol"}
    assert uids("(UID~=ALICE)") == {"alice"}
    assert uids("(mail=*@EXAMPLE.com)") >= {"alice", "bob", "carol"}
    assert uids(f"(memberOf:1.2.840.113556.1.4.1941:={group_dn('devs')})") == {"alice"}
    assert uids("(nosuchattribute=x)") == set()
    # Scopes: base, one level, subtree.
    assert uids("(objectClass=*)", base=user_dn("bob"), extra=("-s", "base")) == {"bob"}
    code, found = ldap.search(me, "(objectClass=*)", "1.1", extra=("-s", "one"))
    assert code == 0 and sorted(d for d, _ in found) == sorted([f"ou=users,{BASE}", f"ou=groups,{BASE}"])
    # Groups: member and memberUid list effective members, gidNumber is stable.
    code, groups = ldap.search(me, f"(&(objectClass=groupOfNames)(member={user_dn('alice')}))", "cn", "memberUid", "gidNumber")
    assert code == 0 and {g[1]["cn"][0] for g in groups} == {"staff", "devs", "oncall"}
    assert all(g[1]["memberUid"] == ["alice"] and int(g[1]["gidNumber"][0]) > 4000 for g in groups)
    code, admins = ldap.search(me, "(&(objectClass=posixGroup)(cn=admins))", "member", "ak-superuser")
    assert admins[0][1]["member"] == [user_dn("akadmin")] and admins[0][1]["ak-superuser"] == ["true"]
    # Attribute selection: 1.1, +, *, names in any case.
    code, found = ldap.search(me, "(uid=alice)", "1.1")
    assert found == [(user_dn("alice"), {})]
    code, found = ldap.search(me, "(uid=alice)", "+")
    assert set(found[0][1]) >= {"entryUUID", "entryDN", "subschemaSubentry"} and "cn" not in found[0][1]
    code, found = ldap.search(me, "(uid=alice)", "*", "entryUUID")
    assert "cn" in found[0][1] and "entryUUID" in found[0][1]
    code, found = ldap.search(me, "(uid=alice)", "MAIL", "commonName")
    assert set(found[0][1]) == {"mail", "cn"}
    # Nothing outside the tree; the root DSE and the schema answer what clients probe.
    code, _ = ldap.search(me, "(objectClass=*)", base="dc=example,dc=com")
    assert code == 32
    code, dse = ldap.search(me, "(objectClass=*)", "+", "*", base="", extra=("-s", "base"))
    assert dse[0][1]["namingContexts"] == [BASE] and dse[0][1]["supportedLDAPVersion"] == ["3"]
    assert "1.2.840.113556.1.4.319" in dse[0][1]["supportedControl"]
    assert {"1.3.6.1.4.1.4203.1.11.3", "1.3.6.1.4.1.1466.20037"} <= set(dse[0][1]["supportedExtension"])
    code, schema = ldap.search(me, "(objectClass=subschema)", "attributeTypes", base="cn=subschema", extra=("-s", "base"))
    assert any("'memberOf'" in t for t in schema[0][1]["attributeTypes"])
    # `gatehouse ldap test`: a real bind and search against the running server.
    out = install.cli("ldap", "test", "alice", "(&(objectClass=user)(memberOf=cn=devs,ou=groups,DC=ldap,DC=goauthentik,DC=io))",
                      "--password-stdin", input=PASSWORD + "\n", GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{ldap.port}").stdout
    assert f"dn: {user_dn('alice')}" in out and "# 1 entries" in out and "uidNumber:" in out, out
    bad = install.cli("ldap", "test", "alice", "--password-stdin", input="wrong\n", check=False,
                      GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{ldap.port}")
    assert bad.returncode == 2 and "InvalidCredentials" in bad.stdout, bad.stdout + bad.stderr
    # Compare.
    cmp = ldap.tool("ldapcompare", "-H", ldap.url, "-D", me[0], "-w", me[1], user_dn("alice"), "mail:ALICE@example.com")
    assert cmp.returncode == 6 and "TRUE" in cmp.stdout, cmp.stdout + cmp.stderr
    cmp = ldap.tool("ldapcompare", "-H", ldap.url, "-D", me[0], "-w", me[1], user_dn("bob"), "uid:alice")
    assert cmp.returncode == 5 and "FALSE" in cmp.stdout
    cmp = ldap.tool("ldapcompare", "-H", ldap.url, "-D", me[0], "-w", me[1], user_dn("nobody"), "uid:x")
    assert cmp.returncode == 32, cmp.stdout + cmp.stderr
    # Writes are refused with a reason.
    delete = ldap.tool("ldapdelete", "-H", ldap.url, "-D", me[0], "-w", me[1], user_dn("bob"))
    assert delete.returncode == 53 and "read-only" in delete.stderr, delete.stderr

def test_search_group_decides_who_sees_the_directory(install):
    install.user("alice", PASSWORD, "Alice Liddell")
    install.user("bob", PASSWORD, "Bob")
    install.user("svc", PASSWORD, "Service Account")
    install.cli("group", "create", "searchers")
    install.cli("group", "create", "svc-accounts", "--parent", "searchers")
    install.cli("group", "add", "svc-accounts", "svc")
    install.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap", "--search-group", "searchers")
    ldap = start(install)
    code, seen = ldap.search((user_dn("svc"), PASSWORD), "(objectClass=user)", "uid")
    assert code == 0 and {e[1]["uid"][0] for e in seen} == {"akadmin", "alice", "bob", "svc"}
    # Outside the search group: only one's own entry, whatever the filter or base.
    code, seen = ldap.search((user_dn("bob"), PASSWORD), "(objectClass=*)", "uid")
    assert code == 0 and seen == [(user_dn("bob"), {"uid": ["bob"]})]
    code, seen = ldap.search((user_dn("bob"), PASSWORD), "(uid=alice)", "uid")
    assert code == 0 and seen == []
    code, seen = ldap.search((user_dn("bob"), PASSWORD), "(objectClass=*)", base=user_dn("alice"))
    assert code == 32 and seen == []
    # Leaving the group takes effect on the next search (change feed).
    install.cli("group", "remove", "svc-accounts", "svc")
    wait_for(lambda: ldap.search((user_dn("svc"), PASSWORD), "(objectClass=user)", "uid")[1]
             == [(user_dn("svc"), {"uid": ["svc"]})], what="svc to lose the directory")
    # ldap3 agrees: a plain anonymous connection is refused, a bound one searches.
    server = ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE)
    with pytest.raises(LDAPException):
        ldap3.Connection(server, auto_bind=True, raise_exceptions=True)

def test_paging_over_thousands_and_size_limits(install):
    load_users(install, 5000, group="bulk")
    install.user("svc", PASSWORD, "Service")
    install.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap")
    ldap = start(install)
    svc = (user_dn("svc"), PASSWORD)
    # ldapsearch's paged results control (RFC 2696): all 5,000 in pages of 500.
    code, found = ldap.search(svc, "(memberOf=cn=bulk,ou=groups,DC=ldap,DC=goauthentik,DC=io)", "uid",
                              extra=("-E", "pr=500/noprompt"))
    assert code == 0 and len(found) == 5000 and len({e[0] for e in found}) == 5000
    # Without paging the server's limit (1,000 by default) ends the search.
    code, found = ldap.search(svc, "(objectClass=user)", "1.1")
    assert code == 4 and len(found) == 1000
    # The client's own size limit.
    code, found = ldap.search(svc, "(objectClass=user)", "1.1", extra=("-z", "25"))
    assert code == 4 and len(found) == 25
    # ldap3's paged search generator, pages of 1,000.
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE), *svc, auto_bind=True)
    entries = list(conn.extend.standard.paged_search(BASE, "(&(objectClass=user)(uid=user*))", attributes=["uid"],
                                                     paged_size=1000, generator=True))
    assert len([e for e in entries if e["type"] == "searchResEntry"]) == 5000
    conn.unbind()

def test_ldaps_and_starttls_with_the_generated_certificate(install):
    directory(install)
    ldap = start(install)
    ca = certificate(install)
    trust = {"LDAPTLS_CACERT": str(ca), "LDAPTLS_REQCERT": "demand"}
    want = f"dn:{user_dn('alice')}"
    r = ldap.whoami(user_dn("alice"), PASSWORD, url=ldap.ldaps_url, env=trust)
    assert r.returncode == 0 and r.stdout.strip() == want, r.stderr
    r = ldap.whoami(user_dn("alice"), PASSWORD, extra=("-ZZ",), env=trust)
    assert r.returncode == 0 and r.stdout.strip() == want, r.stderr
    # A client that does not trust the certificate refuses it: the check is real.
    r = ldap.whoami(user_dn("alice"), PASSWORD, url=ldap.ldaps_url, env={"LDAPTLS_REQCERT": "demand", "LDAPTLS_CACERT": "/dev/null"})
    assert r.returncode != 0
    # ldap3 with certificate validation, over LDAPS and StartTLS.
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca))
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap.ldaps_port, use_ssl=True, tls=tls, get_info=ldap3.NONE),
                            user_dn("alice"), PASSWORD, auto_bind=True)
    assert conn.extend.standard.who_am_i() == want
    conn.unbind()
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap.port, tls=tls, get_info=ldap3.NONE),
                            user_dn("alice"), PASSWORD)
    conn.open()
    assert conn.start_tls() and conn.bind()
    assert conn.extend.standard.who_am_i() == want
    assert not conn.start_tls() or conn.result["result"] != 0, "a second StartTLS is refused"
    conn.unbind()
    # Every node presents the same certificate: it lives in the database.
    assert certificate(install).read_text() == ca.read_text()

def test_a_cli_change_reaches_the_next_search(install):
    directory(install)
    ldap = start(install)
    me = (user_dn("alice"), PASSWORD)
    install.cli("user", "create", "dave", "dave@example.com", "Dave Grohl")
    found = wait_for(lambda: ldap.search(me, "(uid=dave)", "displayName")[1], what="dave to appear")
    assert found == [(user_dn("dave"), {"displayName": ["Dave Grohl"]})]
    install.cli("group", "add", "devs", "dave")
    wait_for(lambda: ldap.search(me, f"(&(uid=dave)(memberOf={group_dn('staff')}))", "1.1")[1], what="dave in staff")
    install.cli("user", "disable", "dave")
    wait_for(lambda: ldap.search(me, "(&(uid=dave)(ak-active=false))", "1.1")[1], what="dave disabled")
    install.cli("user", "delete", "dave")
    wait_for(lambda: ldap.search(me, "(uid=dave)", "1.1")[1] == [], what="dave gone")
    # The tree itself follows `app update`.
    install.cli("app", "update", "dir", "--base-dn", "dc=example,dc=org")
    wait_for(lambda: ldap.whoami("cn=alice,ou=users,dc=example,dc=org", PASSWORD).returncode == 0, what="the new base")
    code, found = ldap.search(("cn=alice,ou=users,dc=example,dc=org", PASSWORD), "(uid=alice)", "memberOf", base="dc=example,dc=org")
    assert code == 0 and "cn=staff,ou=groups,dc=example,dc=org" in found[0][1]["memberOf"]
