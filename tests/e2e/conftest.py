"""Fixtures for black-box tests: a built `gatehouse` binary, throw-away
installations (SQLite or a fresh PostgreSQL database), running servers, and
helpers to drive the admin CLI. Everything talks to real processes."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GATEHOUSE_BIN_UNDER_TEST", ROOT / "target" / "debug" / "gatehouse"))
OUTPUT = ROOT / "test-output"
PG_ADMIN_URL = os.environ.get("GATEHOUSE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

class Installation:
    """A data directory, .env and database of our own."""

    def __init__(self, database_url: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="gh-e2e-"))
        self.database_url = database_url or f"sqlite://{self.dir / 'data' / 'gatehouse.db'}"
        self.servers: list[subprocess.Popen] = []

    def env(self, **extra) -> dict:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "USER": "e2e",
            "GATEHOUSE_ENV_FILE": str(self.dir / ".env"),
            "GATEHOUSE_DATA_DIR": str(self.dir / "data"),
            "GATEHOUSE_DATABASE_URL": self.database_url,
            "GATEHOUSE_METRICS_LISTEN": "off",
            # Tests run side by side: LDAP only where a test asks for it.
            "GATEHOUSE_LDAP_LISTEN": "off",
            "GATEHOUSE_LDAPS_LISTEN": "off",
        }
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def cli(self, *args: str, input: str | None = None, check: bool = True, **extra) -> subprocess.CompletedProcess:
        r = subprocess.run([str(BIN), *args], env=self.env(**extra), input=input, capture_output=True, text=True, cwd=self.dir)
        if check and r.returncode != 0:
            raise AssertionError(f"gatehouse {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def user(self, username: str, password: str, name: str = "") -> None:
        self.cli("user", "create", username, f"{username}@example.com", name or username.title())
        self.cli("user", "password", username, "--stdin", input=password + "\n")

    def server(self, *args: str, host: str = "127.0.0.1", **extra) -> "Server":
        """Starts `gatehouse server ARGS…` on a free port and waits until it is ready.
        `host` names it in the external URL (`localhost` for WebAuthn, which refuses
        an IP address as relying party id)."""
        port = free_port()
        url = f"http://{host}:{port}"
        env = self.env(GATEHOUSE_LISTEN=f"127.0.0.1:{port}", GATEHOUSE_EXTERNAL_URL=url, **extra)
        log = open(self.dir / f"server-{port}.log", "w")
        proc = subprocess.Popen([str(BIN), "server", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.servers.append(proc)
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {(self.dir / f'server-{port}.log').read_text()}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/-/health/ready/", timeout=1).status_code == 200:
                    return Server(url, proc)
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready")

    def close(self) -> None:
        for p in self.servers:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

class Server:
    def __init__(self, url: str, proc: subprocess.Popen):
        self.url = url
        self.proc = proc

class WebClient:
    """Signs in through the real pages with `requests`, as a browser would."""

    CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def csrf(self, html: str) -> str:
        m = self.CSRF.search(html)
        assert m, html
        return m.group(1)

    def sign_in(self, username: str, password: str, next: str = "/if/user/") -> requests.Response:
        page = self.http.get(f"{self.base}/login", params={"next": next})
        r = self.http.post(f"{self.base}/login", data={"identifier": username, "csrf_token": self.csrf(page.text)})
        r = self.http.post(f"{self.base}/login/password", data={"password": password, "csrf_token": self.csrf(r.text)}, allow_redirects=False)
        return r

    def signed_in(self, base: str | None = None) -> bool:
        r = self.http.get(f"{base or self.base}/if/user/", allow_redirects=False)
        return r.status_code == 200

@contextlib.contextmanager
def installation_on(backend: str):
    """An installation on `sqlite`, or on a PostgreSQL database made for it
    (dropped afterwards)."""
    if backend == "sqlite":
        inst = Installation()
        yield inst
        inst.close()
        return
    name = f"gh_e2e_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    inst = Installation(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    try:
        yield inst
    finally:
        inst.close()
        subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)

@pytest.fixture
def sqlite_install():
    inst = Installation()
    yield inst
    inst.close()

@pytest.fixture
def pg_install():
    with installation_on("postgres") as inst:
        yield inst

@pytest.fixture
def screenshots() -> Path:
    d = OUTPUT / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d
