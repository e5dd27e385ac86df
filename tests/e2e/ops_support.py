"""Helpers of the operations tests: canonical dumps of a database (read with
sqlite3 and psycopg, not with Gatehouse), a directory that has a row in every
table, PostgreSQL databases of our own, and backup files taken apart and put
back together with Python's tarfile."""

import gzip
import hashlib
import io
import json
import sqlite3
import subprocess
import tarfile
import uuid
from pathlib import Path

import psycopg
import requests

from conftest import PG_ADMIN_URL, Installation, WebClient

SKIPPED_TABLES = {"schema_migrations", "database_facts"}
PASSWORD = "correct-horse-battery-9"

def tables(url: str) -> list[str]:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as c:
            rows = c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchall()
    else:
        with psycopg.connect(url) as c:
            rows = c.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            ).fetchall()
    return sorted(r[0] for r in rows if r[0] not in SKIPPED_TABLES)

def canonical_dump(url: str) -> dict[str, list]:
    """Every row of every table as sorted (column, value) tuples, rows sorted:
    two databases with the same content give equal dumps, whatever the backend."""
    out = {}
    if url.startswith("sqlite://"):
        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        run = lambda sql: (lambda cur: ([d[0] for d in cur.description], cur.fetchall()))(conn.execute(sql))
    else:
        conn = psycopg.connect(url)
        run = lambda sql: (lambda cur: ([d.name for d in cur.description], cur.fetchall()))(conn.execute(sql))
    try:
        for t in tables(url):
            cols, rows = run(f"SELECT * FROM {t}")
            out[t] = sorted((tuple(sorted(zip(cols, r))) for r in rows), key=repr)
    finally:
        conn.close()
    return out

def count(url: str, table: str) -> int:
    return sum(1 for _ in canonical_dump_table(url, table))

def canonical_dump_table(url: str, table: str) -> list:
    return canonical_dump(url)[table]

def sql(url: str, statements: str) -> None:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as c:
            c.executescript(statements)
    else:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(statements)

def new_pg_database() -> tuple[str, str]:
    name = f"gh_ops_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"

def drop_pg_database(name: str) -> None:
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)

class Target:
    """An empty installation of either backend to restore into."""

    def __init__(self, backend: str):
        self.pg_name = None
        if backend == "postgres":
            self.pg_name, url = new_pg_database()
            self.inst = Installation(url)
        else:
            self.inst = Installation()

    def close(self):
        self.inst.close()
        if self.pg_name:
            drop_pg_database(self.pg_name)

# Rows for the tables that only protocol flows fill (OAuth grants, MFA and its
# enrolment windows, replay records, job effects), written as those flows write them.
FIXTURE_SQL = """
INSERT INTO oauth_grants (id, application_id, user_id, session_id, scopes, auth_time, amr, nonce, created_at, expires_at, revoked_at)
  SELECT '11111111-1111-4111-8111-111111111111', a.id, u.id, NULL, 'openid email', 1700000000000, '["pwd"]', 'n-1', 1700000000000, 1900000000000, NULL
  FROM applications a, users u WHERE a.slug = 'wiki' AND u.username = 'alice';
INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, code_challenge, code_challenge_method, created_at, expires_at, used_at)
  VALUES ('c0de', '11111111-1111-4111-8111-111111111111', 'https://wiki.example.com/cb', 'ch', 'S256', 1700000000000, 1700000060000, 1700000001000);
INSERT INTO oauth_refresh_tokens (token_hash, grant_id, scopes, created_at, expires_at, used_at)
  VALUES ('r3fr3sh', '11111111-1111-4111-8111-111111111111', 'openid offline_access', 1700000000000, 1900000000000, NULL);
INSERT INTO oauth_device_codes (device_code_hash, user_code, application_id, scopes, created_at, expires_at, interval_secs, last_poll_at, status, grant_id)
  SELECT 'd3v1c3', 'ABCD-EFGH', a.id, 'openid', 1700000000000, 1700000600000, 5, NULL, 'pending', NULL FROM applications a WHERE a.slug = 'wiki';
INSERT INTO oauth_revoked_tokens (jti, expires_at) VALUES ('11111111-1111-4111-8111-111111111111.x', 1900000000000);
INSERT INTO oauth_consents (user_id, application_id, scopes, created_at)
  SELECT u.id, a.id, 'openid email', 1700000000000 FROM users u, applications a WHERE u.username = 'alice' AND a.slug = 'wiki';
INSERT INTO replay_ids (id_hash, expires_at) VALUES ('r3qu3st', 1900000000000);
INSERT INTO mfa_enrolment (user_id, first_offered_at, window_until, window_reason, link_hash, link_until)
  SELECT u.id, 1700000000000, 1700003600000, 'first_sign_in', NULL, NULL FROM users u WHERE u.username = 'alice';
INSERT INTO job_effects (effect_key, job_id, done_at, detail) VALUES ('mail:fixture', '22222222-2222-4222-8222-222222222222', 1700000000000, '{"message_id":"<x@y>"}');
INSERT INTO mfa_authenticators (id, user_id, kind, name, secret, credential_id, last_used_step, created_at, last_used_at)
  SELECT '33333333-3333-4333-8333-333333333333', u.id, 'totp', 'phone', 'c2VhbGVk', NULL, 56666666, 1700000000000, NULL FROM users u WHERE u.username = 'bob';
INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at)
  SELECT u.id, 'rc0', 1700000000000, NULL FROM users u WHERE u.username = 'bob';
INSERT INTO flows (id, token_hash, state, created_at, expires_at)
  VALUES ('44444444-4444-4444-8444-444444444444', 'fl0w', '{"kind":"fixture","text":"ünïcode \\"quoted\\""}', 1700000000000, 1900000000000);
"""

BLUEPRINT = """version: 1
metadata: {name: ops-fixture}
entries:
  - model: authentik_core.group
    identifiers: {name: blueprinted}
"""

def fill_every_table(inst: Installation) -> None:
    """A directory with at least one row in every table: real commands and a
    real server for what they write, FIXTURE_SQL for what only protocol flows
    write. A table left empty fails the round-trip test (new tables need a
    fixture row here)."""
    env = {"GATEHOUSE_BOOTSTRAP_TOKEN": "bootstrap-token-0123456789abcdef", "GATEHOUSE_BOOTSTRAP_PASSWORD": PASSWORD}
    srv = inst.server(**env)
    inst.user("alice", PASSWORD, "Alice Ünïcode")
    inst.user("bob", PASSWORD)
    inst.cli("group", "create", "staff")
    inst.cli("group", "create", "team", "--parent", "staff")
    inst.cli("group", "create", "subteam", "--parent", "team")
    inst.cli("group", "add", "subteam", "alice")
    inst.cli("group", "add", "staff", "bob")
    inst.cli("app", "create", "wiki", "--name", "Wiki", "--provider", "oidc", "--redirect-uri", "https://wiki.example.com/cb")
    inst.cli("app", "create", "grafana", "--name", "Grafana", "--provider", "proxy", "--external-host", "https://grafana.example.com")
    inst.cli("app", "create", "files", "--name", "Files", "--provider", "saml", "--acs-url", "https://files.example.com/acs", "--audience", "https://files.example.com")
    inst.cli("app", "bind", "wiki", "team")
    # A provider no application uses yet (only the REST API makes one).
    r = requests.post(f"{srv.url}/api/v3/providers/proxy/", headers={"Authorization": f"Bearer {env['GATEHOUSE_BOOTSTRAP_TOKEN']}"},
                      json={"name": "Spare proxy", "external_host": "https://spare.example.com",
                            "authorization_flow": "67617465-686f-7573-0000-000000000001",
                            "invalidation_flow": "67617465-686f-7573-0000-000000000002"})
    assert r.status_code == 201, r.text
    inst.cli("invite", "create", "--group", "staff", "--name", "Zoë Invitée", "--invitation-name", "for-zoe")
    inst.cli("key", "rotate")
    inst.cli("key", "rotate", "--kind", "saml")
    inst.cli("recovery", "key", "bob")
    inst.cli("policy", "mfa", "set", "groups", "--group", "admins")
    (inst.dir / "bp.yaml").write_text(BLUEPRINT)
    inst.cli("blueprint", "apply", str(inst.dir / "bp.yaml"))
    web = WebClient(srv.url)
    assert web.sign_in("alice", PASSWORD).status_code == 303
    WebClient(srv.url).sign_in("bob", "wrong-password")  # a failure: throttle record and login_failed
    WebClient(srv.url).http.get(f"{srv.url}/login")  # an open flow
    inst.cli("backup", "-o", str(inst.dir / "earlier.tar"))  # a backup record
    sql(inst.database_url, FIXTURE_SQL)

def read_members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tf:
        return [(m, tf.extractfile(m).read()) for m in tf.getmembers()]

def write_members(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w") as tf:
        for info, data in members:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

def rewrite_backup(src: Path, dst: Path, edit_header) -> None:
    """A backup whose header (and manifest) `edit_header` changed, with every
    checksum recomputed: only Gatehouse's own checks can refuse it."""
    members = read_members(src)
    sha = lambda b: hashlib.sha256(b).hexdigest()
    out, content = [], hashlib.sha256()
    manifest = json.loads(next(d for m, d in members if m.name.endswith("manifest.json")))
    edit_header(manifest["header"])
    for info, data in members:
        if info.name.endswith("header.json"):
            data = json.dumps(manifest["header"]).encode()
        if info.name.endswith("manifest.json") or info.name.endswith("manifest.json.sha256"):
            continue
        content.update(data)
        out.append((info, data))
    manifest["content_sha256"] = content.hexdigest()
    mbytes = json.dumps(manifest).encode()
    infos = {m.name: m for m, _ in members}
    out.append((infos["gatehouse-backup/manifest.json"], mbytes))
    out.append((infos["gatehouse-backup/manifest.json.sha256"], (sha(mbytes) + "\n").encode()))
    write_members(dst, out)

def flip_byte_in_part(src: Path, dst: Path, table: str = "users") -> None:
    """Flips one byte inside a table part's compressed data (not in tar padding)."""
    data = bytearray(src.read_bytes())
    with tarfile.open(src) as tf:
        member = next(m for m in tf.getmembers() if f"/tables/{table}/" in m.name)
    data[member.offset_data + member.size // 2] ^= 0x55
    dst.write_bytes(bytes(data))

def part_rows(path: Path, table: str) -> list[list]:
    rows = []
    for info, data in read_members(path):
        if f"/tables/{table}/" in info.name:
            rows += [json.loads(l) for l in gzip.decompress(data).splitlines() if l]
    return rows
