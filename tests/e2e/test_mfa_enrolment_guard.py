"""Issue 13, finding 9: someone who has only the password of an account that
must use MFA cannot enrol the first authenticator outside a window (the first
sign-in after the policy applied, an administrator's link, `user mfa
allow-enrolment`), and every enrolment mails the owner (a real SMTP server)."""

import re
import time

import pyotp
import pytest

from conftest import WebClient
from smtp_sink import Sink, text_of
from worker_helpers import FAST

PASSWORD = "Enrol-Guard-Pass-31"

@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()

def password_sign_in(web: WebClient, username: str):
    r = web.sign_in(username, PASSWORD)
    assert r.status_code in (303, 403), r.text
    return r

def enrol(web: WebClient, base: str, name: str, offset: float = 0) -> None:
    """Enrols an authenticator app at the sign-in stage; `offset`: the server's test clock."""
    page = web.http.get(f"{base}/login/mfa/enrol")
    assert page.status_code == 200 and "Set up two-factor authentication" in page.text, page.text
    secret = re.search(r'id="totp-secret" class="mfa-secret">([A-Z2-7]+)<', page.text).group(1)
    pending = re.search(r'name="pending" value="([^"]+)"', page.text).group(1)
    done = web.http.post(f"{base}/login/mfa/enrol", data={
        "csrf_token": web.csrf(page.text), "pending": pending, "name": name, "code": pyotp.TOTP(secret).at(time.time() + offset)})
    assert done.status_code == 200 and "recovery codes" in done.text.lower(), done.text

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_first_authenticator_needs_a_window(backend, request, sink):
    inst = request.getfixturevalue("sqlite_install" if backend == "sqlite" else "pg_install")
    clock = inst.dir / "clock"
    clock.write_text("0")
    for who in ["alice", "bob"]:
        inst.user(who, PASSWORD)
    inst.cli("policy", "mfa", "set", "everyone")
    srv = inst.server(**sink.env(), **FAST, GATEHOUSE_TEST_CLOCK_FILE=clock)
    base = srv.url

    # alice's first sign-in after the policy: she enrols, and hears of it by mail.
    alice = WebClient(base)
    r = password_sign_in(alice, "alice")
    assert r.headers["Location"] == "/login/mfa/enrol"
    enrol(alice, base, "Alice's phone")
    [mail] = sink.wait_for("alice@example.com")
    assert "A second factor was added" in mail["Subject"], mail["Subject"]
    assert "Alice's phone" in text_of(mail) and "/if/user/security/" in text_of(mail)

    # bob's first sign-in opens the window, but he leaves; an hour later
    # someone with his password signs in and may not enrol.
    assert password_sign_in(WebClient(base), "bob").headers["Location"] == "/login/mfa/enrol"
    clock.write_text(str(2 * 3600))
    time.sleep(0.3)  # the clock file is re-read at most every 100 ms
    attacker = WebClient(base)
    r = password_sign_in(attacker, "bob")
    assert r.status_code == 403 and "Ask an administrator" in r.text, r.text
    assert attacker.http.get(f"{base}/login/mfa/enrol", allow_redirects=False).status_code in (302, 303, 403)
    assert not attacker.signed_in()
    events = inst.cli("events", "--user", "bob", "--json", GATEHOUSE_TEST_CLOCK_FILE=clock).stdout
    assert "mfa_enrolment_refused" in events and "mfa_authenticator_added" not in events

    # The administrator lets bob enrol: now it works.
    out = inst.cli("user", "mfa", "allow-enrolment", "bob", GATEHOUSE_TEST_CLOCK_FILE=clock).stdout
    assert "bob may enrol" in out
    bob = WebClient(base)
    assert password_sign_in(bob, "bob").headers["Location"] == "/login/mfa/enrol"
    enrol(bob, base, "Bob's phone", offset=2 * 3600)
    assert bob.signed_in()
    sink.wait_for("bob@example.com")
