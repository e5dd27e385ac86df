"""Three Gatehouse servers on one PostgreSQL behind a local nginx (round
robin), under a bounded load of sign-ins, token refreshes and forward-auth
checks. During the run one node is SIGKILLed and restarted, and PostgreSQL
(a private cluster of this test) is restarted once. Afterwards: every
acknowledged sign-in is in the audit log and the chain verifies; no request
failed except those in flight on the killed node or during the database
restart; readiness said 503 while the database was away and recovered without
a restart; a revocation and a disabled user are refused by the other nodes
within a second; the PostgreSQL connection count stayed bounded. The figures
go to test-output/ops-multinode.json (bench/ops.sh reports them)."""

import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from conftest import BIN, OUTPUT, ROOT, Installation, WebClient, free_port
from proxy_helpers import Person, localtest_dns, wait_port
from upstream import Upstream

PASSWORD = "Multi-Node-Pass-42"
REDIRECT = "https://client.example.test/cb"
NODES = 3
POOL = 5
THREADS = 6
LOAD_SECONDS = 14.0
MAX_REQUESTS = 20_000  # bound: the loop stops at this many requests whatever the time

class PrivatePostgres:
    """A PostgreSQL cluster of this test alone (the shared one must not be restarted)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="gh-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        pg = pwd.getpwnam("postgres")
        os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8")
        self.start()
        subprocess.run(["psql", self.url("postgres"), "-qc", "CREATE DATABASE gatehouse"], check=True, capture_output=True)

    def _run(self, tool, *args):
        exe = shutil.which(tool)
        return subprocess.run(["runuser", "-u", "postgres", "--", exe, *args], check=True, capture_output=True, text=True)

    def url(self, db="gatehouse") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

def balancer(node_ports: list[int], app_port: int, port: int):
    """nginx: auth.localtest → the nodes round robin; app.localtest → a service
    protected by forward-auth with deploy/nginx's snippets, checks going to
    the same nodes round robin."""
    work = Path(tempfile.mkdtemp(prefix="gh-lb-"))
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / d).mkdir()
    servers = "\n".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in node_ports)
    deploy = ROOT / "deploy" / "nginx"
    (work / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    proxy_connect_timeout 1s;
    proxy_read_timeout 15s;
    # Idempotent requests move on to the next node when one is down or not
    # ready; a request already sent is never replayed (no non_idempotent).
    proxy_next_upstream error timeout http_503;
    upstream gatehouse {{ {servers} }}
    server {{
        listen 127.0.0.1:{port};
        server_name auth.localtest;
        location / {{
            proxy_pass http://gatehouse;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name app.localtest;
        include {deploy}/gatehouse-outpost.conf;
        location / {{
            include {deploy}/gatehouse-auth.conf;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
""")
    log = work / "error.log"
    proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-e", str(log), "-p", str(work), "-c", str(work / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc, log)
    return proc, work

class Cluster:
    def __init__(self, pg: PrivatePostgres, lb_port: int):
        self.inst = Installation(pg.url())
        self.ports = [free_port() for _ in range(NODES)]
        self.auth = f"http://auth.localtest:{lb_port}"
        self.app = f"http://app.localtest:{lb_port}"
        self.procs: list[subprocess.Popen | None] = [None] * NODES

    def env(self, i: int) -> dict:
        return self.inst.env(
            GATEHOUSE_LISTEN=f"127.0.0.1:{self.ports[i]}",
            GATEHOUSE_EXTERNAL_URL=self.auth,
            GATEHOUSE_DATABASE_MAX_CONNECTIONS=POOL,
            GATEHOUSE_BOOTSTRAP_PASSWORD=PASSWORD,
        )

    def start(self, i: int) -> float:
        """Starts node i and returns when it is ready (seconds taken)."""
        t0 = time.time()
        log = open(self.inst.dir / f"node{i}.log", "a")
        self.procs[i] = subprocess.Popen([str(BIN), "server"], env=self.env(i), stdout=log, stderr=subprocess.STDOUT, cwd=self.inst.dir)
        while time.time() - t0 < 30:
            try:
                if requests.get(self.node(i) + "/-/health/ready/", timeout=1).status_code == 200:
                    return time.time() - t0
            except requests.ConnectionError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"node {i} not ready")

    def node(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def kill(self, i: int):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(10)

    def ready(self, i: int) -> int:
        try:
            return requests.get(self.node(i) + "/-/health/ready/", timeout=4).status_code
        except requests.RequestException:
            return 0

    def close(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.inst.close()

class Load:
    """The load generator: THREADS clients, each mixing sign-ins, refreshes
    and forward-auth checks, recording every request's time and outcome."""

    def __init__(self, cluster: Cluster, client_id: str, secret: str):
        self.c, self.client_id, self.secret = cluster, client_id, secret
        self.records: list[tuple] = []  # (op, t0, t1, ok, detail)
        self.acked: list[tuple[str, str]] = []  # (username, session cookie)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def record(self, op, t0, ok, detail=""):
        with self.lock:
            self.records.append((op, t0, time.time(), ok, detail))
            if len(self.records) >= MAX_REQUESTS:
                self.stop.set()
        if not ok:
            time.sleep(0.2)  # a client backs off after a failure

    def refresh_token(self, user: str):
        oauth = OAuth2Session(self.client_id, self.secret, scope="openid offline_access", redirect_uri=REDIRECT, code_challenge_method="S256")
        verifier = generate_token(48)
        uri, _ = oauth.create_authorization_url(f"{self.c.auth}/application/o/authorize/", code_verifier=verifier)
        web = WebClient(self.c.auth)
        r = web.http.get(uri, allow_redirects=False)
        for _ in range(6):
            loc = r.headers.get("Location", "")
            if loc.startswith(REDIRECT):
                token = oauth.fetch_token(f"{self.c.auth}/application/o/token/", authorization_response=loc, code_verifier=verifier)
                return token["refresh_token"]
            if loc.startswith("/login"):
                page = web.http.get(self.c.auth + loc)
                r = web.http.post(f"{self.c.auth}/login", data={"identifier": user, "csrf_token": web.csrf(page.text)})
                r = web.http.post(f"{self.c.auth}/login/password", data={"password": PASSWORD, "csrf_token": web.csrf(r.text)}, allow_redirects=False)
                continue
            r = web.http.get(loc if loc.startswith("http") else self.c.auth + loc, allow_redirects=False)
        raise AssertionError(f"no code: {r.status_code} {r.headers}")

    def proxy_person(self, user: str) -> Person:
        person = Person(self.c.auth)
        r = person.http.get(f"{self.c.app}/")
        r = person.sign_in_here(r, user, PASSWORD)
        assert r.status_code == 200 and r.url == f"{self.c.app}/", (r.status_code, r.url)
        return person

    def client(self, n: int):
        user = f"load{n}"
        rng = random.Random(n)
        refresh, person = None, None
        while not self.stop.is_set():
            op = rng.choice(["signin", "refresh", "forward", "forward"])
            t0 = time.time()
            try:
                if op == "signin":
                    r = WebClient(self.c.auth).sign_in(user, PASSWORD)
                    ok = r.status_code == 303 and "gatehouse_session" in r.cookies
                    if ok:
                        with self.lock:
                            self.acked.append((user, r.cookies["gatehouse_session"]))
                    self.record(op, t0, ok, f"HTTP {r.status_code}")
                elif op == "refresh":
                    if refresh is None:
                        refresh = self.refresh_token(user)
                        t0 = time.time()
                    r = requests.post(f"{self.c.auth}/application/o/token/", auth=(self.client_id, self.secret),
                                      data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=20)
                    ok = r.status_code == 200
                    # A refresh whose answer was lost may have rotated the token: start a new grant.
                    refresh = r.json()["refresh_token"] if ok else None
                    self.record(op, t0, ok, f"HTTP {r.status_code} {r.text[:80] if not ok else ''}")
                else:
                    if person is None:
                        person = self.proxy_person(user)
                        t0 = time.time()
                    r = person.http.get(f"{self.c.app}/page", allow_redirects=False, timeout=20)
                    ok = r.status_code == 200
                    if not ok:
                        person = None
                    self.record(op, t0, ok, f"HTTP {r.status_code}")
            except (requests.RequestException, AssertionError, KeyError, ValueError) as e:
                if op == "refresh":
                    refresh = None
                if op == "forward":
                    person = None
                self.record(op, t0, False, f"{type(e).__name__}: {str(e)[:80]}")

def pg_connections(url: str) -> int:
    with psycopg.connect(url.replace("/gatehouse", "/postgres"), autocommit=True) as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'gatehouse'").fetchone()[0]

def delay_until(check, timeout=3.0) -> float:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if check():
            return time.time() - t0
        time.sleep(0.02)
    return float("inf")

@pytest.fixture
def cluster():
    pg = PrivatePostgres()
    upstream = Upstream()
    lb_port = free_port()
    c = Cluster(pg, lb_port)
    lb, lb_dir = None, None
    try:
        c.start(0)
        for i in range(1, NODES):
            c.start(i)
        lb, lb_dir = balancer(c.ports, upstream.port, lb_port)
        with localtest_dns():
            yield c, pg
    finally:
        if lb:
            lb.terminate()
            lb.wait(10)
            shutil.rmtree(lb_dir, ignore_errors=True)
        c.close()
        upstream.close()
        pg.close()

def test_three_nodes_survive_a_killed_node_and_a_database_restart(cluster):
    c, pg = cluster
    inst = c.inst
    for n in range(THREADS):
        inst.user(f"load{n}", PASSWORD)
    inst.user("victim", PASSWORD)
    inst.cli("app", "create", "app", "--name", "App", "--provider", "proxy", "--external-host", c.app)
    created = json.loads(inst.cli("--json", "app", "create", "client", "--name", "Client", "--provider", "oidc", "--redirect-uri", REDIRECT).stdout)
    client_id, secret = created["client_id"], created["client_secret"]

    load = Load(c, client_id, secret)
    threads = [threading.Thread(target=load.client, args=(n,)) for n in range(THREADS)]
    conns, t_start = [], time.time()
    sampler_stop = threading.Event()

    def sample():
        while not sampler_stop.is_set():
            try:
                conns.append(pg_connections(pg.url()))
            except psycopg.Error:
                pass
            time.sleep(0.25)

    sampler = threading.Thread(target=sample)
    sampler.start()
    for t in threads:
        t.start()
    time.sleep(2.5)
    t_kill = time.time()
    c.kill(1)
    t_killed = time.time()  # the kill and the reaping: connections die in between
    time.sleep(1.5)
    t_respawn = time.time()
    c.start(1)
    t_respawned = time.time()
    time.sleep(2.0)
    t_pg_stop = time.time()
    pg.stop()
    readiness_during = [delay_until(lambda i=i: c.ready(i) == 503, timeout=5) for i in range(NODES)]
    time.sleep(1.0)
    pg.start()
    t_pg_up = time.time()
    recovered = [delay_until(lambda i=i: c.ready(i) == 200, timeout=15) for i in range(NODES)]
    t_recovered = time.time()
    time.sleep(max(0.0, LOAD_SECONDS - (time.time() - t_start)))
    load.stop.set()
    for t in threads:
        t.join(30)
    sampler_stop.set()
    sampler.join()

    causes: dict[str, int] = {}
    unexplained = []
    for op, t0, t1, ok, detail in load.records:
        if ok:
            continue
        if t0 <= t_killed + 0.05 and t1 >= t_kill:
            cause = "in flight on the killed node"
        elif t_respawn <= t0 <= t_respawned + 0.5:
            cause = "killed node restarting"
        elif t_pg_stop - 0.1 <= t1 and t0 <= t_recovered + 1.0:
            cause = "database restart"
        else:
            cause = "other"
            unexplained.append((op, round(t0 - t_start, 2), round(t1 - t_start, 2), detail))
        causes[cause] = causes.get(cause, 0) + 1
    by_op = {op: sum(1 for r in load.records if r[0] == op) for op in ("signin", "refresh", "forward")}

    with psycopg.connect(pg.url()) as conn:
        stored = {r[0] for r in conn.execute("SELECT token_hash FROM sessions")}
    lost = [u for u, cookie in load.acked if hashlib.sha256(cookie.encode()).hexdigest() not in stored]
    logins = json.loads(inst.cli("--json", "events", "--action", "login", "--limit", "100000").stdout)
    per_user = {}
    for e in logins:
        per_user[e["user"]] = per_user.get(e["user"], 0) + 1
    acked_per_user = {}
    for u, _ in load.acked:
        acked_per_user[u] = acked_per_user.get(u, 0) + 1
    verify = inst.cli("events", "verify")

    person = load.proxy_person("victim")
    cookie_jar = person.http.cookies
    proxy_cookie = "; ".join(f"{k.name}={k.value}" for k in cookie_jar if k.domain.startswith("app.localtest"))
    web = WebClient(c.node(0))
    assert web.sign_in("victim", PASSWORD).status_code == 303

    def web_ok(i):
        return web.http.get(f"{c.node(i)}/if/user/", allow_redirects=False).status_code == 200

    def check(i):
        r = requests.get(f"{c.node(i)}/outpost.goauthentik.io/auth/nginx", allow_redirects=False,
                         headers={"Host": c.app.removeprefix("http://"), "X-Original-URL": f"{c.app}/x", "Cookie": proxy_cookie})
        return r.status_code

    assert all(web_ok(i) for i in (1, 2)) and all(check(i) == 200 for i in (1, 2))
    assert all(check(i) == 200 for i in (1, 2))  # now from each node's cache
    t0 = time.time()
    inst.cli("session", "revoke", "--user", "victim")
    revoke_delays = [delay_until(lambda i=i: not web_ok(i)) for i in (1, 2)]
    revoke_check_delays = [delay_until(lambda i=i: check(i) == 401) for i in (1, 2)]
    revoke_delay, revoke_check_delay = max(revoke_delays), max(revoke_check_delays)
    person = load.proxy_person("victim")
    proxy_cookie = "; ".join(f"{k.name}={k.value}" for k in person.http.cookies if k.domain.startswith("app.localtest"))
    assert all(check(i) == 200 for i in (1, 2))
    inst.cli("user", "disable", "victim")
    disable_delays = [delay_until(lambda i=i: check(i) in (401, 403)) for i in (1, 2)]
    disable_delay = max(disable_delays)

    figures = {
        "nodes": NODES,
        "threads": THREADS,
        "seconds": round(time.time() - t_start, 1),
        "requests": len(load.records),
        "requests_by_kind": by_op,
        "failures_by_cause": causes,
        "unexplained_failures": unexplained[:20],
        "acknowledged_sign_ins": len(load.acked),
        "lost_sign_ins": len(lost),
        "readiness_503_within_s": [round(x, 2) for x in readiness_during],
        "readiness_recovered_after_db_start_s": [round(x, 2) for x in recovered],
        "killed_node_restart_to_ready_s": round(t_respawned - t_respawn, 2),
        "revocation_delay_s": {
            "session": [round(x, 3) for x in revoke_delays],
            "forward_auth": [round(x, 3) for x in revoke_check_delays],
            "disabled_user_forward_auth": [round(x, 3) for x in disable_delays],
        },
        "postgres_connections_max": max(conns) if conns else None,
        "postgres_connection_bound": NODES * (POOL + 2) + 2,
    }
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "ops-multinode.json").write_text(json.dumps(figures, indent=2))

    assert not lost, f"{len(lost)} acknowledged sign-ins have no session"
    assert all(per_user.get(u, 0) >= n for u, n in acked_per_user.items()), (per_user, acked_per_user)
    assert "intact" in verify.stdout, verify.stdout
    assert not unexplained, figures
    assert by_op["signin"] > 20 and by_op["refresh"] > 20 and by_op["forward"] > 50, figures
    assert all(x < 5 for x in readiness_during), figures
    assert all(x < 10 for x in recovered), figures
    assert revoke_delay < 1.0 and revoke_check_delay < 1.0 and disable_delay < 1.0, figures
    assert max(conns) <= figures["postgres_connection_bound"], figures
