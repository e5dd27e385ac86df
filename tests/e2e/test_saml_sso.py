"""SAML 2.0 against a running server, with python3-saml (OneLogin, xmlsec
inside) as the service provider: SP-initiated sign-in through the real
sign-in pages over both bindings, IdP-initiated sign-in, single logout, and
`xmlsec1 --verify` of the signed responses with the published certificate.
Every sign-in is by a non-admin user."""

import base64
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import WebClient
from saml_support import ACS, PASSWORD, SLS, SP_ENTITY, SamlEnv, post_form, sp_entity, xmlsec1_verify

@pytest.fixture(scope="module")
def env():
    from conftest import Installation

    inst = Installation()
    e = SamlEnv(inst)
    yield e
    inst.close()

def follow_to_form(env: SamlEnv, client: WebClient, r, username: str = "alice"):
    """From the IdP's first answer, through sign-in if needed, to the final page."""
    for _ in range(6):
        if r.status_code not in (302, 303):
            return r
        loc = r.headers["location"]
        if loc.startswith("/login"):
            nxt = parse_qs(urlparse(loc).query)["next"][0]
            r = client.sign_in(username, PASSWORD, next=nxt)
            continue
        assert loc.startswith("/"), loc
        r = client.http.get(env.url(loc), allow_redirects=False)
    raise AssertionError("too many redirects")

def idp_cert(env: SamlEnv, slug: str) -> str:
    md = env.settings(slug).get_idp_data()
    return md["x509cert"]

def check_identity(auth, slug: str):
    attrs = auth.get_attributes()
    friendly = auth.get_friendlyname_attributes()
    assert attrs["username"] == ["alice"]
    assert attrs["email"] == ["alice@example.com"]
    assert attrs["name"] == ["Alice Liddell"]
    assert attrs["groups"] == ["staff"]
    assert attrs["http://schemas.goauthentik.io/2021/02/saml/username"] == ["alice"]
    assert attrs["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"] == ["alice@example.com"]
    assert attrs["http://schemas.xmlsoap.org/claims/Group"] == ["staff"]
    assert friendly["groups"] == ["staff"] and friendly["username"] == ["alice"]
    assert re.fullmatch(r"[0-9a-f]{64}", attrs["uid"][0])
    assert auth.get_nameid_format() == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert auth.get_session_index()
    assert auth.get_settings().get_idp_data()["entityId"].endswith(f"/application/saml/{slug}/metadata/")

def test_metadata_publishes_endpoints_and_certificate(env):
    env.app("md")
    settings = env.settings("md")
    idp = settings.get_idp_data()
    assert idp["entityId"] == env.url("/application/saml/md/metadata/")
    assert idp["singleSignOnService"]["url"] == env.url("/application/saml/md/sso/binding/redirect/")
    assert idp["singleLogoutService"]["url"] == env.url("/application/saml/md/slo/binding/redirect/")
    assert "BEGIN CERTIFICATE" in idp["x509cert"] or len(idp["x509cert"]) > 500

@pytest.mark.parametrize("alg,sign", [("rsa-sha256", "assertion"), ("rsa-sha512", "both"), ("ecdsa-sha256", "response")])
def test_sp_initiated_redirect_binding(env, alg, sign, tmp_path):
    slug = f"redir-{alg}-{sign}"
    env.app(slug, "--signing-alg", alg, "--sign", sign)
    settings = env.settings(slug, want_messages_signed=sign != "assertion")
    if sign == "response":
        settings.get_security_data()["wantAssertionsSigned"] = False
    sp = env.sp_auth(settings)
    url = sp.login(return_to="/after-login")
    request_id = sp.get_last_request_id()
    assert url.startswith(env.url(f"/application/saml/{slug}/sso/binding/redirect/"))
    client = WebClient(env.server.url)
    page = follow_to_form(env, client, client.http.get(url, allow_redirects=False))
    assert page.status_code == 200, page.text
    form = post_form(page.text)
    # No JavaScript needed (a visible button); the auto-submit script is a /static/ file.
    assert '<button type="submit"' in page.text and form.script_src == ["/static/saml-post.js"]
    assert form.fields["RelayState"] == "/after-login"
    auth = env.acs(settings, form, request_id)
    check_identity(auth, slug)
    xml = base64.b64decode(form.fields["SAMLResponse"])
    assert xml.count(b"<ds:Signature ") == (2 if sign == "both" else 1)
    r = xmlsec1_verify(xml, idp_cert(env, slug), tmp_path)
    assert r.returncode == 0, r.stderr
    # The same person gets the same pseudonym next time; a tampered response fails xmlsec1.
    r = xmlsec1_verify(xml.replace(b"alice@example.com", b"admin@example.com"), idp_cert(env, slug), tmp_path)
    assert r.returncode != 0

def test_sp_initiated_post_binding_with_signed_requests(env, tmp_path):
    env.app("post", "--sign", "both", signed_requests=True)
    settings = env.settings("post", signed_requests=True, want_messages_signed=True)
    request_id, saml_request = env.post_authn_request(settings, sign=True)
    client = WebClient(env.server.url)
    r = client.http.post(
        env.url("/application/saml/post/sso/binding/post/"),
        data={"SAMLRequest": saml_request, "RelayState": "rs-post"},
        allow_redirects=False,
    )
    page = follow_to_form(env, client, r)
    assert page.status_code == 200, page.text
    form = post_form(page.text)
    auth = env.acs(settings, form, request_id)
    check_identity(auth, "post")
    first = auth.get_nameid()
    r = xmlsec1_verify(base64.b64decode(form.fields["SAMLResponse"]), idp_cert(env, "post"), tmp_path)
    assert r.returncode == 0, r.stderr
    # Signed in already: a second request goes straight back, with the same pseudonym.
    request_id, saml_request = env.post_authn_request(settings, sign=True)
    r = client.http.post(env.url("/application/saml/post/"), data={"SAMLRequest": saml_request}, allow_redirects=False)
    form = post_form(follow_to_form(env, client, r).text)
    assert env.acs(settings, form, request_id).get_nameid() == first

def test_signed_redirect_binding_request(env):
    env.app("sredir", signed_requests=True)
    settings = env.settings("sredir", signed_requests=True)
    sp = env.sp_auth(settings)
    url = sp.login()
    assert "Signature=" in url and "SigAlg=" in url
    client = WebClient(env.server.url)
    form = post_form(follow_to_form(env, client, client.http.get(url, allow_redirects=False)).text)
    env.acs(settings, form, sp.get_last_request_id())

def test_idp_initiated_sign_in(env, tmp_path):
    env.app("init")
    settings = env.settings("init")
    client = WebClient(env.server.url)
    r = client.http.get(env.url("/application/saml/init/sso/binding/init/"), allow_redirects=False)
    form = post_form(follow_to_form(env, client, r).text)
    auth = env.acs(settings, form, None)
    check_identity(auth, "init")
    assert b"InResponseTo" not in base64.b64decode(form.fields["SAMLResponse"])

def test_single_logout(env):
    env.app("slo", "--sign", "both", signed_requests=True)
    settings = env.settings("slo", signed_requests=True, want_messages_signed=True)
    client = WebClient(env.server.url)
    sp = env.sp_auth(settings)
    form = post_form(follow_to_form(env, client, client.http.get(sp.login(), allow_redirects=False)).text)
    auth = env.acs(settings, form, sp.get_last_request_id())
    assert client.signed_in()
    sp = env.sp_auth(settings)
    url = sp.logout(return_to="/bye", name_id=auth.get_nameid(), session_index=auth.get_session_index(),
                    name_id_format=auth.get_nameid_format())
    logout_id = sp.get_last_request_id()
    r = client.http.get(url, allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    r = client.http.get(env.url(r.headers["location"]), allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    back = r.headers["location"]
    assert back.startswith(SLS + "?")
    query = urlparse(back).query
    get = {k: v[0] for k, v in parse_qs(query).items()}
    sls = env.sp_auth(settings, path="/sls", get=get, query=query)
    sls.process_slo(request_id=logout_id, keep_local_session=True)
    assert not sls.get_errors(), (sls.get_errors(), sls.get_last_error_reason())
    assert get["RelayState"] == "/bye"
    assert not client.signed_in()

def test_user_outside_bound_groups_is_refused(env):
    env.app("staffonly", "--allow-group", "staff")
    settings = env.settings("staffonly")
    client = WebClient(env.server.url)
    sp = env.sp_auth(settings)
    page = follow_to_form(env, client, client.http.get(sp.login(), allow_redirects=False), username="bob")
    assert page.status_code == 403
    assert "may not use" in page.text and "SAMLResponse" not in page.text
    events = json.loads(env.inst.cli("events", "--json", "--action", "authorize_application_denied").stdout)
    assert any(e["context"].get("username") == "bob" for e in events), events

def test_key_rotation_prepublishes_the_next_certificate(env, tmp_path):
    import time

    env.app("rotate")
    before = env.settings("rotate").get_idp_data()["x509cert"]
    env.inst.cli("key", "rotate", "--kind", "saml", "--family", "rsa", "--activate-in", "1h")
    listing = json.loads(env.inst.cli("--json", "key", "list", "--kind", "saml").stdout)
    assert sorted(k["status"] for k in listing if k["family"] == "rsa") == ["next", "signing"]
    time.sleep(0.6)  # the server sees the change through its change feed
    settings = env.settings("rotate")
    idp = settings.get_idp_data()
    certs = idp.get("x509certMulti", {}).get("signing", [])
    assert len(certs) == 2 and certs[0] == before, "the signing certificate first, the next one published too"
    client = WebClient(env.server.url)
    sp = env.sp_auth(settings)
    form = post_form(follow_to_form(env, client, client.http.get(sp.login(), allow_redirects=False)).text)
    env.acs(settings, form, sp.get_last_request_id())
    assert xmlsec1_verify(base64.b64decode(form.fields["SAMLResponse"]), before, tmp_path).returncode == 0
    # Switch now: the new certificate signs, the old one stays published.
    env.inst.cli("key", "rotate", "--kind", "saml", "--family", "rsa", "--activate-in", "0s")
    time.sleep(0.6)
    settings = env.settings("rotate")
    certs = settings.get_idp_data()["x509certMulti"]["signing"]
    assert len(certs) == 3 and before in certs[1:]
    sp = env.sp_auth(settings)
    form = post_form(follow_to_form(env, client, client.http.get(sp.login(), allow_redirects=False)).text)
    env.acs(settings, form, sp.get_last_request_id())
    xml = base64.b64decode(form.fields["SAMLResponse"])
    assert xmlsec1_verify(xml, certs[0], tmp_path).returncode == 0
    assert xmlsec1_verify(xml, before, tmp_path).returncode != 0

def test_app_update_changes_saml_settings(env):
    env.app("upd")
    env.inst.cli("app", "update", "upd", "--sign", "both", "--name-id", "email", "--signing-alg", "ecdsa-sha256")
    shown = env.inst.cli("app", "show", "upd").stdout
    assert "email" in shown and "both" in shown and "ecdsa-sha256" in shown
    # Options of another provider are refused, and settings must stay valid.
    assert env.inst.cli("app", "update", "upd", "--acs-url", "not a url", check=False).returncode == 2
    settings = env.settings("upd", want_messages_signed=True)
    client = WebClient(env.server.url)
    sp = env.sp_auth(settings)
    form = post_form(follow_to_form(env, client, client.http.get(sp.login(), allow_redirects=False)).text)
    auth = env.acs(settings, form, sp.get_last_request_id())
    assert auth.get_nameid() == "alice@example.com"
    assert base64.b64decode(form.fields["SAMLResponse"]).count(b"ecdsa-sha256") == 2

def test_application_requiring_mfa_steps_a_password_session_up(env):
    """Per-application MFA: a password-only session is sent through the second
    factor (here: enrolment) and comes back to the same SAML request; the
    assertion's authentication context then says multi-factor."""
    import html

    import pyotp

    env.app("vault")
    env.inst.cli("policy", "mfa", "require-app", "vault")
    try:
        settings = env.settings("vault")
        sp = env.sp_auth(settings)
        url = sp.login()
        request_id = sp.get_last_request_id()
        client = WebClient(env.server.url)
        r = client.http.get(url, allow_redirects=False)  # the request is parked: on to its continue URL
        r = client.http.get(env.url(r.headers["location"]), allow_redirects=False)  # not signed in: to /login
        r = client.sign_in("alice", PASSWORD, next=parse_qs(urlparse(r.headers["location"]).query)["next"][0])
        assert r.status_code == 303 and "/sso/continue/" in r.headers["location"], r.headers
        # The continue URL sends the session to the step-up, which walks alice through enrolment.
        page = client.http.get(env.url(r.headers["location"]))
        assert page.url.endswith("/login/mfa/enrol") and "SAMLResponse" not in page.text, (page.url, page.text[:300])
        secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text).group(1)
        pending = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
        r = client.http.post(env.url("/login/mfa/enrol"), data={
            "csrf_token": WebClient.CSRF.search(page.text).group(1), "pending": pending, "name": "Phone",
            "code": pyotp.TOTP(secret).now()})
        assert r.status_code == 200 and "Your recovery codes" in r.text, r.text[:400]
        back = html.unescape(re.search(r'href="(/application/saml/vault/[^"]+)"', r.text).group(1))
        page = client.http.get(env.url(back), allow_redirects=False)
        assert page.status_code == 200, page.text[:300]
        form = post_form(page.text)
        auth = env.acs(settings, form, request_id)
        assert auth.get_attributes()["username"] == ["alice"]
        xml = base64.b64decode(form.fields["SAMLResponse"])
        assert b"https://refeds.org/profile/mfa" in xml
    finally:
        env.inst.cli("policy", "mfa", "unrequire-app", "vault")
        env.inst.cli("user", "mfa", "reset", "alice")

def unsigned_logout_url(env: SamlEnv, slug: str) -> str:
    """An unsigned LogoutRequest over the Redirect binding, as any web page could build one."""
    import datetime
    import uuid
    import zlib
    from urllib.parse import urlencode

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dest = env.url(f"/application/saml/{slug}/slo/binding/redirect/")
    xml = (f'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{uuid.uuid4().hex}" Version="2.0" '
           f'IssueInstant="{now}" Destination="{dest}"><saml:Issuer>{sp_entity(slug)}</saml:Issuer>'
           f'<saml:NameID>anyone</saml:NameID></samlp:LogoutRequest>')
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflater.compress(xml.encode()) + deflater.flush()
    return f"{dest}?{urlencode({'SAMLRequest': base64.b64encode(raw).decode()})}"

def test_unsigned_logout_request_needs_the_sp_setting(env):
    """Issue 13, finding 10: an SP without certificates cannot sign its LogoutRequests,
    so anyone can forge one; it signs nobody out unless the SP is allowed to send them."""
    env.app("nocert")
    client = WebClient(env.server.url)
    client.sign_in("alice", PASSWORD)
    assert client.signed_in()
    r = client.http.get(unsigned_logout_url(env, "nocert"), allow_redirects=False)
    assert r.status_code == 400 and "not signed" in r.text, r.text
    assert client.signed_in(), "a forged logout request signed the person out"

    env.inst.cli("app", "update", "nocert", "--allow-unsigned-logout", "on")
    shown = json.loads(env.inst.cli("--json", "app", "show", "nocert").stdout)
    assert "allow_unsigned_logout" in json.dumps(shown)
    r = client.http.get(unsigned_logout_url(env, "nocert"), allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    r = client.http.get(env.url(r.headers["location"]), allow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith(SLS), r.text
    assert not client.signed_in()

def test_idp_initiated_sign_in_passes_the_same_gate(env):
    """IdP-initiated sign-in asks the one gate too: a user outside the bound
    groups gets the refusal page and its event; a password-only session is
    sent to the step-up where the application requires MFA, not answered."""
    env.app("initstaff", "--allow-group", "staff")
    client = WebClient(env.server.url)
    r = client.http.get(env.url("/application/saml/initstaff/sso/binding/init/"), allow_redirects=False)
    page = follow_to_form(env, client, r, username="bob")
    assert page.status_code == 403, page.text[:300]
    assert "may not use" in page.text and "SAMLResponse" not in page.text
    events = json.loads(env.inst.cli("events", "--json", "--action", "authorize_application_denied").stdout)
    assert any(e["context"].get("username") == "bob"
               and e["context"]["authorized_application"]["slug"] == "initstaff" for e in events), events

    env.app("initvault")
    env.inst.cli("policy", "mfa", "require-app", "initvault")
    try:
        client = WebClient(env.server.url)
        r = client.http.get(env.url("/application/saml/initvault/sso/binding/init/"), allow_redirects=False)
        here = r.headers["location"]
        assert here.startswith("/application/saml/initvault/sso/continue/"), here
        r = client.http.get(env.url(here), allow_redirects=False)  # not signed in: to /login
        r = client.sign_in("alice", PASSWORD, next=parse_qs(urlparse(r.headers["location"]).query)["next"][0])
        assert r.status_code == 303 and r.headers["location"] == here, r.headers
        r = client.http.get(env.url(here), allow_redirects=False)
        assert r.status_code in (302, 303), r.text[:300]
        step_up = urlparse(r.headers["location"])
        assert step_up.path == "/login/mfa/step-up" and parse_qs(step_up.query)["next"] == [here], r.headers
    finally:
        env.inst.cli("policy", "mfa", "unrequire-app", "initvault")
