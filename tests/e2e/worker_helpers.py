"""Starting `gatehouse server --no-worker` and `gatehouse worker` processes."""

import subprocess
import time

from conftest import BIN, Installation, Server

# Small timings so the tests run in seconds (all registered settings).
FAST = {
    "GATEHOUSE_WORKER__POLL_MS": 100,
    "GATEHOUSE_WORKER__HEARTBEAT_MS": 300,
    "GATEHOUSE_WORKER__LEASE_MS": 1500,
    "GATEHOUSE_WORKER__RETRY_BASE_MS": 300,
    "GATEHOUSE_WORKER__RETRY_MAX_MS": 5000,
}

def server(inst: Installation, *args: str, **extra) -> Server:
    return inst.server(*args, **extra)

def worker(inst: Installation, name: str, **extra) -> subprocess.Popen:
    log = open(inst.dir / f"worker-{name}.log", "a")
    proc = subprocess.Popen([str(BIN), "worker"], env=inst.env(**extra), stdout=log, stderr=subprocess.STDOUT, cwd=inst.dir)
    inst.servers.append(proc)  # ended by Installation.close()
    return proc

def jobs(inst: Installation, *args: str, **extra) -> list:
    import json

    return json.loads(inst.cli("--json", "worker", "jobs", *args, **extra).stdout)

def wait_until(pred, timeout: float = 20, step: float = 0.05, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")
