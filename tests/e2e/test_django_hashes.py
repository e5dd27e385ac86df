"""Users imported from authentik keep their passwords: hashes made by
Django's own hashers (`django.contrib.auth.hashers.make_password`, the code
authentik stores passwords with) are imported through the CLI and a
blueprint, verified at sign-in over the web and over LDAP (ldap3), replaced
by argon2id at the first right password, and wrong passwords are refused.
SQLite and PostgreSQL."""

import json

import ldap3
import pytest

from conftest import WebClient
from django_support import HASHERS, make
from ldap_support import install, start, user_dn  # noqa: F401  (install: both backends)

WRONG = "Not-The-Password-11"


def password_of(alg: str) -> str:
    return f"Imported-{alg}-Pässword-7"


def stored_state(inst, username: str) -> str:
    rows = inst.cli("user", "show", username).stdout.splitlines()
    return next(r for r in rows if r.startswith("password")).split(None, 1)[1].strip()


def ldap_bind(ldap, username: str, password: str) -> bool:
    server = ldap3.Server("127.0.0.1", port=ldap.port, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user_dn(username), password)
    try:
        return conn.bind()
    finally:
        conn.unbind()


def test_django_hashes_import_verify_and_rehash(install, tmp_path):
    inst = install
    inst.cli("app", "create", "dir", "--name", "Directory", "--provider", "ldap")
    hashes = {alg: make(alg, password_of(alg)) for alg in HASHERS}

    # Half through the CLI, half through a blueprint (authentik's `password_hash`).
    algs = list(HASHERS)
    by_cli, by_blueprint = algs[::2], algs[1::2]
    for alg in by_cli:
        name = f"cli-{alg.replace('_', '-')}"
        inst.cli("user", "create", name, f"{name}@example.com")
        inst.cli("user", "set-password-hash", name, hashes[alg])
    entries = []
    for alg in by_blueprint:
        name = f"bp-{alg.replace('_', '-')}"
        entries.append({"model": "authentik_core.user", "identifiers": {"username": name},
                        "attrs": {"name": name, "email": f"{name}@example.com", "password_hash": hashes[alg]}})
    bp = tmp_path / "import.yaml"
    bp.write_text(json.dumps({"version": 1, "entries": entries}))
    inst.cli("blueprint", "apply", str(bp))
    users = {alg: f"cli-{alg.replace('_', '-')}" for alg in by_cli} | {alg: f"bp-{alg.replace('_', '-')}" for alg in by_blueprint}
    for alg, name in users.items():
        assert stored_state(inst, name) == f"set (imported {alg}; replaced by argon2id at the next sign-in)"

    # Every wrong password below comes from 127.0.0.1: keep the address's
    # throttle out of the way (the accounts' own limits still apply).
    ldap = start(inst, GATEHOUSE_LOGIN_IP_DELAY_AFTER=100, GATEHOUSE_LOGIN_IP_LOCK_AFTER=1000)
    for i, (alg, name) in enumerate(users.items()):
        web = WebClient(ldap.server.url)
        # Wrong passwords are refused on both paths, and change nothing.
        assert web.sign_in(name, WRONG).status_code == 200 and not web.signed_in(), alg
        assert not ldap_bind(ldap, name, WRONG), alg
        assert stored_state(inst, name).startswith("set (imported"), alg
        # The first right password: over the web for some, over LDAP for the others.
        if i % 2 == 0:
            assert web.sign_in(name, password_of(alg)).status_code in (302, 303), alg
            assert web.signed_in(), alg
        else:
            assert ldap_bind(ldap, name, password_of(alg)), alg
        assert stored_state(inst, name) == "set (argon2id)", alg
        # The new argon2id hash takes the same password on both paths.
        assert ldap_bind(ldap, name, password_of(alg)), alg
        again = WebClient(ldap.server.url)
        assert again.sign_in(name, password_of(alg)).status_code in (302, 303) and again.signed_in(), alg
        assert not ldap_bind(ldap, name, WRONG), alg


def test_unknown_and_malformed_hashes_are_refused(sqlite_install, tmp_path):
    inst = sqlite_install
    inst.cli("user", "create", "mia", "mia@example.com")
    for bad in ("md5$salt$5f4dcc3b5aa765d61d8327deb882cf99", "plaintext", "pbkdf2_sha256$1000$salt",
                "bcrypt_sha256$$2b$31$" + "a" * 53):
        r = inst.cli("user", "set-password-hash", "mia", bad, check=False)
        assert r.returncode == 2 and "password hash" in r.stderr, r.stderr
    assert stored_state(inst, "mia") == "not set"
    bp = tmp_path / "bad.yaml"
    bp.write_text(json.dumps({"version": 1, "entries": [{"model": "authentik_core.user", "identifiers": {"username": "nia"},
                                                         "attrs": {"password_hash": "md5$salt$abc"}}]}))
    r = inst.cli("blueprint", "apply", str(bp), check=False)
    assert r.returncode != 0 and "password_hash" in (r.stdout + r.stderr)
    assert "nia" not in inst.cli("user", "list").stdout
