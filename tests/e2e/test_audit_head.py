"""Issue 13, finding 11: the audit log holds against someone who can write to
the database. `events head` signs the chain head with a key derived from
GATEHOUSE_SECRET_KEY; the worker posts heads to a file and to syslog; after an
edit with every hash recomputed (which `events verify` alone cannot see),
`events verify --head FILE` fails."""

import hashlib
import json
import socket
import sqlite3
import subprocess

from conftest import BIN
from worker_helpers import FAST, wait_until

def recompute_chain(db_path) -> None:
    """An attacker with write access: edit an event, recompute every later
    hash and the head row, exactly as Gatehouse computes them."""
    con = sqlite3.connect(db_path)
    con.execute("UPDATE events SET actor = 'cli:mallory' WHERE seq = 2")
    anchor = con.execute("SELECT anchor_hash FROM event_chain").fetchone()[0]
    prev, last = anchor, None
    rows = con.execute(
        "SELECT seq, id, at, action, actor, username, client_ip, context FROM events ORDER BY seq").fetchall()
    for seq, id_, at, action, actor, user, ip, context in rows:
        content = {"seq": seq, "id": id_, "at": at, "action": action, "actor": actor, "user": user,
                   "client_ip": ip, "context": json.loads(context), "prev_hash": prev}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = hashlib.sha256(canonical.encode()).hexdigest()
        con.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
        prev, last = h, seq
    con.execute("UPDATE event_chain SET head_seq = ?, head_hash = ?", (last, prev))
    con.commit()
    con.close()

def test_signed_heads_catch_a_recomputed_chain(sqlite_install, tmp_path):
    inst = sqlite_install
    heads = tmp_path / "heads.jsonl"
    syslog_path = tmp_path / "syslog.sock"
    syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    syslog.bind(str(syslog_path))
    syslog.settimeout(20)
    inst.user("alice", "Audit-Head-Pass-1")

    # The server's worker posts a signed head to a file at start (then once
    # per period for the whole cluster).
    inst.server(**FAST, GATEHOUSE_AUDIT_HEAD_EXPORT=f"file:{heads}")
    posted = wait_until(lambda: heads.exists() and heads.read_text().strip(), what="a head in the file")
    line = json.loads(posted.splitlines()[0])
    assert line["format"] == "gatehouse-audit-head-v1" and line["signature"] and line["head_seq"] >= 1
    assert (heads.stat().st_mode & 0o777) == 0o600
    inst.cli("user", "create", "bob", "bob@example.com", "Bob")  # after the posted head
    inst.cli("events", "head", "-o", str(heads))
    out = inst.cli("events", "verify", "--head", str(heads)).stdout
    assert "consistent with 2 signed heads" in out, out

    # Syslog: one datagram per head, in RFC 3164 framing, also accepted by verify.
    # (Any worker may run the job: every node gets the same setting; here the
    # server stops first and a lone worker posts to syslog.)
    for p in inst.servers:
        p.terminate()
        p.wait(10)
    inst.servers.clear()
    env = inst.env(GATEHOUSE_AUDIT_HEAD_EXPORT=f"syslog:{syslog_path}", GATEHOUSE_AUDIT_HEAD_EVERY_MINUTES="1",
                   **{k: str(v) for k, v in FAST.items()})
    worker = subprocess.Popen([str(BIN), "worker"], env=env, cwd=inst.dir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    inst.servers.append(worker)
    try:
        datagram = syslog.recv(8192).decode()
    finally:
        syslog.close()
    assert datagram.startswith("<37>gatehouse[") and " audit-head {" in datagram, datagram
    syslog_file = tmp_path / "syslog.txt"
    syslog_file.write_text(datagram + "\n")
    assert "consistent" in inst.cli("events", "verify", "--head", str(syslog_file)).stdout

    # The head is signed with the secret key, never the database: a head file
    # signed elsewhere is refused.
    other = tmp_path / "foreign.jsonl"
    r = inst.cli("events", "head", check=False, GATEHOUSE_SECRET_KEY="someone-else's-secret-key-42")
    other.write_text(r.stdout)
    bad = inst.cli("events", "verify", "--head", str(other), check=False)
    assert bad.returncode == 1 and "not signed by this installation's key" in bad.stderr, bad.stderr

    # Stop everything, then play the attacker on the database file.
    for p in inst.servers:
        p.terminate()
        p.wait(10)
    inst.servers.clear()
    recompute_chain(inst.dir / "data" / "gatehouse.db")
    plain = inst.cli("events", "verify", check=False)
    assert plain.returncode == 0, "the chain alone cannot see a recomputed chain"
    caught = inst.cli("events", "verify", "--head", str(heads), check=False)
    assert caught.returncode == 1, caught.stdout
    assert "recomputed" in caught.stderr, caught.stderr
