"""Invitations end to end: `gatehouse invite create` prints and mails the
link (a real SMTP server), a person signs up through it in Chromium and lands
signed in, signs in again with the new password; spent, expired, unknown and
deleted links are refused and create nobody; a double submit creates one
account; someone the MFA policy covers is led into enrolment. SQLite and
PostgreSQL."""

import json
import re
import threading
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

from conftest import WebClient
from smtp_sink import Sink, html_of, text_of
from test_browser_signin import browser  # noqa: F401  (the Chromium fixture)
from worker_helpers import FAST

PASSWORD = "Meadow-Copper-Lantern-62"
ITOKEN = re.compile(r"/if/flow/default-enrollment-flow/\?itoken=([0-9a-f-]{36})$")


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def install(request):
    return request.getfixturevalue("sqlite_install" if request.param == "sqlite" else "pg_install")


def invite(inst, srv, *args: str, **extra) -> str:
    """`gatehouse invite create ARGS…` against the server's settings: the link."""
    r = inst.cli("invite", "create", *args, GATEHOUSE_EXTERNAL_URL=srv.url, **extra)
    link = r.stdout.strip()
    assert link.startswith(f"{srv.url}/if/flow/default-enrollment-flow/?itoken="), r.stdout + r.stderr
    assert ITOKEN.search(link), link
    return link


def sign_up(web: WebClient, link: str, username: str, password: str = PASSWORD, **fields) -> requests.Response:
    form = web.http.get(link)
    assert form.status_code == 200, form.text
    data = {"username": username, "name": fields.get("name", username.title()), "email": fields.get("email", ""),
            "password": password, "password_repeat": fields.get("repeat", password), "csrf_token": web.csrf(form.text)}
    return web.http.post(link, data=data, allow_redirects=False)


def user_names(inst) -> list:
    return [u["username"] for u in json.loads(inst.cli("--json", "user", "list").stdout)]


def test_invited_person_signs_up_in_chromium(sqlite_install, sink, browser, screenshots):  # noqa: F811
    inst = sqlite_install
    inst.cli("group", "create", "staff")
    brand = {"GATEHOUSE_BRANDING_TITLE": "Example Stack"}
    srv = inst.server(**sink.env(), **FAST, **brand)
    link = invite(inst, srv, "--group", "staff", "--email", "newbie@example.com", "--expires", "7d", **sink.env(), **brand)

    # The mail carries the same link, as text and as HTML.
    mail = sink.wait_for("newbie@example.com")[0]
    assert mail["Subject"] == "You are invited to Example Stack"
    assert link in text_of(mail) and link.replace("&", "&amp;") in html_of(mail)

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(link)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(page.get_by_text("Example Stack").first).to_be_visible()
    # The invited address is fixed.
    expect(page.get_by_label("Email")).to_have_value("newbie@example.com")
    expect(page.get_by_label("Email")).to_have_attribute("readonly", "")
    expect(page.get_by_label("Username")).to_be_focused()
    page.screenshot(path=str(screenshots / "enroll.png"), full_page=True)

    # Mistakes are explained and nothing is created.
    page.get_by_label("Username").fill("newbie")
    page.get_by_label("Display name").fill("Nova Newbie")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD + "x")
    page.get_by_role("button", name="Create account and sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The passwords do not match.")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Repeat password").fill("password")
    page.get_by_role("button", name="Create account and sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("most common passwords")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    expect(page.get_by_label("Username")).to_have_value("newbie")
    page.screenshot(path=str(screenshots / "enroll-error.png"), full_page=True)
    assert "newbie" not in user_names(inst)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account and sign in").click()
    expect(page).to_have_url(f"{srv.url}/if/user/")
    expect(page.get_by_text("Nova Newbie").first).to_be_visible()
    page.screenshot(path=str(screenshots / "enroll-done.png"), full_page=True)
    # The refused forms themselves answer 400 (which Chromium logs); nothing else may fail.
    assert not [e for e in console_errors if "status of 400" not in e], console_errors

    shown = inst.cli("user", "show", "newbie").stdout
    assert "staff" in shown and "newbie@example.com" in shown and "set (argon2id)" in shown
    used = json.loads(inst.cli("--json", "events", "--action", "invitation_used").stdout)
    assert used[0]["user"] == "newbie"

    # A fresh browser signs in with the new password.
    again = WebClient(srv.url)
    assert again.sign_in("newbie", PASSWORD).status_code in (302, 303)
    assert again.signed_in()

    # The link is spent: a clear page, and nobody else can use it.
    spent = browser.new_page()
    spent.goto(link)
    expect(spent.get_by_role("heading", name="Invitation not valid")).to_be_visible()
    expect(spent.get_by_text("already used")).to_be_visible()
    assert requests.get(link).status_code == 410


def test_spent_expired_unknown_and_deleted_links_create_nobody(install):
    inst = install
    srv = inst.server()
    web = WebClient(srv.url)

    # Multi-use: two people, then it expires.
    link = invite(inst, srv, "--multi-use", "--expires", "3s")
    for name, nxt in (("erin", ""), ("fred", "&next=https://evil.example/")):
        r = sign_up(WebClient(srv.url), link + nxt, name)
        assert r.status_code in (302, 303) and r.headers["location"] == "/if/user/", r.text
    form = web.http.get(link)
    time.sleep(3.5)
    assert web.http.get(link).status_code == 410
    late = web.http.post(link, data={"username": "gina", "password": PASSWORD, "password_repeat": PASSWORD,
                                     "csrf_token": web.csrf(form.text)}, allow_redirects=False)
    assert late.status_code == 410 and "expired" in late.text
    assert "gina" not in user_names(inst)
    listed = json.loads(inst.cli("--json", "invite", "list").stdout)
    assert [(i["state"], i["invitation"]["uses"]) for i in listed] == [("expired", 2)]

    # Unknown and malformed tokens: 404.
    base = f"{srv.url}/if/flow/default-enrollment-flow/"
    assert requests.get(f"{base}?itoken={uuid.uuid4()}").status_code == 404
    assert requests.get(f"{base}?itoken=not-a-token").status_code == 404
    assert requests.get(base).status_code == 404

    # A fixed username cannot be changed; a deleted invitation stops working.
    # …and the person lands where the link's `next` says (a local path only).
    link = invite(inst, srv, "--username", "hugo", "--invitation-name", "for-hugo")
    r = sign_up(WebClient(srv.url), link + "&next=/if/user/account/", "someone-else")
    assert r.status_code in (302, 303) and r.headers["location"] == "/if/user/account/", r.text
    assert "hugo" in user_names(inst) and "someone-else" not in user_names(inst)
    link = invite(inst, srv, "--invitation-name", "to-delete")
    form = web.http.get(link)
    inst.cli("invite", "delete", "to-delete")
    r = web.http.post(link, data={"username": "ivan", "password": PASSWORD, "password_repeat": PASSWORD,
                                  "csrf_token": web.csrf(form.text)}, allow_redirects=False)
    assert r.status_code == 404 and "ivan" not in user_names(inst)

    # A form not from this page (no flow cookie, wrong CSRF) changes nothing.
    link = invite(inst, srv)
    r = requests.post(link, data={"username": "judy", "password": PASSWORD, "password_repeat": PASSWORD,
                                  "csrf_token": "x"}, allow_redirects=False)
    assert r.status_code == 403 and "judy" not in user_names(inst)

    # Bad input to the CLI: one line, exit 2, nothing created.
    before = inst.cli("--json", "invite", "list").stdout
    for args in (["--group", "nope"], ["--expires", "soon"], ["--username", "bad name!"], ["--email", "x@example.com"]):
        r = inst.cli("invite", "create", *args, check=False)
        assert r.returncode == 2 and r.stderr.strip(), (args, r.stderr)
    assert inst.cli("--json", "invite", "list").stdout == before


def test_double_submit_creates_one_account(install):
    inst = install
    srv = inst.server()
    link = invite(inst, srv)
    web = WebClient(srv.url)
    form = web.http.get(link)
    data = {"username": "kim", "password": PASSWORD, "password_repeat": PASSWORD, "csrf_token": web.csrf(form.text)}
    cookies = web.http.cookies.get_dict()
    answers = []

    def submit(name):
        r = requests.post(link, data={**data, "username": name}, cookies=cookies, allow_redirects=False)
        answers.append(r.status_code)

    threads = [threading.Thread(target=submit, args=(f"kim{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers).count(303) + sorted(answers).count(302) == 1, answers
    assert len([u for u in user_names(inst) if u.startswith("kim")]) == 1


def test_someone_the_mfa_policy_covers_enrols_after_signing_up(sqlite_install):
    inst = sqlite_install
    srv = inst.server()
    link = invite(inst, srv, "--group", "admins")
    web = WebClient(srv.url)
    r = sign_up(web, link, "lena")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login/mfa/step-up?next="), r.headers
    enrol = web.http.get(f"{srv.url}{r.headers['location']}")
    assert enrol.status_code == 200 and "authenticator" in enrol.text.lower(), enrol.text
    assert "lena" in user_names(inst)
