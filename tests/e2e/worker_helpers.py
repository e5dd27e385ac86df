"""Starting `gatehouse server --no-worker` and `gatehouse worker` processes."""

import subprocess
import time

import requests

from conftest import BIN, Installation, Server, free_port

# Small timings so the tests run in seconds (all registered settings).
FAST = {
    "GATEHOUSE_WORKER__POLL_MS": 100,
    "GATEHOUSE_WORKER__HEARTBEAT_MS": 300,
    "GATEHOUSE_WORKER__LEASE_MS": 1500,
    "GATEHOUSE_WORKER__RETRY_BASE_MS": 300,
    "GATEHOUSE_WORKER__RETRY_MAX_MS": 5000,
}


def server(inst: Installation, *args: str, **extra) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = inst.env(GATEHOUSE_LISTEN=f"127.0.0.1:{port}", GATEHOUSE_EXTERNAL_URL=url, **extra)
    log = open(inst.dir / f"server-{port}.log", "w")
    proc = subprocess.Popen([str(BIN), "server", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=inst.dir)
    inst.servers.append(proc)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {(inst.dir / f'server-{port}.log').read_text()}")
        try:
            if requests.get(f"{url}/-/health/ready/", timeout=1).status_code == 200:
                return Server(url, proc)
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become ready")


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
