"""Helpers of the OIDC black-box tests: an installation with users, groups and
OIDC applications made through the CLI, a running server whose clock the
tests can move (GATEHOUSE_TEST_CLOCK_FILE), the sign-in through the real pages,
and token verification with jwcrypto against the published JWKS."""

import json
import time
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from jwcrypto import jwk, jwt

from conftest import Installation, WebClient

PASSWORD = "Oidc-Test-Pass-42"
REDIRECT = "https://app.example.test/callback"
LOGOUT_REDIRECT = "https://app.example.test/signed-out"

class OidcEnv:
    def __init__(self, inst: Installation, **server_env: str):
        self.inst = inst
        self.clock_file = inst.dir / "clock-offset"
        self.clock_file.write_text("0")
        self.offset = 0.0
        inst.user("alice", PASSWORD, "Alice Liddell")
        inst.user("bob", PASSWORD, "Bob Builder")
        inst.cli("group", "create", "admins-grafana")
        inst.cli("group", "create", "staff")
        inst.cli("group", "add", "staff", "alice")
        inst.cli("group", "add", "admins-grafana", "alice")
        self.server = inst.server(GATEHOUSE_TEST_CLOCK_FILE=str(self.clock_file), **server_env)
        self.base = self.server.url

    def cli(self, *args: str, **kw):
        """The CLI on the same (test) clock as the server."""
        return self.inst.cli(*args, GATEHOUSE_TEST_CLOCK_FILE=str(self.clock_file), **kw)

    def app(self, slug: str, *extra: str, public: bool = False) -> dict:
        args = ["app", "create", slug, "--name", slug.title(), "--provider", "oidc", "--redirect-uri", REDIRECT,
                "--post-logout-redirect-uri", LOGOUT_REDIRECT, *extra]
        if public:
            args.append("--public")
        out = self.cli("--json", *args).stdout
        return json.loads(out)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.clock_file.write_text(str(self.offset))
        time.sleep(0.25)  # the server re-reads the file at most every 100 ms

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    @property
    def token_url(self) -> str:
        return self.url("/application/o/token/")

    def jwks(self, slug: str) -> jwk.JWKSet:
        r = requests.get(self.url(f"/application/o/{slug}/jwks/"))
        assert r.status_code == 200, r.text
        return jwk.JWKSet.from_json(r.text)

    def verify(self, token: str, slug: str, alg: str) -> dict:
        """Checks the signature against the JWKS (jwcrypto) and returns the claims."""
        keys = self.jwks(slug)
        t = jwt.JWT(jwt=token, key=keys, algs=[alg], check_claims=False)
        return json.loads(t.claims)

    def events(self, action: str) -> list:
        return json.loads(self.cli("--json", "events", "--action", action).stdout)

    def session_for(self, client_id: str, secret: str | None, scope: str = "openid email profile offline_access") -> OAuth2Session:
        return OAuth2Session(client_id, secret, scope=scope, redirect_uri=REDIRECT, code_challenge_method="S256")

    def authorize_url(self, oauth: OAuth2Session, **params) -> tuple[str, str, str]:
        verifier = generate_token(48)
        uri, state = oauth.create_authorization_url(self.url("/application/o/authorize/"), code_verifier=verifier, **params)
        return uri, state, verifier

    def browse(self, web: WebClient, uri: str, username: str = "alice") -> requests.Response:
        """Follows the authorize URL through sign-in; returns the last response
        (a redirect to the client, or a page)."""
        r = web.http.get(uri, allow_redirects=False)
        for _ in range(5):
            if r.status_code not in (302, 303):
                return r
            loc = r.headers["Location"]
            if loc.startswith(REDIRECT) or loc.startswith("https://"):
                return r
            if loc.startswith("/login"):
                q = parse_qs(urlparse(loc).query)
                page = web.http.get(self.url(loc))
                r = web.http.post(self.url("/login"), data={"identifier": username, "csrf_token": web.csrf(page.text)})
                r = web.http.post(self.url("/login/password"), data={"password": PASSWORD, "csrf_token": web.csrf(r.text)},
                                  allow_redirects=False)
                assert r.status_code == 303, r.text
                assert r.headers["Location"] == q["next"][0]
                r = web.http.get(self.url(r.headers["Location"]), allow_redirects=False)
                continue
            r = web.http.get(self.url(loc), allow_redirects=False)
        return r

    def code_flow(self, oauth: OAuth2Session, web: WebClient | None = None, username: str = "alice", **params):
        web = web or WebClient(self.base)
        uri, state, verifier = self.authorize_url(oauth, **params)
        r = self.browse(web, uri, username)
        assert r.status_code in (302, 303), r.text
        callback = r.headers["Location"]
        assert callback.startswith(REDIRECT), callback
        token = oauth.fetch_token(self.token_url, authorization_response=callback, code_verifier=verifier)
        return token, callback, verifier, web

def callback_params(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
