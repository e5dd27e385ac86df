"""A SAML service provider made of python3-saml (OneLogin, xmlsec inside),
driven by hand: it builds AuthnRequests and LogoutRequests, and validates the
responses Gatehouse posts back with its own checks (signature, audience,
recipient, destination, InResponseTo, timing)."""

import base64
import datetime
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

SP_HOST = "sp.example.test"
SP_ENTITY = f"http://{SP_HOST}/metadata/"

def sp_entity(slug: str) -> str:
    """Each application's SP has its own entity id (Gatehouse keeps them unique)."""
    return f"http://{SP_HOST}/{slug}/metadata/"
ACS = f"http://{SP_HOST}/acs"
SLS = f"http://{SP_HOST}/sls"
PASSWORD = "correct horse battery staple 42"

def sp_keypair() -> tuple[str, str]:
    """A fresh RSA key and self-signed certificate for the SP (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e sp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()

class FormParser(HTMLParser):
    """Finds the auto-submitting form: action and hidden fields."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, str] = {}
        self.script_src: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "saml-post":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "script":
            self.script_src.append(a.get("src") or "")

def post_form(html: str) -> FormParser:
    p = FormParser()
    p.feed(html)
    assert p.action, html
    return p

class SamlEnv:
    """An installation with a server, a non-admin user and a SAML application per test."""

    def __init__(self, inst):
        self.inst = inst
        inst.user("alice", PASSWORD, "Alice Liddell")
        inst.user("bob", PASSWORD, "Bob")
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        self.server = inst.server()
        self.sp_key, self.sp_cert = sp_keypair()
        self.certfile = Path(inst.dir) / "sp.pem"
        self.certfile.write_text(self.sp_cert)

    def url(self, path: str) -> str:
        return self.server.url + path

    def app(self, slug: str, *extra: str, signed_requests: bool = False) -> None:
        args = ["app", "create", slug, "--name", f"SAML {slug}", "--provider", "saml",
                "--acs-url", ACS, "--audience", sp_entity(slug), "--slo-url", SLS, *extra]
        if signed_requests:
            args += ["--sp-cert", str(self.certfile)]
        self.inst.cli(*args)

    def settings(self, slug: str, signed_requests: bool = False, want_messages_signed: bool = False) -> OneLogin_Saml2_Settings:
        md = requests.get(self.url(f"/application/saml/{slug}/metadata/"), timeout=10)
        assert md.status_code == 200, md.text
        idp = OneLogin_Saml2_IdPMetadataParser.parse(md.text)
        settings = {
            "strict": True,
            "debug": True,
            "sp": {
                "entityId": sp_entity(slug),
                "assertionConsumerService": {"url": ACS, "binding": C.BINDING_HTTP_POST},
                "singleLogoutService": {"url": SLS, "binding": C.BINDING_HTTP_REDIRECT},
                "NameIDFormat": C.NAMEID_PERSISTENT,
                "x509cert": self.sp_cert,
                "privateKey": self.sp_key,
            },
            "idp": idp["idp"],
            "security": {
                "authnRequestsSigned": signed_requests,
                "logoutRequestSigned": signed_requests,
                "wantAssertionsSigned": True,
                "wantMessagesSigned": want_messages_signed,
                "wantNameId": True,
                "signatureAlgorithm": C.RSA_SHA256,
                "digestAlgorithm": C.SHA256,
                "rejectDeprecatedAlgorithm": True,
            },
        }
        return OneLogin_Saml2_Settings(settings)

    @staticmethod
    def request_data(path: str, get: dict | None = None, post: dict | None = None, query: str = "") -> dict:
        return {
            "https": "off",
            "http_host": SP_HOST,
            "script_name": path,
            "get_data": get or {},
            "post_data": post or {},
            "query_string": query,
            "validate_signature_from_qs": bool(query),
        }

    def sp_auth(self, settings, path="/login", **kw) -> OneLogin_Saml2_Auth:
        return OneLogin_Saml2_Auth(self.request_data(path, **kw), old_settings=settings)

    def post_authn_request(self, settings, sign: bool) -> tuple[str, str]:
        """An AuthnRequest for the HTTP-POST binding (signed with the SP key when asked): (id, base64)."""
        req = OneLogin_Saml2_Authn_Request(settings)
        xml = req.get_xml()
        if sign:
            xml = OneLogin_Saml2_Utils.add_sign(
                xml, self.sp_key, self.sp_cert, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256
            )
            if isinstance(xml, bytes):
                xml = xml.decode()
        return req.get_id(), base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()

    def acs(self, settings, form: FormParser, request_id: str | None) -> OneLogin_Saml2_Auth:
        """The SP's assertion consumer: python3-saml validates the posted response."""
        assert form.action == ACS
        post = {"SAMLResponse": form.fields["SAMLResponse"]}
        if "RelayState" in form.fields:
            post["RelayState"] = form.fields["RelayState"]
        auth = OneLogin_Saml2_Auth(self.request_data("/acs", post=post), old_settings=settings)
        auth.process_response(request_id=request_id)
        assert not auth.get_errors(), (auth.get_errors(), auth.get_last_error_reason())
        assert auth.is_authenticated()
        return auth

def xmlsec1_verify(response_xml: bytes, cert_pem: str, tmp: Path) -> subprocess.CompletedProcess:
    """`xmlsec1 --verify` of every signature in the response with the published certificate."""
    doc = tmp / "response.xml"
    doc.write_bytes(response_xml)
    cert = tmp / "idp.pem"
    cert.write_text(cert_pem)
    return subprocess.run(
        ["xmlsec1", "--verify", "--pubkey-cert-pem", str(cert),
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", str(doc)],
        capture_output=True, text=True,
    )

def deflate_b64(xml: str) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()
