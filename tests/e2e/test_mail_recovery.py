"""Password recovery by email, end to end: the forgot-password page, the
worker inside the server, a real SMTP server (aiosmtpd), the mailed one-time
link, the new password, and the refusals (used link, expired link, unknown
address, throttling)."""

import re
import time

import pytest
import requests

from conftest import WebClient
from smtp_sink import Sink, html_of, text_of
from worker_helpers import FAST

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/recovery/use-token/[A-Za-z0-9_-]+/)")

@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()

def forgot(client: WebClient, identifier: str) -> requests.Response:
    page = client.http.get(f"{client.base}/recovery/forgot/")
    assert page.status_code == 200, page.text
    return client.http.post(
        f"{client.base}/recovery/forgot/",
        data={"identifier": identifier, "csrf_token": client.csrf(page.text)},
    )

def set_password(client: WebClient, link: str, password: str) -> requests.Response:
    form = client.http.get(link)
    assert form.status_code == 200, form.text
    return client.http.post(
        link,
        data={"new_password": password, "new_password_repeat": password, "csrf_token": client.csrf(form.text)},
        allow_redirects=False,
    )

def link_in(msg) -> str:
    m = LINK.search(text_of(msg))
    assert m, text_of(msg)
    assert m.group(1) in html_of(msg)
    return m.group(1)

def test_recovery_mail_link_sets_password_once_and_expires(sqlite_install, sink):
    inst = sqlite_install
    clock = inst.dir / "clock"
    clock.write_text("0")
    # A non-admin (MFA will be required of admins).
    inst.user("dana", "Old-password-1", name="Dana Scully")
    srv = inst.server(**sink.env(), **FAST, GATEHOUSE_TEST_CLOCK_FILE=clock, GATEHOUSE_BRANDING_TITLE="Acme Login")

    web = WebClient(srv.url)
    login = web.http.get(f"{srv.url}/login")
    assert 'href="/recovery/forgot/"' in login.text and "Forgot password?" in login.text

    # Known (by email) and unknown addresses get the same page.
    known = forgot(web, "dana@example.com")
    unknown = forgot(WebClient(srv.url), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert "Check your mail" in known.text
    assert known.text.replace("dana@example.com", "X") == unknown.text.replace("nobody@example.com", "X")

    [msg] = sink.wait_for("dana@example.com")
    assert msg["Subject"] == "Reset your Acme Login password"
    assert "Acme Login" in html_of(msg) and "Dana Scully" in text_of(msg)
    assert msg["Message-ID"] and msg["Message-ID"].endswith("@gatehouse.test>")
    link = link_in(msg)

    # Following the link sets the password (policy applies) and signs in.
    short = set_password(WebClient(srv.url), link, "short")
    assert short.status_code == 400 and "Choose another password" in short.text
    done = set_password(web, link, "New-password-2")
    assert done.status_code in (302, 303) and done.headers["location"] == "/if/user/"
    fresh = WebClient(srv.url)
    assert fresh.sign_in("dana", "New-password-2").status_code in (302, 303)
    assert fresh.signed_in()
    assert not WebClient(srv.url).sign_in("dana", "Old-password-1").headers.get("location", "").startswith("/if/user")

    # The link is dead afterwards.
    again = WebClient(srv.url).http.get(link)
    assert again.status_code == 404 and "Link not valid" in again.text

    # A second link dies after 30 minutes (test clock).
    forgot(WebClient(srv.url), "dana")
    second = link_in(sink.wait_for("dana@example.com", count=2)[1])
    assert second != link
    assert WebClient(srv.url).http.get(second).status_code == 200, "valid before expiry"
    clock.write_text(str(31 * 60))
    time.sleep(0.3)  # the clock file is re-read at most every 100 ms
    expired = WebClient(srv.url).http.get(second)
    assert expired.status_code == 404 and "Link not valid" in expired.text

    # No mail ever went to the unknown address (the worker polls every 100 ms).
    time.sleep(1.0)
    assert sink.to("nobody@example.com") == []
    assert len(sink.to("dana@example.com")) == 2

    # The audit log has the queueing, the key and its use.
    events = inst.cli("events", "--user", "dana").stdout
    for action in ("recovery_mail_queued", "recovery_key_created", "recovery_key_used", "password_set"):
        assert action in events, events

def test_recovery_requests_are_throttled_without_telling(sqlite_install, sink):
    inst = sqlite_install
    inst.user("erin", "Erin-password-1")
    srv = inst.server(**sink.env(), **FAST)
    answers = [forgot(WebClient(srv.url), "erin") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.text for a in answers}) == 1, "the dropped request looks the same"
    sink.wait_for("erin@example.com", count=3)
    time.sleep(1.0)
    assert len(sink.to("erin@example.com")) == 3, "the fourth request in a row sends nothing"

    # Per address: many different names from one client end in 429.
    codes = [forgot(WebClient(srv.url), f"someone{i}").status_code for i in range(12)]
    assert 429 in codes, codes

def test_forgot_page_without_email_and_csrf(sqlite_install):
    inst = sqlite_install
    srv = inst.server()
    page = requests.get(f"{srv.url}/if/flow/default-recovery-flow/")
    assert page.status_code == 200 and "not available here" in page.text
    # With email: a form without its flow's CSRF token is refused.
    inst2_env = {"GATEHOUSE_EMAIL__HOST": "127.0.0.1", "GATEHOUSE_EMAIL__PORT": 9}
    srv2 = inst.server(**inst2_env)
    r = requests.post(f"{srv2.url}/recovery/forgot/", data={"identifier": "akadmin", "csrf_token": "forged"})
    assert r.status_code == 403
    assert inst.cli("--json", "worker", "jobs", "--kind", "mail.recovery").stdout.strip() == "[]"

def test_admin_link_is_mailed_or_printed(sqlite_install, sink):
    inst = sqlite_install
    inst.user("fran", "Fran-password-1")
    srv = inst.server(**sink.env(), **FAST)
    out = inst.cli("user", "password", "fran", "--link", **sink.env()).stdout
    assert "queued" in out and "fran@example.com" in out
    link = link_in(sink.wait_for("fran@example.com")[0])
    assert set_password(WebClient(srv.url), link, "Fran-password-2").status_code in (302, 303)
    printed = inst.cli("user", "password", "fran", "--link", "--print", **sink.env()).stdout
    assert "/recovery/use-token/" in printed
    # Without email settings the link is printed, as before.
    assert "/recovery/use-token/" in inst.cli("user", "password", "fran", "--link").stdout
    assert len(sink.to("fran@example.com")) == 1
