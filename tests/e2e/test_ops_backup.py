"""Backup and restore with the real binary on both backends and across them:
every table's content equal by a canonical dump read with sqlite3/psycopg,
refusals (damaged, truncated, wrong passphrase, newer schema, non-empty
target), a backup taken under write load, migrate-db from a live SQLite, and
scheduled backups in `gatehouse status`."""

import json
import threading
import time

import pytest

from conftest import Installation, WebClient
from ops_support import (
    PASSWORD,
    Target,
    canonical_dump,
    drop_pg_database,
    fill_every_table,
    flip_byte_in_part,
    new_pg_database,
    part_rows,
    rewrite_backup,
    tables,
)

BACKENDS = ["sqlite", "postgres"]

@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """One filled installation per backend, with its canonical dump taken
    before the backup (a backup records itself afterwards) and the backup."""
    made, pg = {}, []
    for backend in BACKENDS:
        if backend == "postgres":
            name, url = new_pg_database()
            pg.append(name)
            inst = Installation(url)
        else:
            inst = Installation()
        fill_every_table(inst)
        for p in inst.servers:
            p.terminate()
            p.wait(10)
        inst.servers.clear()
        dump = canonical_dump(inst.database_url)
        empty = [t for t, rows in dump.items() if not rows]
        assert not empty, f"tables without a fixture row (add one in ops_support.py): {empty}"
        path = tmp_path_factory.mktemp(backend) / "backup.tar"
        inst.cli("backup", "-o", str(path))
        made[backend] = (inst, dump, path)
    yield made
    for inst, _, _ in made.values():
        inst.close()
    for name in pg:
        drop_pg_database(name)

@pytest.mark.parametrize("src", BACKENDS)
@pytest.mark.parametrize("dst", BACKENDS)
def test_round_trip_keeps_every_row(sources, src, dst):
    inst, dump, path = sources[src]
    target = Target(dst)
    try:
        r = target.inst.cli("restore", str(path))
        assert "restored 3 users" in r.stderr and "audit chain verified" in r.stderr, r.stderr
        restored = canonical_dump(target.inst.database_url)
        assert tables(target.inst.database_url) == tables(inst.database_url)
        for t in dump:
            assert restored[t] == dump[t], f"table {t} differs after {src} -> {dst}"
        assert "intact" in target.inst.cli("events", "verify").stdout
        if src != dst:
            # The restored directory works: alice signs in with her password.
            srv = target.inst.server()
            assert WebClient(srv.url).sign_in("alice", PASSWORD).status_code == 303
    finally:
        target.close()

def test_check_verifies_without_writing(sources, tmp_path):
    _, dump, path = sources["sqlite"]
    target = Target("sqlite")
    try:
        r = target.inst.cli("restore", "--check", str(path))
        assert "every checksum matches" in r.stdout and "3 users" in r.stdout, r.stdout
        assert not (target.inst.dir / "data" / "gatehouse.db").exists()
    finally:
        target.close()

def refused(inst, *args, needle: str, code: int = 2):
    r = inst.cli(*args, check=False)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr
    return r

def test_damaged_truncated_and_foreign_files_are_refused_before_any_write(sources, tmp_path):
    _, _, path = sources["postgres"]
    target = Target("postgres")
    try:
        bad = tmp_path / "flipped.tar"
        flip_byte_in_part(path, bad)
        refused(target.inst, "restore", str(bad), needle="damaged")
        short = tmp_path / "short.tar"
        short.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])
        refused(target.inst, "restore", str(short), needle="truncated")
        refused(target.inst, "restore", "--check", str(short), needle="truncated")
        other = tmp_path / "other.tar"
        other.write_bytes(b"not a backup at all" * 100)
        refused(target.inst, "restore", str(other), needle="damaged")
        # Nothing was written: the target was never even migrated.
        assert tables(target.inst.database_url) == []
    finally:
        target.close()

def test_newer_schema_and_format_are_refused_clearly(sources, tmp_path):
    _, _, path = sources["sqlite"]
    newer = tmp_path / "newer.tar"
    rewrite_backup(path, newer, lambda h: h.update(schema_version=999, gatehouse_version="9.9.9"))
    target = Target("sqlite")
    try:
        r = refused(target.inst, "restore", str(newer), needle="schema version 999, newer than this binary knows")
        assert "9.9.9" in r.stderr
        future = tmp_path / "future.tar"
        rewrite_backup(path, future, lambda h: h.update(format_version=2))
        refused(target.inst, "restore", "--check", str(future), needle="format version 2")
        # The rewriting itself is sound: an unchanged rewrite restores.
        same = tmp_path / "same.tar"
        rewrite_backup(path, same, lambda h: None)
        target.inst.cli("restore", "--check", str(same))
    finally:
        target.close()

def test_encrypted_backup_needs_the_right_passphrase(sources, tmp_path):
    inst, dump, _ = sources["sqlite"]
    (tmp_path / "pass").write_text("a long passphrase 42\n")
    (tmp_path / "wrong").write_text("not it\n")
    enc = tmp_path / "b.tar.age"
    inst.cli("backup", "-o", str(enc), "--passphrase-file", str(tmp_path / "pass"), "--include-secrets", GATEHOUSE_SECRET_KEY="k" * 43)
    assert enc.read_bytes().startswith(b"age-encryption.org/v1")
    assert b"alice" not in enc.read_bytes()
    target = Target("sqlite")
    try:
        refused(target.inst, "restore", str(enc), needle="encrypted")
        refused(target.inst, "restore", str(enc), "--passphrase-file", str(tmp_path / "wrong"), needle="wrong passphrase")
        r = target.inst.cli("restore", str(enc), "--passphrase-file", str(tmp_path / "pass"), "--restore-secrets")
        assert "GATEHOUSE_SECRET_KEY written" in r.stderr, r.stderr
        assert f"GATEHOUSE_SECRET_KEY={'k' * 43}" in (target.inst.dir / ".env").read_text()
        restored = canonical_dump(target.inst.database_url)
        for t in ("users", "groups", "events", "mfa_authenticators"):
            assert restored[t] == dump[t]
    finally:
        target.close()
    # Secrets never travel unencrypted.
    r = inst.cli("backup", "-o", str(tmp_path / "plain.tar"), "--include-secrets", check=False, GATEHOUSE_SECRET_KEY="k" * 43)
    assert r.returncode == 2 and "encrypted" in r.stderr

def test_a_non_empty_target_needs_force_which_says_what_it_replaces(sources):
    _, dump, path = sources["sqlite"]
    target = Target("postgres")
    try:
        target.inst.user("mallory", PASSWORD)
        r = refused(target.inst, "restore", str(path), needle="not empty")
        assert "1 users" in r.stderr
        assert [u for u in json.loads(target.inst.cli("--json", "user", "list").stdout) if u["username"] == "mallory"]
        r = target.inst.cli("restore", str(path), "--force")
        assert "--force: replacing" in r.stderr and "1 users" in r.stderr, r.stderr
        assert canonical_dump(target.inst.database_url)["users"] == dump["users"]
    finally:
        target.close()

@pytest.mark.parametrize("backend", BACKENDS)
def test_backup_under_write_load_restores_consistent(backend, tmp_path):
    source = Target(backend)
    target = Target("sqlite" if backend == "postgres" else "postgres")
    inst = source.inst
    try:
        srv = inst.server(GATEHOUSE_BOOTSTRAP_PASSWORD=PASSWORD)
        inst.user("alice", PASSWORD)
        for g in range(3):
            inst.cli("group", "create", f"g{g}")
        stop = threading.Event()
        acked: list[str] = []

        def sign_ins():
            while not stop.is_set():
                if WebClient(srv.url).sign_in("alice", PASSWORD).status_code == 303:
                    acked.append("login")

        def members():
            n = 0
            while not stop.is_set():
                inst.cli("user", "create", f"u{n}", f"u{n}@example.com")
                inst.cli("group", "add", f"g{n % 3}", f"u{n}")
                acked.append(f"u{n}")
                n += 1

        threads = [threading.Thread(target=sign_ins), threading.Thread(target=sign_ins), threading.Thread(target=members)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before = [a for a in acked if a != "login"]
        path = tmp_path / "live.tar"
        inst.cli("backup", "-o", str(path))
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        r = target.inst.cli("restore", str(path))
        assert "audit chain verified" in r.stderr, r.stderr
        restored = canonical_dump(target.inst.database_url)
        names = {dict(row)["username"] for row in restored["users"]}
        # Every user acknowledged before the backup started is in it...
        assert set(before) <= names, set(before) - names
        # ...and the snapshot is one moment: a user's membership is there iff
        # the event recording it is (both commit in one transaction).
        ids = {dict(row)["id"] for row in restored["users"]}
        assert all(dict(m)["user_id"] in ids for m in restored["memberships"])
        added = sum(1 for e in restored["events"] if '"added"' in dict(e)["context"] and dict(e)["action"] == "model_updated")
        loaded = {dict(row)["id"] for row in restored["users"] if dict(row)["username"].startswith("u")}
        assert added == sum(1 for m in restored["memberships"] if dict(m)["user_id"] in loaded)
        logins = sum(1 for e in restored["events"] if dict(e)["action"] == "login")
        assert logins == len(restored["sessions"]) and logins > 0
        assert len(acked) > len(before)  # writes went on during and after the backup
    finally:
        source.close()
        target.close()

def test_migrate_db_copies_a_live_sqlite_installation_to_postgres(tmp_path):
    source = Target("sqlite")
    name, url = new_pg_database()
    try:
        inst = source.inst
        srv = inst.server(GATEHOUSE_BOOTSTRAP_PASSWORD=PASSWORD)
        inst.user("alice", PASSWORD)
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        assert WebClient(srv.url).sign_in("alice", PASSWORD).status_code == 303
        before = canonical_dump(inst.database_url)
        r = inst.cli("migrate-db", "--to", url)  # while the server runs
        assert "copied" in r.stderr and "audit chain verified" in r.stderr, r.stderr
        after = canonical_dump(url)
        for t in ("users", "groups", "memberships", "sessions", "events", "event_chain"):
            assert after[t] == before[t], t
        r = inst.cli("migrate-db", "--to", url, check=False)
        assert r.returncode == 2 and "not empty" in r.stderr
        moved = Installation(url)
        try:
            srv2 = moved.server()
            assert WebClient(srv2.url).sign_in("alice", PASSWORD).status_code == 303
        finally:
            moved.close()
    finally:
        source.close()
        drop_pg_database(name)

def test_scheduled_backups_rotate_and_show_in_status(tmp_path):
    target = Target("sqlite")
    inst = target.inst
    try:
        env = {"GATEHOUSE_BACKUP__SCHEDULE": "1s", "GATEHOUSE_BACKUP__KEEP": "2", "GATEHOUSE_WORKER__POLL_MS": "100"}
        srv = inst.server(**env)
        env["GATEHOUSE_LISTEN"] = srv.url.removeprefix("http://")
        backups = inst.dir / "data" / "backups"
        deadline = time.time() + 20
        while time.time() < deadline:
            recorded = json.loads(inst.cli("--json", "worker", "jobs", "--kind", "backup.scheduled", "--state", "done").stdout)
            if len(recorded) >= 3:
                break
            time.sleep(0.2)
        assert len(recorded) >= 3, recorded
        files = sorted(p.name for p in backups.iterdir() if not p.name.endswith(".partial"))
        assert len(files) == 2 and all(f.startswith("gatehouse-backup-") for f in files), files
        st = json.loads(inst.cli("--json", "status", **env).stdout)
        assert st["healthy"] and "scheduled" in st["last backup"] and "ago" in st["last backup"], st
        assert "every 1 s, keeping 2" in st["backup schedule"], st
        inst.cli("restore", "--check", str(backups / files[-1]))
        # The stack's recipe shows the backup's age too.
        r = inst.cli("status", **env)
        assert "last backup" in r.stdout
    finally:
        target.close()

def test_failing_scheduled_backups_make_status_unhealthy(tmp_path):
    target = Target("sqlite")
    inst = target.inst
    try:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        env = {"GATEHOUSE_BACKUP__SCHEDULE": "1s", "GATEHOUSE_BACKUP__DIR": str(blocker / "backups"), "GATEHOUSE_WORKER__POLL_MS": "100"}
        srv = inst.server(**env)
        env["GATEHOUSE_LISTEN"] = srv.url.removeprefix("http://")
        deadline = time.time() + 20
        while time.time() < deadline:
            r = inst.cli("--json", "status", check=False, **env)
            st = json.loads(r.stdout)
            if "backup failure" in st:
                break
            time.sleep(0.2)
        assert r.returncode == 1 and not st["healthy"], st
        assert "cannot create" in st["backup failure"], st
    finally:
        target.close()

def test_backup_parts_hold_rows_as_json_arrays(sources):
    _, dump, path = sources["sqlite"]
    rows = part_rows(path, "users")
    assert len(rows) == len(dump["users"]) and all(isinstance(r, list) for r in rows)

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_table_or_column_the_schema_does_not_know_is_refused(backend, tmp_path):
    from ops_support import sql

    target = Target(backend)
    try:
        target.inst.user("alice", PASSWORD)
        sql(target.inst.database_url, "CREATE TABLE stranger (x TEXT)")
        r = refused(target.inst, "backup", "-o", str(tmp_path / "b.tar"), needle="table stranger is not part of")
        assert not (tmp_path / "b.tar").exists() and not (tmp_path / "b.tar.partial").exists()
        sql(target.inst.database_url, "DROP TABLE stranger; ALTER TABLE users ADD COLUMN nickname TEXT")
        refused(target.inst, "backup", "-o", str(tmp_path / "b.tar"), needle="users.nickname")
        # The failed attempts are on record for `status`.
        st = json.loads(target.inst.cli("--json", "status", check=False).stdout)
        assert "none recorded" in st["last backup"] and "users.nickname" in st["backup failure"], st
    finally:
        target.close()
