"""SSO drift for a SAML service against a real running server: the SAML
application comes from a blueprint (authentik's samlprovider model), the
stack manifest names the IdP certificate and metadata files the service
reads, a SAML key rotation makes them stale (`sso check` exit 1), `sso fix`
refreshes them, and a python3-saml SP configured from the refreshed metadata
accepts the signed response while one configured from the stale file refuses
it. Sign-in is by a non-admin user."""

import base64
import json
import os
import stat
import time
from urllib.parse import parse_qs, urlparse

import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from conftest import Installation, WebClient
from saml_support import ACS, SP_HOST, post_form, sp_entity, xmlsec1_verify

PASSWORD = "Drift-Saml-Pass-42"

BLUEPRINT = """
version: 1
metadata: {name: saml-stack}
entries:
  - model: authentik_core.user
    identifiers: {username: carol}
    attrs: {name: Carol, email: carol@example.com, password: !Env CAROL_PASSWORD}
  - model: authentik_providers_saml.samlprovider
    id: docs-provider
    identifiers: {name: Docs}
    attrs:
      acs_url: !Format ["%s/acs", !Env SP_URL]
      audience: !Format ["%s/docs/metadata/", !Env SP_URL]
      issuer: authentik
      sp_binding: post
      sign_assertion: true
      sign_response: false
      signature_algorithm: http://www.w3.org/2001/04/xmldsig-more#rsa-sha256
      digest_algorithm: http://www.w3.org/2001/04/xmlenc#sha256
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
  - model: authentik_core.application
    identifiers: {slug: docs}
    attrs: {name: Docs, provider: !KeyOf docs-provider}
"""

MANIFEST = """
version: 1
services:
  - name: docs
    sso:
      type: saml
      acs_urls: ["${SP_URL}/acs"]
      audience: "${SP_URL}/docs/metadata/"
      trust:
        issuer: "${GATEHOUSE_URL}/application/saml/docs/metadata/"
        certificate_file: docs/idp.pem
        metadata_file: docs/idp-metadata.xml
"""

class SamlStack:
    def __init__(self, inst: Installation, clock: bool = False):
        self.inst = inst
        self.clock_file = inst.dir / "clock-offset" if clock else None
        self.clock_env = {}
        if self.clock_file:
            self.clock_file.write_text("0")
            self.clock_env = {"GATEHOUSE_TEST_CLOCK_FILE": str(self.clock_file)}
        self.root = inst.dir / "stack"
        (self.root / "docs").mkdir(parents=True)
        (self.root / "stack.yaml").write_text(MANIFEST)
        (self.root / ".env").write_text(f"SP_URL=http://{SP_HOST}\n")
        (inst.dir / "saml.blueprint.yaml").write_text(BLUEPRINT)
        inst.cli("blueprint", "apply", str(inst.dir / "saml.blueprint.yaml"),
                 CAROL_PASSWORD=PASSWORD, SP_URL=f"http://{SP_HOST}")
        self.server = inst.server(GATEHOUSE_STACK_FILE=str(self.root / "stack.yaml"), **self.clock_env)
        self.base = self.server.url
        with open(self.root / ".env", "a") as f:
            f.write(f"GATEHOUSE_URL={self.base}\n")

    def cli(self, *args: str, check: bool = True, **extra):
        extra.setdefault("GATEHOUSE_STACK_FILE", str(self.root / "stack.yaml"))
        extra.setdefault("GATEHOUSE_EXTERNAL_URL", self.base)
        for k, v in self.clock_env.items():
            extra.setdefault(k, v)
        return self.inst.cli(*args, check=check, **extra)

    def advance(self, seconds: int) -> None:
        self.clock_file.write_text(str(int(self.clock_file.read_text()) + seconds))
        time.sleep(0.3)  # the clock file is re-read every 100 ms

    def check(self):
        r = self.cli("--json", "sso", "check", check=False)
        return r.returncode, json.loads(r.stdout)

    def settings(self, metadata_xml: str) -> OneLogin_Saml2_Settings:
        """An SP configured from the IdP metadata file the service keeps."""
        idp = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml)
        return OneLogin_Saml2_Settings({
            "strict": True,
            "sp": {
                "entityId": sp_entity("docs"),
                "assertionConsumerService": {"url": ACS, "binding": C.BINDING_HTTP_POST},
                "NameIDFormat": C.NAMEID_PERSISTENT,
            },
            "idp": idp["idp"],
            "security": {"wantAssertionsSigned": True, "wantNameId": True, "rejectDeprecatedAlgorithm": True},
        })

    def sign_in(self, settings: OneLogin_Saml2_Settings):
        """SP-initiated sign-in as carol through the real pages: (request id, posted form)."""
        data = {"https": "off", "http_host": SP_HOST, "script_name": "/login", "get_data": {}, "post_data": {}}
        sp = OneLogin_Saml2_Auth(data, old_settings=settings)
        url = sp.login()
        assert url.startswith(f"{self.base}/application/saml/docs/sso/binding/redirect/"), url
        client = WebClient(self.base)
        r = client.http.get(url, allow_redirects=False)
        for _ in range(6):
            if r.status_code not in (302, 303):
                break
            loc = r.headers["location"]
            if loc.startswith("/login"):
                r = client.sign_in("carol", PASSWORD, next=parse_qs(urlparse(loc).query)["next"][0])
                continue
            r = client.http.get(self.base + loc, allow_redirects=False)
        assert r.status_code == 200, r.text
        return sp.get_last_request_id(), post_form(r.text)

    @staticmethod
    def acs(settings: OneLogin_Saml2_Settings, form, request_id: str) -> OneLogin_Saml2_Auth:
        assert form.action == ACS
        data = {"https": "off", "http_host": SP_HOST, "script_name": "/acs", "get_data": {},
                "post_data": {"SAMLResponse": form.fields["SAMLResponse"]}}
        auth = OneLogin_Saml2_Auth(data, old_settings=settings)
        auth.process_response(request_id=request_id)
        return auth

def docs_drifts(report: dict) -> dict:
    svc = next(s for s in report["services"] if s["service"] == "docs")
    return {d["kind"]: d for d in svc["drifts"]}

def run_scenario(stack: SamlStack, tmp_path):
    pem_file = stack.root / "docs" / "idp.pem"
    md_file = stack.root / "docs" / "idp-metadata.xml"
    # The application exists from the blueprint; the service's trust files do not yet.
    code, report = stack.check()
    assert code == 1 and set(docs_drifts(report)) == {"trust"}, report
    stack.cli("sso", "fix", "docs")
    code, report = stack.check()
    assert code == 0 and report["clean"], report
    os.chmod(md_file, 0o640)
    old_md = md_file.read_text()
    old_pem = pem_file.read_text()
    served = OneLogin_Saml2_IdPMetadataParser.parse(
        __import__("requests").get(f"{stack.base}/application/saml/docs/metadata/", timeout=10).text)
    assert served["idp"]["x509cert"] in old_pem.replace("\n", "")
    assert served["idp"]["entityId"] == f"{stack.base}/application/saml/docs/metadata/"

    old_settings = stack.settings(old_md)
    rid, form = stack.sign_in(old_settings)
    auth = stack.acs(old_settings, form, rid)
    assert not auth.get_errors() and auth.is_authenticated(), auth.get_last_error_reason()

    # Rotate: the next certificate is published now; switch to it at once.
    stack.cli("key", "rotate", "--kind", "saml", "--family", "rsa", "--activate-in", "0s")
    code, report = stack.check()
    assert code == 1, report
    trust = docs_drifts(report)["trust"]
    assert "lacks 1 of the SAML signing certificates" in trust["detail"], trust
    assert trust["fixable"]
    table = stack.cli("sso", "check", check=False)
    assert table.returncode == 1 and "docs" in table.stdout

    # The stale file no longer verifies what Gatehouse signs.
    time.sleep(1.5)  # the server sees the new key through its change feed (1 s poll on PostgreSQL)
    rid, form = stack.sign_in(old_settings)
    stale = stack.acs(old_settings, form, rid)
    assert stale.get_errors(), "a response signed by the new key must fail with the stale metadata"

    dry = stack.cli("sso", "fix", "docs", "--dry-run")
    assert "would write the current SAML signing metadata" in dry.stdout, dry.stdout
    assert md_file.read_text() == old_md
    before = len(json.loads(stack.cli("--json", "events", "--action", "sso_fix", "--limit", "1000").stdout))
    fixed = stack.cli("sso", "fix", "docs")
    assert "did write the current SAML signing" in fixed.stdout, fixed.stdout
    events = json.loads(stack.cli("--json", "events", "--action", "sso_fix", "--limit", "1000").stdout)
    assert len(events) == before + 2  # the certificate file and the metadata file
    kinds = [e["context"].get("trust") for e in events]
    assert kinds.count("saml_certificate") == 2 and kinds.count("saml_metadata") == 2, kinds
    # Atomic rewrite with a backup, mode kept.
    assert (stack.root / "docs" / "idp-metadata.xml.bak").read_text() == old_md
    assert stat.S_IMODE(os.stat(md_file).st_mode) == 0o640
    new_md = md_file.read_text()
    assert new_md != old_md
    code, report = stack.check()
    assert code == 0 and report["clean"], report
    # A second run changes nothing, not even an event.
    assert stack.cli("sso", "fix", "--all").stdout.strip() == "nothing to repair"
    assert len(json.loads(stack.cli("--json", "events", "--action", "sso_fix", "--limit", "1000").stdout)) == len(events)

    # An SP configured from the refreshed file accepts the signed response.
    new_settings = stack.settings(new_md)
    rid, form = stack.sign_in(new_settings)
    auth = stack.acs(new_settings, form, rid)
    assert not auth.get_errors(), (auth.get_errors(), auth.get_last_error_reason())
    assert auth.is_authenticated()
    assert auth.get_attributes()["username"] == ["carol"]
    # The response is signed by the new certificate, which only the refreshed PEM file holds.
    xml = base64.b64decode(form.fields["SAMLResponse"])
    new_cert = OneLogin_Saml2_IdPMetadataParser.parse(new_md)["idp"]["x509certMulti"]["signing"][0]
    assert new_cert in pem_file.read_text().replace("\n", "") and new_cert not in old_pem.replace("\n", "")
    pem = "-----BEGIN CERTIFICATE-----\n" + new_cert + "\n-----END CERTIFICATE-----\n"
    assert xmlsec1_verify(xml, pem, tmp_path).returncode == 0

@pytest.fixture
def stack(sqlite_install):
    return SamlStack(sqlite_install)

@pytest.fixture
def pg_stack(pg_install):
    return SamlStack(pg_install)

def test_saml_key_rotation_is_trust_drift_and_fix_refreshes_the_files(stack: SamlStack, tmp_path):
    run_scenario(stack, tmp_path)

def test_saml_drift_on_postgres(pg_stack: SamlStack, tmp_path):
    run_scenario(pg_stack, tmp_path)

def test_refresh_before_the_switch_keeps_sign_in_working(sqlite_install, monkeypatch):
    """The operator's way: rotate with a delay, `sso check` flags the
    pre-published certificate at once, `sso fix` refreshes the file, and when
    the test clock passes the switch the service already trusts the new key."""
    stack = SamlStack(sqlite_install, clock=True)
    md_file = stack.root / "docs" / "idp-metadata.xml"
    stack.cli("sso", "fix", "docs")
    assert stack.check()[0] == 0
    stale_md = md_file.read_text()
    stack.cli("key", "rotate", "--kind", "saml", "--family", "rsa", "--activate-in", "1h")
    code, report = stack.check()
    assert code == 1 and "trust" in docs_drifts(report), report
    stack.cli("sso", "fix", "docs")
    assert stack.check()[0] == 0
    fresh = stack.settings(md_file.read_text())
    # Before the switch the old key signs; the refreshed file trusts it too.
    time.sleep(0.6)
    rid, form = stack.sign_in(fresh)
    auth = stack.acs(fresh, form, rid)
    assert not auth.get_errors(), (auth.get_errors(), auth.get_last_error_reason())
    # Past the switch: the new key signs. The refreshed file accepts it, the stale one does not.
    stack.advance(3600 + 60)
    # The SP lives in the same (moved) time as the server.
    from onelogin.saml2.utils import OneLogin_Saml2_Utils
    monkeypatch.setattr(OneLogin_Saml2_Utils, "now", staticmethod(lambda: int(time.time()) + 3600 + 60))
    listing = json.loads(stack.cli("--json", "key", "list", "--kind", "saml").stdout)
    assert sorted(k["status"] for k in listing if k["family"] == "rsa") == ["retiring", "signing"], listing
    rid, form = stack.sign_in(fresh)
    auth = stack.acs(fresh, form, rid)
    assert not auth.get_errors(), (auth.get_errors(), auth.get_last_error_reason())
    assert auth.get_attributes()["username"] == ["carol"]
    stale = stack.settings(stale_md)
    rid, form = stack.sign_in(stale)
    assert stack.acs(stale, form, rid).get_errors()
    # Nothing to repair: the file holds both published certificates.
    assert stack.check()[0] == 0

def test_saml_acs_url_change_is_drift_and_fixed(stack: SamlStack):
    stack.cli("sso", "fix", "--all")
    assert stack.check()[0] == 0
    (stack.root / ".env").write_text(
        (stack.root / ".env").read_text().replace(f"SP_URL=http://{SP_HOST}", "SP_URL=http://moved.example.test"))
    code, report = stack.check()
    assert code == 1
    d = docs_drifts(report)
    assert "http://moved.example.test/acs" in d["acs_urls"]["items"]
    assert d["audience"]["items"] == ["http://moved.example.test/docs/metadata/"]
    stack.cli("sso", "fix", "docs")
    assert stack.check()[0] == 0
    shown = stack.cli("app", "show", "docs").stdout
    assert "http://moved.example.test/acs" in shown
