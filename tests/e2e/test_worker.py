"""The background worker as separate processes: a worker killed (SIGKILL) with
a mail in flight, retries with backoff into the dead letter, operator retry,
health in `gatehouse status`, and two workers on one PostgreSQL."""

import json
import os
import signal
import time

import pytest

from smtp_sink import Sink
from worker_helpers import FAST, jobs, server, wait_until, worker
from conftest import free_port

@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()

def status(inst, **env):
    r = inst.cli("--json", "status", check=False, **env)
    return r.returncode, json.loads(r.stdout)

def test_killed_worker_job_completes_once_after_restart(sqlite_install, sink):
    inst = sqlite_install
    env = {**sink.env(), **FAST}
    srv = server(inst, "--no-worker", **env)
    srv_env = {**env, "GATEHOUSE_LISTEN": srv.url.removeprefix("http://")}

    # No worker yet: the stack is not healthy.
    code, st = status(inst, **srv_env)
    assert code == 1 and "no live worker" in st["worker"], st

    sink.stall_next = 1
    first = worker(inst, "first", **env)
    wait_until(lambda: status(inst, **srv_env)[0] == 0, what="healthy status with a worker")
    code, st = status(inst, **srv_env)
    assert st["server"].startswith("ready") and st["worker"].startswith("healthy"), st

    inst.cli("email", "test", "--queue", "stall@example.com", **env)
    assert sink.stalled.wait(15), "the worker never reached DATA"
    [job] = jobs(inst, "--kind", "mail.send")
    assert job["state"] == "running" and job["attempts"] == 1
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    sink.release.set()  # the sink now sees the client gone: nothing was accepted
    wait_until(lambda: sink.aborted == 1, what="the sink to notice the dead client")
    assert sink.to("stall@example.com") == []

    # The worker's heartbeat goes stale: unhealthy.
    wait_until(lambda: status(inst, **srv_env)[0] == 1, timeout=10, what="unhealthy status after the kill")

    # A new worker picks the job up once its lease has run out.
    worker(inst, "second", **env)
    sink.wait_for("stall@example.com")
    done = wait_until(lambda: [j for j in jobs(inst, "--state", "done") if j["id"] == job["id"]], what="job done")
    assert done[0]["attempts"] == 2
    time.sleep(1.0)
    assert len(sink.to("stall@example.com")) == 1, "exactly once"
    assert status(inst, **srv_env)[0] == 0

def test_failing_job_backs_off_into_dead_letter_and_can_be_retried(sqlite_install, sink):
    inst = sqlite_install
    closed = free_port()  # nothing listens here: SMTP down
    down = {**sink.env(GATEHOUSE_EMAIL__PORT=closed), **FAST, "GATEHOUSE_WORKER__MAX_ATTEMPTS": 3}
    w = worker(inst, "down", **down)
    start = time.time()
    inst.cli("email", "test", "--queue", "late@example.com", **down)
    dead = wait_until(lambda: jobs(inst, "--state", "dead"), timeout=20, what="dead job")
    elapsed = time.time() - start
    [job] = dead
    assert job["attempts"] == 3
    assert "SMTP" in job["last_error"] or "connect" in job["last_error"].lower(), job["last_error"]
    # Backoff: 300 ms, then 600 ms between the three attempts.
    assert elapsed >= 0.9, elapsed
    listing = inst.cli("worker", "jobs", "--state", "dead", **down).stdout
    assert job["id"] in listing and "dead" in listing and "3/3" in listing
    assert jobs(inst, "--state", "queued") == []

    # SMTP comes back (a worker configured with it); an operator retries the job.
    w.terminate()
    w.wait(10)
    worker(inst, "up", **sink.env(), **FAST)
    out = inst.cli("worker", "retry", job["id"]).stdout
    assert "queued again" in out
    sink.wait_for("late@example.com")
    wait_until(lambda: jobs(inst, "--state", "done"), what="retried job done")
    assert "job_retried" in inst.cli("events", "--action", "job_retried").stdout
    # Retrying a job that is not dead is refused; a bad ID is bad input.
    assert inst.cli("worker", "retry", job["id"], check=False).returncode == 2
    assert inst.cli("worker", "retry", "nope", check=False).returncode == 2

def test_email_test_command(sqlite_install, sink):
    inst = sqlite_install
    out = inst.cli("email", "test", "ops@example.com", **sink.env(), GATEHOUSE_BRANDING_TITLE="Acme").stdout
    assert "sent test mail to ops@example.com" in out and "250" in out
    [msg] = sink.to("ops@example.com")
    assert msg["Subject"] == "Acme: test mail"
    # SMTP down: a clear error and exit 1.
    r = inst.cli("email", "test", "ops@example.com", check=False, **sink.env(GATEHOUSE_EMAIL__PORT=free_port()))
    assert r.returncode == 1 and "test mail to ops@example.com" in r.stderr and "SMTP" in r.stderr, r.stderr
    # Not configured, or a bad address: bad input.
    r = inst.cli("email", "test", "ops@example.com", check=False)
    assert r.returncode == 2 and "GATEHOUSE_EMAIL__HOST" in r.stderr
    r = inst.cli("email", "test", "not-an-address", check=False, **sink.env())
    assert r.returncode == 2
    # Settings show the mail settings, the password hidden.
    shown = inst.cli("settings", **sink.env(GATEHOUSE_EMAIL__PASSWORD="hunter2", GATEHOUSE_EMAIL__USERNAME="u")).stdout
    assert "GATEHOUSE_EMAIL__PASSWORD" in shown and "(set, hidden)" in shown and "hunter2" not in shown

def test_housekeeping_runs_once_per_cluster(pg_install):
    inst = pg_install
    env = {**FAST, "GATEHOUSE_WORKER__HOUSEKEEPING_SECONDS": 2}
    server(inst, **env)
    server(inst, **env)
    worker(inst, "extra", **env)
    time.sleep(5)
    purges = jobs(inst, "--kind", "housekeeping.purge", "--limit", "1000")
    keys = [j["idem_key"] for j in purges]
    assert len(keys) == len(set(keys)), "one job per period, whatever the number of nodes"
    assert 2 <= len(purges) <= 4, purges
    assert all(j["state"] in ("done", "running", "queued") for j in purges)
    assert any(j["state"] == "done" for j in purges)

def test_two_workers_on_postgres_never_run_a_job_twice(pg_install, sink):
    inst = pg_install
    env = {**sink.env(), **FAST}
    inst.cli("migrate")
    a = worker(inst, "a", **env)
    b = worker(inst, "b", **env)
    addresses = [f"user{i}@example.com" for i in range(40)]
    inst.cli("email", "test", "--queue", *addresses, **env)
    for addr in addresses:
        sink.wait_for(addr, timeout=60)
    time.sleep(1.0)
    for addr in addresses:
        assert len(sink.to(addr)) == 1, addr
    assert len(sink.messages) == 40
    done = jobs(inst, "--state", "done", "--kind", "mail.send", "--limit", "1000")
    assert len(done) == 40 and all(j["attempts"] == 1 for j in done)
    workers = {j["worker_id"] for j in done}
    print("jobs per worker:", {w: sum(1 for j in done if j["worker_id"] == w) for w in workers})
    assert a.poll() is None and b.poll() is None
