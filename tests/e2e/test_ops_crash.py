"""Crash safety on SQLite: a server under write load (sign-ins from several
clients, each writing a session and its audit event) is killed with SIGKILL
at a random moment, twenty times. After each kill the database passes
`PRAGMA integrity_check`, `gatehouse events verify`, and holds every sign-in
a client saw acknowledged (the session whose cookie it received)."""

import hashlib
import random
import signal
import sqlite3
import threading
import time

import requests

from conftest import WebClient
from ops_support import PASSWORD

KILLS = 20
USERS = [f"crash{i}" for i in range(4)]

def load(url: str, username: str, stop: threading.Event, acked: list):
    while not stop.is_set():
        web = WebClient(url)
        try:
            r = web.sign_in(username, PASSWORD)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, AssertionError):
            return  # the server is gone: whatever was in flight was not acknowledged
        if r.status_code == 303 and "gatehouse_session" in r.cookies:
            acked.append(r.cookies["gatehouse_session"])

def test_sigkill_under_write_load_loses_nothing_acknowledged(sqlite_install):
    inst = sqlite_install
    for u in USERS:
        inst.user(u, PASSWORD)
    rng = random.Random(20261206)
    db = inst.dir / "data" / "gatehouse.db"
    acked_total: list[str] = []
    for kill in range(KILLS):
        srv = inst.server()
        stop, acked = threading.Event(), []
        threads = [threading.Thread(target=load, args=(srv.url, u, stop, acked)) for u in USERS]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.2))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        inst.servers.remove(srv.proc)
        acked_total += acked

        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"after kill {kill + 1}"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == [], f"after kill {kill + 1}"
            stored = {r[0] for r in conn.execute("SELECT token_hash FROM sessions")}
        missing = [c for c in acked if hashlib.sha256(c.encode()).hexdigest() not in stored]
        assert not missing, f"kill {kill + 1}: {len(missing)} acknowledged sign-ins lost"
        verify = inst.cli("events", "verify")
        assert "intact" in verify.stdout, verify.stdout
    assert len(acked_total) >= KILLS, "the load generator got too few sign-ins through to mean anything"
    logins = int(inst.cli("--json", "events", "--action", "login", "--limit", "100000").stdout.count('"action": "login"'))
    assert logins >= len(acked_total)
