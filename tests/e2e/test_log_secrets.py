"""Issue 13, finding 4: no secret reaches the server's log. A server at debug
level runs the flows that hand out secrets (a recovery link opened and used, an
OIDC authorization code and its tokens, the device flow's user and device codes,
a SAML continue token, session and flow cookies), then every one of them is
looked for in everything the server wrote."""

import base64
import datetime
import json
import re
import uuid
import zlib
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from conftest import WebClient

PASSWORD = "Log-Secrets-Pass-42"
NEW_PASSWORD = "Log-Secrets-New-Pass-43"
REDIRECT = "https://app.example.test/callback"
ACS = "https://sp.example.test/acs"
SP_ENTITY = "https://sp.example.test/metadata/"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

def form_csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)

def sign_in(web: WebClient, base: str, next_path: str, username: str, password: str) -> requests.Response:
    page = web.http.get(f"{base}/login", params={"next": next_path})
    r = web.http.post(f"{base}/login", data={"identifier": username, "csrf_token": form_csrf(page.text)})
    return web.http.post(f"{base}/login/password", data={"password": password, "csrf_token": form_csrf(r.text)},
                         allow_redirects=False)

def recovery_link_secrets(inst, base: str) -> list[str]:
    """An admin's one-time link: opened twice (a mail scanner, then the person), then used."""
    out = inst.cli("recovery", "key", "alice").stdout.strip()
    key = out.rstrip("/").rsplit("/", 1)[1]
    link = f"{base}/recovery/use-token/{key}/"
    scanner = requests.get(link)
    assert scanner.status_code == 200 and scanner.headers["Referrer-Policy"] == "no-referrer"
    person = WebClient(base)
    form = person.http.get(link)
    assert form.status_code == 200, form.text
    done = person.http.post(link, data={"new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD,
                                        "csrf_token": form_csrf(form.text)}, allow_redirects=False)
    assert done.status_code == 303, done.text
    # A typo of the link (no trailing slash) is a 404, and still a key.
    assert requests.get(f"{base}/recovery/use-token/{key}").status_code in (301, 308, 404)
    return [key, *person.http.cookies.values()]

def oidc_code_flow_secrets(inst, base: str) -> list[str]:
    app = json.loads(inst.cli("--json", "app", "create", "wiki", "--name", "Wiki", "--provider", "oidc",
                              "--redirect-uri", REDIRECT).stdout)
    oauth = OAuth2Session(app["client_id"], app["client_secret"], scope="openid email offline_access",
                          redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    uri, _ = oauth.create_authorization_url(f"{base}/application/o/authorize/", code_verifier=verifier)
    web = WebClient(base)
    r = web.http.get(uri, allow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["Location"].startswith("/login"), r.text
    next_path = parse_qs(urlparse(r.headers["Location"]).query)["next"][0]
    r = sign_in(web, base, next_path, "alice", NEW_PASSWORD)
    assert r.status_code == 303, r.text
    r = web.http.get(f"{base}{r.headers['Location']}", allow_redirects=False)
    if r.status_code == 200:  # consent
        r = web.http.post(f"{base}/application/o/authorize/", data={
            **dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text)), "decision": "allow"},
            allow_redirects=False)
    callback = r.headers["Location"]
    assert callback.startswith(REDIRECT), callback
    code = parse_qs(urlparse(callback).query)["code"][0]
    token = oauth.fetch_token(f"{base}/application/o/token/", authorization_response=callback, code_verifier=verifier)
    refreshed = oauth.refresh_token(f"{base}/application/o/token/", refresh_token=token["refresh_token"])
    info = requests.get(f"{base}/application/o/userinfo/", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert info.status_code == 200, info.text
    return [app["client_secret"], code, token["access_token"], token["refresh_token"], token["id_token"],
            refreshed["access_token"], refreshed["refresh_token"], *web.http.cookies.values()]

def device_flow_secrets(inst, base: str) -> list[str]:
    app = json.loads(inst.cli("--json", "app", "create", "tv", "--name", "TV", "--provider", "oidc",
                              "--redirect-uri", REDIRECT, "--public").stdout)
    # Device grants are opt-in per application.
    inst.cli("app", "update", "tv", "--device-flow", "on")
    cid = app["client_id"]
    start = requests.post(f"{base}/application/o/device/", data={"client_id": cid, "scope": "openid offline_access"})
    assert start.status_code == 200, start.text
    d = start.json()
    web = WebClient(base)
    assert sign_in(web, base, "/device", "alice", NEW_PASSWORD).status_code == 303
    # The verification link with the code in its query, as a phone would open it.
    page = web.http.get(d["verification_uri_complete"])
    assert page.status_code == 200 and d["user_code"] in page.text
    confirm = web.http.post(f"{base}/device", data={"user_code": d["user_code"], "csrf_token": form_csrf(page.text)})
    assert confirm.status_code == 200, confirm.text
    done = web.http.post(f"{base}/device/confirm", data={"user_code": d["user_code"], "decision": "allow",
                                                         "csrf_token": form_csrf(confirm.text)})
    assert done.status_code == 200, done.text
    return [d["device_code"], d["user_code"], d["user_code"].replace("-", ""), *web.http.cookies.values()]

def saml_continue_secrets(inst, base: str) -> list[str]:
    inst.cli("app", "create", "files", "--name", "Files", "--provider", "saml", "--acs-url", ACS, "--audience", SP_ENTITY)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dest = f"{base}/application/saml/files/sso/binding/redirect/"
    xml = (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{uuid.uuid4().hex}" Version="2.0" '
           f'IssueInstant="{now}" Destination="{dest}" AssertionConsumerServiceURL="{ACS}">'
           f'<saml:Issuer>{SP_ENTITY}</saml:Issuer></samlp:AuthnRequest>')
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflater.compress(xml.encode()) + deflater.flush()
    web = WebClient(base)
    r = web.http.get(f"{dest}?{urlencode({'SAMLRequest': base64.b64encode(raw).decode()})}", allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    token = parse_qs(urlparse(r.headers["Location"]).query)["t"][0]
    r = web.http.get(f"{base}{r.headers['Location']}", allow_redirects=False)
    next_path = parse_qs(urlparse(r.headers["Location"]).query)["next"][0]
    assert sign_in(web, base, next_path, "alice", NEW_PASSWORD).status_code == 303
    posted = web.http.get(f"{base}{next_path}")
    assert posted.status_code == 200 and "SAMLResponse" in posted.text, posted.text
    return [token]

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_issued_secret_reaches_the_log(backend, request):
    inst = request.getfixturevalue("sqlite_install" if backend == "sqlite" else "pg_install")
    inst.user("alice", PASSWORD, "Alice Liddell")
    srv = inst.server(GATEHOUSE_LOG_LEVEL="debug")
    base = srv.url

    secrets = [PASSWORD, NEW_PASSWORD]
    secrets += recovery_link_secrets(inst, base)
    secrets += oidc_code_flow_secrets(inst, base)
    secrets += device_flow_secrets(inst, base)
    secrets += saml_continue_secrets(inst, base)

    srv.proc.terminate()
    srv.proc.wait(10)
    port = urlparse(base).port
    log = (inst.dir / f"server-{port}.log").read_text()
    assert "/recovery/use-token/…/" in log, "the recovery requests are logged, redacted"
    assert "/application/o/token/" in log and "/device" in log, "the flows ran through this server"
    leaked = [s for s in secrets if s and len(s) >= 6 and s in log]
    assert not leaked, f"secrets in the server log: {leaked}"
