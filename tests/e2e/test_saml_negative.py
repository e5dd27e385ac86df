"""What a SAML endpoint must refuse, black-box: unregistered ACS URLs,
unsigned requests where signatures are required, tampered signatures, XML
signature wrapping, DTDs and entities, oversized and expired requests,
replayed request IDs, wrong Destination and Issuer. Each refusal is a page,
never a response to the SP; signed requests come from xmlsec (python3-saml)."""

import base64
import datetime
import uuid
from urllib.parse import quote

import pytest
import requests
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from saml_support import ACS, SamlEnv, deflate_b64, sp_entity

@pytest.fixture(scope="module")
def env():
    from conftest import Installation

    inst = Installation()
    e = SamlEnv(inst)
    e.app("open")
    e.app("signed", signed_requests=True)
    yield e
    inst.close()

def instant(delta_s: int = 0) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

def authn(env: SamlEnv, slug: str, *, rid: str | None = None, acs: str = ACS, issuer: str | None = None,
          when: str | None = None, dest: str | None = None, inner: str = "", no_dest: bool = False) -> tuple[str, str]:
    rid = rid or f"_{uuid.uuid4().hex}"
    dest = dest if dest is not None else env.url(f"/application/saml/{slug}/sso/binding/post/")
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" '
        f'IssueInstant="{when or instant()}"' + ("" if no_dest else f' Destination="{dest}"')
        + f' AssertionConsumerServiceURL="{acs}" '
        f'ProtocolBinding="{C.BINDING_HTTP_POST}"><saml:Issuer>{issuer or sp_entity(slug)}</saml:Issuer>'
        f'{inner}</samlp:AuthnRequest>'
    )
    return rid, xml

def sign(env: SamlEnv, xml: str) -> str:
    out = OneLogin_Saml2_Utils.add_sign(xml, env.sp_key, env.sp_cert, sign_algorithm=C.RSA_SHA256,
                                        digest_algorithm=C.SHA256)
    return out.decode() if isinstance(out, bytes) else out

def post(env: SamlEnv, slug: str, xml: str) -> requests.Response:
    return requests.post(env.url(f"/application/saml/{slug}/sso/binding/post/"),
                         data={"SAMLRequest": base64.b64encode(xml.encode()).decode()}, allow_redirects=False)

def redirect(env: SamlEnv, slug: str, xml: str) -> requests.Response:
    return requests.get(env.url(f"/application/saml/{slug}/sso/binding/redirect/") + "?SAMLRequest="
                        + quote(deflate_b64(xml), safe=""), allow_redirects=False)

def refused(r: requests.Response, why: str):
    assert r.status_code == 400, (r.status_code, r.text[:500])
    assert "SAML request refused" in r.text and why in r.text, r.text
    assert "SAMLResponse" not in r.text

def accepted(r: requests.Response):
    assert r.status_code in (302, 303), (r.status_code, r.text[:800])
    assert "/sso/continue/" in r.headers["location"]

def test_a_good_request_is_accepted(env):
    accepted(post(env, "open", authn(env, "open")[1]))
    accepted(post(env, "signed", sign(env, authn(env, "signed")[1])))

def test_unregistered_acs_url(env):
    refused(post(env, "open", authn(env, "open", acs="http://evil.example/acs")[1]), "is not registered")
    # Not even a prefix or a variant of the registered one.
    refused(post(env, "open", authn(env, "open", acs=ACS + "/x")[1]), "is not registered")

def test_unsigned_request_where_signatures_are_required(env):
    refused(post(env, "signed", authn(env, "signed")[1]), "not signed")
    refused(redirect(env, "signed", authn(env, "signed",
                                          dest=env.url("/application/saml/signed/sso/binding/redirect/"))[1]),
            "not signed")

def test_tampered_signatures(env):
    _, xml = authn(env, "signed")
    signed = sign(env, xml)
    refused(post(env, "signed", signed.replace('Version="2.0"', 'Version="2.0" ForceAuthn="true"', 1)),
            "signature refused")
    # One flipped character of the SignatureValue.
    i = signed.index("<ds:SignatureValue>") + len("<ds:SignatureValue>") + 10
    flipped = signed[:i] + ("A" if signed[i] != "A" else "B") + signed[i + 1:]
    refused(post(env, "signed", flipped), "signature refused")
    # Signed by another key.
    other_key, other_cert = __import__("saml_support").sp_keypair()
    out = OneLogin_Saml2_Utils.add_sign(xml, other_key, other_cert, sign_algorithm=C.RSA_SHA256,
                                        digest_algorithm=C.SHA256)
    refused(post(env, "signed", out.decode() if isinstance(out, bytes) else out), "signature refused")

def test_signature_wrapping_permutations(env):
    rid, xml = authn(env, "signed")
    signed = sign(env, xml)
    sig_start = signed.index("<ds:Signature")
    sig_end = signed.index("</ds:Signature>") + len("</ds:Signature>")
    sig = signed[sig_start:sig_end]
    unsigned_orig = signed[:sig_start] + signed[sig_end:]
    evil_acs = "http://evil.example/acs"

    def evil(rid2: str, inner: str) -> str:
        return authn(env, "signed", rid=rid2, acs=evil_acs, inner=inner)[1]

    cases = [
        evil("_evil", f"<samlp:Extensions>{signed}</samlp:Extensions>"),
        evil("_evil", f"{sig}<samlp:Extensions>{unsigned_orig}</samlp:Extensions>"),
        evil(rid, f"{sig}<samlp:Extensions>{unsigned_orig}</samlp:Extensions>"),
        evil(rid, f"{sig}{unsigned_orig}"),
        evil(rid, sig),
        signed.replace("</samlp:AuthnRequest>", f"{sig}</samlp:AuthnRequest>"),
        signed.replace(f'URI="#{rid}"', 'URI=""'),
        signed.replace("<samlp:NameIDPolicy", f'<samlp:Extensions ID="{rid}"/><samlp:NameIDPolicy')
        if "<samlp:NameIDPolicy" in signed else signed.replace("</saml:Issuer>", f'</saml:Issuer><samlp:Extensions ID="{rid}"/>'),
    ]
    for i, doc in enumerate(cases):
        r = post(env, "signed", doc)
        assert r.status_code == 400, (i, r.status_code, doc)
        assert "signature refused" in r.text or "not signed" in r.text, (i, r.text)

def test_dtd_and_entities(env):
    _, xml = authn(env, "open")
    refused(post(env, "open", '<!DOCTYPE r [<!ENTITY x "boom">]>' + xml), "DTD")
    refused(post(env, "open", '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + xml.replace(
        "</saml:Issuer>", "</saml:Issuer><samlp:Extensions>&x;</samlp:Extensions>")), "DTD")
    refused(post(env, "open", '<?xml version="1.0"?><?evil x?>' + xml), "processing instructions")

def test_oversized_documents(env):
    _, xml = authn(env, "open", inner="<samlp:Extensions>" + "<x/>" * 30_000 + "</samlp:Extensions>",
                   dest=env.url("/application/saml/open/sso/binding/redirect/"))
    refused(redirect(env, "open", xml), "too large")
    # Through POST the body limit stops it even earlier.
    r = post(env, "open", xml)
    assert r.status_code in (400, 413)

def test_expired_and_future_requests(env):
    refused(post(env, "open", authn(env, "open", when=instant(-3600))[1]), "expired")
    refused(post(env, "open", authn(env, "open", when=instant(3600))[1]), "future")

def test_replayed_request_id(env):
    rid, xml = authn(env, "signed")
    signed = sign(env, xml)
    accepted(post(env, "signed", signed))
    refused(post(env, "signed", signed), "replayed")
    # Also across bindings and endpoints.
    refused(requests.post(env.url("/application/saml/signed/"),
                          data={"SAMLRequest": base64.b64encode(signed.encode()).decode()}, allow_redirects=False),
            "replayed")

def test_wrong_destination_and_issuer(env):
    refused(post(env, "open", authn(env, "open", dest=env.url("/application/saml/signed/sso/binding/post/"))[1]),
            "Destination")
    refused(post(env, "open", authn(env, "open", issuer="http://other-sp/")[1]), "Issuer")
    # An unknown application is a 404, not a SAML answer.
    r = post(env, "nosuchapp", authn(env, "nosuchapp")[1])
    assert r.status_code == 404

def test_signed_request_without_destination(env):
    # Signed: the Destination must be there (and match); unsigned it may be left out.
    refused(post(env, "signed", sign(env, authn(env, "signed", no_dest=True)[1])), "has no Destination")
    accepted(post(env, "open", authn(env, "open", no_dest=True)[1]))
    refused(post(env, "signed", sign(env, authn(env, "signed",
                                                dest=env.url("/application/saml/open/sso/binding/post/"))[1])),
            "Destination")
