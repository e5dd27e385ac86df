"""Deployment files that are checked: the systemd unit (`systemd-analyze
verify` and its offline security score), the Containerfile (linted here: no
container engine runs on the test machine), the compose file (docker-compose's
own parser, then its fields), the alerting rules (`promtool check rules` and
`promtool test rules`), the Grafana dashboard, and that every metric they
name is exported by a real server. Plus the runbook's "forgot akadmin
password" line."""

import configparser
import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import requests
import yaml

from conftest import BIN, ROOT, WebClient, free_port
from ops_support import PASSWORD

DEPLOY = ROOT / "deploy"
MONITORING = DEPLOY / "monitoring"
# Names PromQL or Prometheus provide, not Gatehouse.
PROMETHEUS_OWN = {"up"}

def settings_accepted(env: dict) -> None:
    """The binary itself accepts these settings (names and values)."""
    clean = {"PATH": "/usr/bin:/bin", "GATEHOUSE_ENV_FILE": "/nonexistent/.env", **env}
    r = subprocess.run([str(BIN), "settings"], env=clean, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_systemd_unit_verifies_and_is_hardened(tmp_path):
    unit = (DEPLOY / "gatehouse.service").read_text()
    # verify checks that ExecStart's program exists: point it at the built one.
    local = tmp_path / "gatehouse.service"
    local.write_text(unit.replace("/usr/local/bin/gatehouse", str(BIN)))
    r = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", r.stdout + r.stderr
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(unit)
    svc = parser["Service"]
    assert svc.get("User") == "gatehouse" or svc.get("DynamicUser") == "yes"
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "StateDirectory": "gatehouse",
        "CapabilityBoundingSet": "",
        "Restart": "on-failure",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert svc.get(key) == value, (key, svc.get(key))
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(local)], capture_output=True, text=True)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr).group(1))
    assert score <= 2.0, r.stdout
    settings_accepted({k: v for k, v in (e.split("=", 1) for e in svc.get("Environment", "").split("\n") if e)} | {
        "GATEHOUSE_DATA_DIR": str(tmp_path)})

def containerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    assert not buf, "a continuation line runs off the end"
    return out

def test_containerfile_lints_clean(tmp_path):
    steps = containerfile_instructions((DEPLOY / "Containerfile").read_text())
    known = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "USER", "WORKDIR", "VOLUME", "EXPOSE", "HEALTHCHECK",
             "STOPSIGNAL", "ENTRYPOINT", "CMD", "LABEL", "SHELL"}
    assert all(i in known for i, _ in steps), [i for i, _ in steps if i not in known]
    stages = [n for n, (i, _) in enumerate(steps) if i == "FROM"]
    assert len(stages) == 2, "a build stage and a runtime stage"
    final = steps[stages[-1]:]
    base = final[0][1]
    assert "distroless" in base and ":" in base and "latest" not in base, base
    assert not any(i in ("RUN", "ADD") for i, _ in final), "the runtime stage only copies"
    copies = [a for i, a in final if i == "COPY"]
    assert all(a.startswith("--from=build") for a in copies), copies
    assert any(a.endswith("/usr/local/bin/gatehouse") for a in copies)
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    user_at = max(n for n, (i, _) in enumerate(final) if i == "USER")
    entry_at = max(n for n, (i, _) in enumerate(final) if i == "ENTRYPOINT")
    assert user_at < entry_at
    health = next(a for i, a in final if i == "HEALTHCHECK")
    assert json.loads(health.split("CMD", 1)[1]) == ["/usr/local/bin/gatehouse", "healthcheck"], health
    assert json.loads(next(a for i, a in final if i == "ENTRYPOINT")) == ["/usr/local/bin/gatehouse"]
    assert set(next(a for i, a in final if i == "EXPOSE").split()) == {"9000", "9300"}
    env = {}
    for i, a in final:
        if i == "ENV":
            env.update(kv.split("=", 1) for kv in shlex.split(a))
    assert env["GATEHOUSE_DATA_DIR"] == "/data" and "/data" in next(a for i, a in final if i == "VOLUME")
    settings_accepted(env | {"GATEHOUSE_DATA_DIR": str(tmp_path), "GATEHOUSE_ENV_FILE": str(tmp_path / ".env")})
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "target" in ignored and ".git" in ignored

def test_healthcheck_command_follows_readiness(sqlite_install):
    port = free_port()
    r = sqlite_install.cli("healthcheck", check=False, GATEHOUSE_LISTEN=f"127.0.0.1:{port}")
    assert r.returncode == 1 and "not reachable" in r.stderr
    srv = sqlite_install.server()
    sqlite_install.cli("healthcheck", GATEHOUSE_LISTEN=srv.url.removeprefix("http://"))

def test_compose_file_is_valid_and_mirrors_the_stack(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "GATEHOUSE_DB_PASSWORD": "example"}
    r = subprocess.run(["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config"], env=env, capture_output=True, text=True)
    doc = yaml.safe_load(r.stdout)
    gh, pg = doc["services"]["gatehouse"], doc["services"]["postgresql"]
    assert gh["build"]["dockerfile"] == "deploy/Containerfile"
    assert gh["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert gh["healthcheck"]["test"] == ["CMD", "/usr/local/bin/gatehouse", "healthcheck"]
    assert "pg_isready" in pg["healthcheck"]["test"]
    targets = {p["target"] if isinstance(p, dict) else int(p.split(":")[-1].split("/")[0]) for p in gh["ports"]}
    assert targets == {9000, 9300}
    mount = lambda v: (v["target"], v["source"]) if isinstance(v, dict) else tuple(reversed(v.split(":")[:2]))
    mounts = dict(mount(v) for v in gh["volumes"])
    assert set(mounts) == {"/data", "/media"} and set(mounts.values()) <= set(doc["volumes"])
    assert re.fullmatch(r"[\w./-]*postgres:\d+(-[\w.]+)?", pg["image"]), "PostgreSQL's major version is pinned"
    assert any(mount(v)[0] == "/var/lib/postgresql/data" for v in pg["volumes"])
    assert gh.get("read_only") and gh.get("cap_drop") == ["ALL"]
    settings_accepted(dict(gh["environment"]) | {"GATEHOUSE_DATA_DIR": str(tmp_path)})
    # Without the database password, compose refuses to start rather than run with none.
    r = subprocess.run(["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert r.returncode != 0 and "GATEHOUSE_DB_PASSWORD" in r.stderr

def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\b(gatehouse_[a-z0-9_]+)\b", text)) | ({"up"} & set(re.findall(r"\b(up)\{", text)))

def base_name(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)

def test_alert_rules_pass_promtool():
    r = subprocess.run(["promtool", "check", "rules", str(MONITORING / "gatehouse-alerts.yml")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["promtool", "test", "rules", "gatehouse-alerts.test.yml"], cwd=MONITORING, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rules = yaml.safe_load((MONITORING / "gatehouse-alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    for needed in ("GatehouseWorkerDown", "GatehouseDeadJobs", "GatehouseBackupFailed", "GatehouseSignInFailureSpike", "GatehouseSigningKeyOld"):
        assert needed in alerts

def test_dashboard_and_rules_name_only_metrics_a_real_server_exports(sqlite_install, tmp_path):
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["panels"] and all(p["targets"] and p["datasource"] for p in dashboard["panels"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = metric_names(exprs) | metric_names((MONITORING / "gatehouse-alerts.yml").read_text())
    used = {base_name(n) for n in used} - PROMETHEUS_OWN
    # Every name is written in the code...
    sources = "\n".join(p.read_text() for p in (ROOT / "crates").rglob("*.rs") if "/tests/" not in str(p))
    assert not [n for n in used if f'"{n}"' not in sources], "metric names missing from the code"
    # ...and exported by a server that has done what they count.
    inst = sqlite_install
    inst.cli("key", "rotate", "--activate-in", "0s")
    inst.cli("key", "rotate", "--kind", "saml", "--activate-in", "0s")
    inst.cli("backup", "-o", str(tmp_path / "ok.tar"))
    inst.cli("backup", "-o", "/dev/null/cannot/be.tar", check=False)
    inst.cli("app", "create", "grafana", "--name", "Grafana", "--provider", "proxy", "--external-host", "http://grafana.test")
    inst.user("alice", PASSWORD)
    metrics_port = free_port()
    srv = inst.server(GATEHOUSE_METRICS_LISTEN=f"127.0.0.1:{metrics_port}", GATEHOUSE_BACKUP__SCHEDULE="daily")
    assert WebClient(srv.url).sign_in("alice", PASSWORD).status_code == 303
    WebClient(srv.url).sign_in("alice", "wrong")
    requests.get(f"{srv.url}/outpost.goauthentik.io/auth/nginx", headers={"X-Original-URL": "http://grafana.test/"})
    deadline = time.time() + 25
    while True:
        exported = {base_name(n) for n in re.findall(r"^(gatehouse_[a-z0-9_]+)", requests.get(f"http://127.0.0.1:{metrics_port}/metrics").text, re.M)}
        missing = used - exported
        if not missing or time.time() > deadline:
            break
        time.sleep(1)
    assert not missing, f"named in deploy/monitoring but not exported: {missing}"

def test_forgot_akadmin_password_runbook(sqlite_install):
    inst = sqlite_install
    srv = inst.server(GATEHOUSE_BOOTSTRAP_PASSWORD=PASSWORD)
    inst.cli("group", "remove", "admins", "akadmin")
    inst.cli("user", "disable", "akadmin")
    # A password the policy refuses changes nothing.
    r = inst.cli("recovery", "admin", "akadmin", "--password-stdin", input="short\n", check=False)
    assert r.returncode == 2
    assert "akadmin" not in inst.cli("group", "members", "admins").stdout
    new = "a brand new password 7"
    r = inst.cli("recovery", "admin", "akadmin", "--password-stdin", input=new + "\n")
    assert "akadmin is now in admins" in r.stdout and "password set" in r.stdout, r.stdout
    assert WebClient(srv.url).sign_in("akadmin", new).status_code == 303
    assert WebClient(srv.url).sign_in("akadmin", PASSWORD).status_code != 303
