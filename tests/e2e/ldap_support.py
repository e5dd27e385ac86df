"""Helpers for the LDAP tests: a server with its LDAP and LDAPS listeners on
free ports, OpenLDAP's command-line clients (ldap-utils), LDIF parsing, TOTP
enrolment through the real pages, and directories loaded by blueprint."""

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from conftest import Installation, Server, WebClient, free_port

BASE = "DC=ldap,DC=goauthentik,DC=io"
PASSWORD = "Lantern-Orchard-Quill-84"

def user_dn(username: str, base: str = BASE) -> str:
    return f"cn={username},ou=users,{base}"

def group_dn(name: str, base: str = BASE) -> str:
    return f"cn={name},ou=groups,{base}"

@pytest.fixture(params=["sqlite", "postgres"])
def install(request) -> Installation:
    return request.getfixturevalue("sqlite_install" if request.param == "sqlite" else "pg_install")

@dataclass
class Ldap:
    inst: Installation
    server: Server
    port: int
    ldaps_port: int

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def tool(self, name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """Runs an ldap-utils tool; LDAPTLS_* only as given (no ~/.ldaprc surprises)."""
        e = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.inst.dir), **(env or {})}
        return subprocess.run([name, "-x", *args], capture_output=True, text=True, env=e, timeout=60)

    def search(self, bind: tuple[str, str] | None, filter: str, *attrs: str, base: str = BASE, extra: tuple = ()) -> tuple[int, list]:
        """ldapsearch over plain LDAP: (exit code, entries as [(dn, {attr: [values]})])."""
        auth = ("-D", bind[0], "-w", bind[1]) if bind else ()
        r = self.tool("ldapsearch", "-H", self.url, *auth, "-o", "ldif-wrap=no", "-LLL", "-b", base, *extra, filter, *attrs)
        return r.returncode, parse_ldif(r.stdout)

    def whoami(self, dn: str, password: str, url: str | None = None, extra: tuple = (), env: dict | None = None) -> subprocess.CompletedProcess:
        return self.tool("ldapwhoami", "-H", url or self.url, *extra, "-D", dn, "-w", password, env=env)

def start(inst: Installation, **extra) -> Ldap:
    port, ldaps = free_port(), free_port()
    srv = inst.server(GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{port}", GATEHOUSE_LDAPS_LISTEN=f"127.0.0.1:{ldaps}", **extra)
    return Ldap(inst, srv, port, ldaps)

def parse_ldif(text: str) -> list:
    entries = []
    for block in text.strip().split("\n\n"):
        lines = [l for l in block.splitlines() if l and not l.startswith("#")]
        if not lines or not lines[0].startswith("dn:"):
            continue
        attrs: dict[str, list[str]] = {}
        for line in lines[1:]:
            key, _, value = line.partition(": ")
            attrs.setdefault(key, []).append(value)
        entries.append((lines[0][4:].strip(), attrs))
    return entries

def wait_for(check, timeout: float = 5.0, what: str = "condition"):
    """Polls `check` until it returns something true (the change feed's delay)."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)

def enrol_totp(base_url: str, username: str, password: str) -> pyotp.TOTP:
    """Adds an authenticator app through the real Security pages, with requests."""
    web = WebClient(base_url)
    r = web.sign_in(username, password)
    assert r.status_code in (302, 303), r.text
    page = web.http.get(f"{base_url}/if/user/security/totp")
    assert page.status_code == 200, page.text
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text).group(1)
    pending = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
    totp = pyotp.TOTP(secret)
    r = web.http.post(
        f"{base_url}/if/user/security/totp",
        data={"csrf_token": web.csrf(page.text), "pending": pending, "name": "Phone", "code": totp.now()},
    )
    assert r.status_code == 200 and "recovery codes" in r.text.lower(), r.text
    return totp

def load_users(inst: Installation, count: int, group: str | None = None) -> None:
    """Creates `count` users (user00001…) in one blueprint, optionally in `group`."""
    lines = ["version: 1", "entries:"]
    if group:
        lines += ["  - model: authentik_core.group", "    id: bulk", f"    identifiers: {{name: {group}}}"]
    for i in range(1, count + 1):
        lines += [
            "  - model: authentik_core.user",
            f"    identifiers: {{username: user{i:05d}}}",
            f"    attrs: {{name: User {i}, email: user{i:05d}@example.com" + (", groups: [!KeyOf bulk]}" if group else "}"),
        ]
    f = inst.dir / "bulk.yaml"
    f.write_text("\n".join(lines) + "\n")
    inst.cli("blueprint", "apply", str(f))

def raw_exchange(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Sends bytes on a fresh connection and reads until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
    return out

def certificate(inst: Installation) -> Path:
    """The server's certificate as `gatehouse ldap cert` prints it."""
    pem = inst.cli("ldap", "cert").stdout
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" not in pem, pem
    path = inst.dir / "ldap-ca.pem"
    path.write_text(pem)
    return path
