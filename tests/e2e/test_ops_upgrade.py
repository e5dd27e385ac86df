"""Upgrades: a database created by schema version 1's own SQL and filled with
data is migrated forward by the current binary, on both backends, with its
data intact (passwords sign in, memberships and bindings hold, the audit
chain verifies); a backup of it restores at version 1 and migrates forward;
`gatehouse status` warns when PostgreSQL's major version changed."""

import json
import sqlite3

import psycopg
import pytest

from conftest import ROOT, Installation, WebClient
from ops_support import PASSWORD, Target, canonical_dump, drop_pg_database, new_pg_database, sql

V1 = {
    "sqlite": (ROOT / "crates/store/migrations/sqlite/0001_directory.sql").read_text(),
    "postgres": (ROOT / "crates/store/migrations/postgres/0001_directory.sql").read_text(),
}
V1_TABLES = ["users", "groups", "memberships", "applications", "bindings", "recovery_keys", "api_tokens",
             "bootstrap", "events", "event_chain"]

def connect(url):
    if url.startswith("sqlite://"):
        return sqlite3.connect(url.removeprefix("sqlite://"))
    return psycopg.connect(url, autocommit=True)

def columns(conn, table):
    if isinstance(conn, sqlite3.Connection):
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s ORDER BY ordinal_position", (table,))]

def make_v1_database(backend: str, source_url: str, target: Target) -> None:
    """Schema 1 from its own SQL file, then version 1's columns of every
    version-1 table copied from a directory the binary wrote (real argon2
    hashes, a real event chain)."""
    url = target.inst.database_url
    if backend == "sqlite":
        (target.inst.dir / "data").mkdir(parents=True, exist_ok=True)
    sql(url, V1[backend])
    sql(url, "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);"
             "INSERT INTO schema_migrations VALUES (1, 'directory', 1700000000000); DELETE FROM event_chain;")
    src, dst = connect(source_url), connect(url)
    mark = "?" if isinstance(dst, sqlite3.Connection) else "%s"
    for t in V1_TABLES:
        cols = columns(dst, t)
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()
        if rows:
            ins = f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
            if isinstance(dst, sqlite3.Connection):
                dst.executemany(ins, rows)
            else:
                with dst.cursor() as c:
                    c.executemany(ins, rows)
    if isinstance(dst, sqlite3.Connection):
        dst.commit()
    src.close()
    dst.close()

def fill_version1_content(inst: Installation) -> None:
    inst.server(GATEHOUSE_BOOTSTRAP_PASSWORD=PASSWORD, GATEHOUSE_BOOTSTRAP_TOKEN="bootstrap-token-0123456789abcdef")
    inst.user("alice", PASSWORD)
    inst.user("bob", PASSWORD)
    inst.cli("group", "create", "staff")
    inst.cli("group", "create", "team", "--parent", "staff")
    inst.cli("group", "add", "team", "alice")
    inst.cli("app", "create", "wiki", "--name", "Wiki", "--launch-url", "https://wiki.example.com/")
    inst.cli("app", "bind", "wiki", "staff")
    inst.cli("recovery", "key", "bob")
    inst.cli("user", "disable", "bob")
    for p in inst.servers:
        p.terminate()
        p.wait(10)
    inst.servers.clear()

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_schema_1_database_is_migrated_forward_intact(backend, tmp_path):
    scratch, old = Target(backend), Target(backend)
    restored = Target("postgres" if backend == "sqlite" else "sqlite")
    try:
        fill_version1_content(scratch.inst)
        make_v1_database(backend, scratch.inst.database_url, old)
        before = canonical_dump(old.inst.database_url)
        assert before["users"] and before["events"] and before["bindings"]
        # A backup at schema 1 restores at schema 1, then migrates forward.
        old.inst.cli("backup", "-o", str(tmp_path / "v1.tar"))
        st = json.loads(old.inst.cli("--json", "status", check=False).stdout)
        assert st["schema version"].startswith("1 (migrations pending"), st
        r = restored.inst.cli("restore", str(tmp_path / "v1.tar"))
        newest = len(list((ROOT / "crates/store/migrations/sqlite").glob("*.sql")))
        assert f"(schema 1, migrated to {newest})" in r.stderr, r.stderr

        for inst in (old.inst, restored.inst):
            r = inst.cli("migrate")
            assert f"schema version {newest}" in r.stdout, r.stdout
            after = canonical_dump(inst.database_url)
            for t in V1_TABLES:
                # Later versions add columns (provider settings, integer ids):
                # every value the version-1 row had is still there, unchanged.
                kept = {c for row in before[t] for c, _ in row}
                strip = lambda rows: sorted((tuple(c for c in row if c[0] in kept) for row in rows), key=repr)
                assert strip(after[t]) == before[t], t
            assert "intact" in inst.cli("events", "verify").stdout
            members = inst.cli("group", "members", "staff").stdout
            assert "alice" in members and "via team" in members
            users = {u["username"]: u for u in json.loads(inst.cli("--json", "user", "list").stdout)}
            assert users["bob"]["is_active"] is False and users["alice"]["is_active"] is True
            srv = inst.server()
            assert WebClient(srv.url).sign_in("alice", PASSWORD).status_code == 303
            assert WebClient(srv.url).sign_in("akadmin", PASSWORD).status_code == 303
            assert WebClient(srv.url).sign_in("bob", PASSWORD).status_code != 303
            assert "wiki" in inst.cli("access", "--format", "csv").stdout
    finally:
        for t in (scratch, old, restored):
            t.close()

def test_status_warns_when_the_postgres_major_version_changed():
    target = Target("postgres")
    inst = target.inst
    try:
        srv = inst.server()
        env = {"GATEHOUSE_LISTEN": srv.url.removeprefix("http://")}
        st = json.loads(inst.cli("--json", "status", check=False, **env).stdout)
        major = int(st["postgresql"].split(".")[0])
        assert "WARNING" not in st["postgresql"], st
        # As after a pg_upgrade from an older major version:
        sql(inst.database_url, "UPDATE database_facts SET value = '9' WHERE name = 'postgres_major'")
        r = inst.cli("--json", "status", check=False, **env)
        st = json.loads(r.stdout)
        assert f"changed from 9 to {major}" in st["postgresql"], st
        assert "warning: PostgreSQL" in r.stderr
        r = inst.cli("status", "--acknowledge-postgres-upgrade", check=False, **env)
        assert f"PostgreSQL {major} recorded" in r.stderr, r.stderr
        st = json.loads(inst.cli("--json", "status", check=False, **env).stdout)
        assert "WARNING" not in st["postgresql"]
        events = json.loads(inst.cli("--json", "events", "--action", "postgres_upgrade_acknowledged").stdout)
        assert len(events) == 1 and events[0]["context"]["from_major"] == 9
        assert "intact" in inst.cli("events", "verify").stdout
    finally:
        target.close()
