"""SP-initiated SAML sign-in in a real Chromium: the SP (python3-saml behind a
small local HTTP server) redirects to Gatehouse, the person signs in on the
real pages, and the response page's script (a /static/ file under the strict
CSP) posts the signed response to the SP's ACS, which validates it."""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect, sync_playwright

import saml_support
from saml_support import PASSWORD, SamlEnv

CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")

class SpServer:
    """An SP on loopback: /login starts SSO, /acs validates the response."""

    def __init__(self, env: SamlEnv, slug: str):
        self.env, self.slug = env, slug
        self.results: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                settings = outer.settings()
                sp = env.sp_auth(settings)
                url = sp.login(return_to="/home")
                outer.request_id = sp.get_last_request_id()
                self.send_response(302)
                self.send_header("Location", url)
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                post = {k: v[0] for k, v in parse_qs(body).items()}
                auth = saml_support.OneLogin_Saml2_Auth(outer.request_data(post), old_settings=outer.settings())
                auth.process_response(request_id=outer.request_id)
                ok = not auth.get_errors() and auth.is_authenticated()
                outer.results.append({"ok": ok, "errors": auth.get_last_error_reason(),
                                      "attrs": auth.get_attributes(), "relay": post.get("RelayState")})
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<h1>SP: signed in</h1>" if ok else b"<h1>SP: refused</h1>")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.acs = f"http://{self.host}/acs"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def settings(self):
        s = self.env.settings(self.slug)
        data = s.get_sp_data()
        data["assertionConsumerService"]["url"] = self.acs
        return s

    def request_data(self, post: dict) -> dict:
        return {"https": "off", "http_host": self.host, "script_name": "/acs", "get_data": {}, "post_data": post}

@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()

def test_sp_initiated_sign_in_in_chromium(sqlite_install, browser, screenshots):
    env = SamlEnv(sqlite_install)
    sp = SpServer(env, "browser")
    sqlite_install.cli("app", "create", "browser", "--name", "Browser SP", "--provider", "saml",
                       "--acs-url", sp.acs, "--audience", saml_support.sp_entity("browser"))
    page = browser.new_page()
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"http://{sp.host}/login")
    expect(page.get_by_label("Username or email")).to_be_visible()
    page.get_by_label("Username or email").fill("alice")
    page.keyboard.press("Enter")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    # The response page submits itself: we land on the SP.
    expect(page.get_by_text("SP: signed in")).to_be_visible(timeout=15000)
    page.screenshot(path=str(screenshots / "saml-sp-signed-in.png"))
    assert sp.results and sp.results[-1]["ok"], sp.results
    assert sp.results[-1]["attrs"]["username"] == ["alice"]
    assert sp.results[-1]["relay"] == "/home"
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    sp.httpd.shutdown()
