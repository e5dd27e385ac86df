"""The admin interface in a real Chromium, on SQLite and PostgreSQL: an
administrator (MFA enrolled at sign-in) creates a user and a group, adds the
user, creates an OIDC application through the wizard and signs the user in to
it with the printed settings through Authlib, revokes the user's sessions, and
sees a failed sign-in on the dashboard and in the events. A person gets 403.

Every admin page is photographed at 1280 and 375 px into test-output/screenshots/
(or GATEHOUSE_SCREENSHOTS_DIR: `scripts/screenshots` points it at docs/screenshots/),
and no page scrolls sideways or lets a table run past its card."""

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect

from conftest import WebClient
from mfa_support import PASSWORD, browser, password_step  # noqa: F401

REDIRECT = "https://notes.example.test/oauth/callback"
CAROL_PASSWORD = "Carol-Orchard-Lane-83"

# Fails when anything on the page is wider than the window, or a table is
# wider than its card without the card being the one that scrolls.
LAYOUT_CHECK = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`page ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  for (const p of document.querySelectorAll('.panel')) {
    if (p.scrollWidth > p.clientWidth + 1) problems.push(`panel ${p.querySelector('h2')?.textContent}`);
  }
  if (window.innerWidth >= 1280) {
    for (const c of document.querySelectorAll('.table-card:not(.heatmap-card)')) {
      if (c.scrollWidth > c.clientWidth + 1) problems.push(`table scrolls at ${window.innerWidth}px`);
    }
  }
  for (const t of document.querySelectorAll('main time')) {
    if (/\\d{4}-\\d\\d-\\d\\dT/.test(t.textContent)) problems.push(`raw ISO ${t.textContent}`);
  }
  return problems;
}"""


def shots_dir(screenshots: Path) -> Path:
    d = Path(os.environ.get("GATEHOUSE_SCREENSHOTS_DIR", screenshots))
    d.mkdir(parents=True, exist_ok=True)
    return d


class Camera:
    """Photographs the page at desktop and phone width, checking the layout at both."""

    def __init__(self, page, phone, out: Path, backend: str):
        self.page, self.phone, self.out, self.backend = page, phone, out, backend

    def take(self, name: str) -> None:
        assert self.page.evaluate(LAYOUT_CHECK) == [], (name, self.page.evaluate(LAYOUT_CHECK))
        if self.backend != "sqlite":
            return  # one set of pictures is enough
        self.page.screenshot(path=str(self.out / f"admin-{name}.png"), full_page=True)
        if self.page.request.get(self.page.url).ok:
            self.phone.context.add_cookies(self.page.context.cookies())
            self.phone.goto(self.page.url)
            assert self.phone.evaluate(LAYOUT_CHECK) == [], (name, self.phone.evaluate(LAYOUT_CHECK))
            self.phone.screenshot(path=str(self.out / f"admin-{name}-phone.png"), full_page=True)


def sign_in_admin(page, base: str) -> pyotp.TOTP:
    """root signs in at /if/admin/: password, then the policy makes them enrol TOTP."""
    page.goto(f"{base}/if/admin/")
    expect(page).to_have_url(f"{base}/login?next=/if/admin/")
    page.get_by_label("Username or email").fill("root")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/login/mfa/enrol")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Verify and add").click()
    page.get_by_role("link", name="I saved them, continue").click()
    expect(page).to_have_url(f"{base}/if/admin/")
    return totp


def oidc_sign_in(base: str, settings: dict, username: str, password: str) -> dict:
    """Authlib, configured only from the printed settings, signs `username` in."""
    discovery = requests.get(settings["Discovery URL"], timeout=10).json()
    assert discovery["issuer"] == settings["Issuer"]
    oauth = OAuth2Session(settings["Client ID"], settings["Client secret (shown once)"], scope="openid email profile offline_access",
                          redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    uri, _state = oauth.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    web = WebClient(base)
    r = web.http.get(uri, allow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["Location"].startswith("/login"), r.text
    next_path = parse_qs(urlparse(r.headers["Location"]).query)["next"][0]
    r = web.sign_in(username, password, next=next_path)
    assert r.status_code == 303, r.text
    r = web.http.get(f"{base}{r.headers['Location']}", allow_redirects=False)
    assert r.headers["Location"].startswith(REDIRECT), r.headers
    token = oauth.fetch_token(discovery["token_endpoint"], authorization_response=r.headers["Location"], code_verifier=verifier)
    userinfo = oauth.get(discovery["userinfo_endpoint"]).json()
    return {"token": token, "userinfo": userinfo, "web": web}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_admin_walks_every_page(backend, request, browser, screenshots):
    inst = request.getfixturevalue("pg_install" if backend == "postgres" else "sqlite_install")
    server = inst.server()  # bootstrap creates `admins`
    base = server.url
    inst.user("root", PASSWORD, "Root Admin")
    inst.cli("group", "add", "admins", "root")
    inst.user("alice", PASSWORD, "Alice Liddell")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    phone = browser.new_page(viewport={"width": 375, "height": 812})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    cam = Camera(page, phone, shots_dir(screenshots), backend)

    # A failed sign-in to find later on the dashboard and in the events.
    assert WebClient(base).sign_in("alice", "not-her-password").status_code != 303

    sign_in_admin(page, base)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".legend-fail").first).to_have_text("1 failed")
    expect(page.locator("#day-heading + p + .chart title").first).to_contain_text("Sign-ins per hour")
    assert page.locator(".chart-bucket title", has_text="1 failed").count() >= 2  # 24 h and 7 days
    cam.take("dashboard")

    # A user, made with the form.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    cam.take("users")
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Username", exact=True).fill("carol")
    page.get_by_label("Full name").fill("Carol Danvers")
    page.get_by_label("Email").fill("carol@example.com")
    cam.take("user-new")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("User created.")).to_be_visible()
    page.get_by_label("New password").fill(CAROL_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()

    # Search as you type: the list narrows without a submit.
    page.goto(f"{base}/if/admin/users/")
    page.get_by_label("Search users").press_sequentially("caro", delay=40)
    expect(page.locator("#user-results tbody tr")).to_have_count(1)
    expect(page.locator("#user-results").get_by_role("link", name="carol")).to_be_visible()
    assert page.url.endswith("q=caro")

    # A group, and carol in it.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Groups").click()
    page.get_by_label("Name", exact=True).fill("staff")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_text("Group created.")).to_be_visible()
    page.get_by_label("Add member (username)").fill("carol")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Member added.")).to_be_visible()
    expect(page.locator("main").get_by_role("link", name="carol")).to_be_visible()
    cam.take("group")
    page.goto(f"{base}/if/admin/groups/")
    cam.take("groups")

    # An OIDC application through the wizard, for staff only.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Applications").click()
    page.get_by_role("link", name="New application").click()
    page.get_by_label("Name", exact=True).fill("Team Notes")
    page.get_by_label("Slug", exact=True).fill("notes")
    page.get_by_label("Redirect URIs").fill(REDIRECT)
    page.get_by_label("Only for members of (group, optional)").fill("staff")
    cam.take("app-new")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name="Settings for Team Notes")).to_be_visible()
    settings = {}
    for el in page.locator("[data-setting]").all():
        settings[el.get_attribute("data-setting")] = el.inner_text()
    assert settings["Client ID"] == "notes" and settings["Redirect URIs"] == REDIRECT, settings
    assert settings["Discovery URL"] == f"{base}/application/o/notes/.well-known/openid-configuration"
    page.screenshot(path=str(cam.out / "admin-app-settings.png"), full_page=True) if backend == "sqlite" else None
    page.get_by_role("link", name="Done").click()
    cam.take("app")
    page.goto(f"{base}/if/admin/applications/")
    cam.take("applications")

    # The heat map: carol reaches Team Notes through staff; alice does not.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Access").click()
    carol_row = page.locator("tr", has=page.get_by_role("link", name="carol"))
    expect(carol_row.locator(".hm-y")).to_have_count(1)
    expect(page.locator("tr", has=page.get_by_role("link", name="alice")).locator(".hm-y")).to_have_count(0)
    page.get_by_label("Group (members, nested included)").fill("staff")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".heatmap tbody tr")).to_have_count(1)
    cam.take("access")
    csv = page.request.get(f"{base}/if/admin/access/access.csv").text()
    assert csv.startswith("username,active,notes\n") and "carol,yes,yes\n" in csv, csv

    # carol signs in to it with exactly those settings (Authlib).
    signed = oidc_sign_in(base, settings, "carol", CAROL_PASSWORD)
    assert signed["userinfo"]["preferred_username"] == "carol", signed["userinfo"]
    assert signed["web"].signed_in()
    assert "refresh_token" in signed["token"], signed["token"]

    # Revoke carol's sessions: a confirmation first, then she is signed out.
    page.goto(f"{base}/if/admin/users/carol/")
    grants = page.get_by_role("table", name="Live OAuth grants")
    expect(grants).to_contain_text("Team Notes")
    expect(page.locator(".reach-list")).to_contain_text("Team Notes")
    expect(page.get_by_text("through staff")).to_be_visible()
    cam.take("user")

    # One grant ends (confirmed): the application's refresh token stops working.
    grants.get_by_role("button", name="Revoke… Team Notes").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    page.get_by_role("button", name="Revoke grant").click()
    expect(page.get_by_text("The grant was revoked.")).to_be_visible()
    r = requests.post(f"{base}/application/o/token/", data={
        "grant_type": "refresh_token", "refresh_token": signed["token"]["refresh_token"],
        "client_id": settings["Client ID"], "client_secret": settings["Client secret (shown once)"]})
    assert r.status_code == 400, r.text
    assert signed["web"].signed_in(), "still signed in to Gatehouse"
    page.get_by_role("button", name="Revoke all sessions…").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    cam.take("confirm")
    page.get_by_role("button", name="Revoke all sessions").click()
    expect(page.get_by_text("Every session and OAuth grant of this user ended.")).to_be_visible()
    assert not signed["web"].signed_in()

    # The live tail: a new failed sign-in appears on top without a reload.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Events").click()
    page.get_by_role("button", name="Follow live").click()
    expect(page.get_by_role("status").filter(has_text="Following new events")).to_be_visible()
    page.wait_for_timeout(300)
    assert WebClient(base).sign_in("carol", "wrong-password").status_code != 303
    expect(page.locator("#event-rows tr.is-new").first).to_contain_text("login_failed", timeout=10_000)
    expect(page.locator("#event-rows tr.is-new").first).to_contain_text("carol")
    page.get_by_role("button", name="Pause").click()

    # The failed sign-ins in the events, by action.
    page.get_by_label("Action").fill("login_failed")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.last).to_contain_text("alice")
    page.get_by_role("link", name="Verify it now").click()
    expect(page.get_by_text("The chain is intact")).to_be_visible()
    cam.take("events")

    # Keys: rotation confirms first, then the new key is published ahead of signing.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="System").click()
    expect(page.get_by_text("members of admins")).to_be_visible()
    page.get_by_label("Start signing after (hours)").fill("12")
    page.get_by_role("button", name="Rotate keys…").click()
    expect(page.get_by_text("it starts signing in 12 hours")).to_be_visible()
    page.get_by_role("button", name="Rotate keys").click()
    expect(page.get_by_text("New keys made")).to_be_visible()
    expect(page.locator("main td[data-label=Status]", has_text="next")).to_have_count(1)
    settings_table = page.get_by_role("table", name="Settings")
    expect(settings_table).to_contain_text("GATEHOUSE_EXTERNAL_URL")
    expect(settings_table).to_contain_text(base)
    if backend == "postgres":
        assert "postgres://" in settings_table.inner_text()
    cam.take("system")

    # Every change was recorded with the admin as actor.
    created = inst.cli("events", "--user", "carol", "--json").stdout
    assert '"actor": "user:root"' in created and '"client_ip": "127.0.0.1"' in created, created

    # The portal links the admin interface; its Security page uses the same components.
    page.goto(f"{base}/if/user/")
    expect(page.get_by_role("link", name="Admin interface")).to_have_attribute("href", "/if/admin/")
    page.goto(f"{base}/if/user/security/")
    expect(page.locator(".mfa-list time").first).to_have_text("just now")
    cam.take("portal-security")

    # A person is refused every admin page, and sees no link to them.
    person = browser.new_page()
    password_step(person, base, "alice")
    expect(person).to_have_url(f"{base}/if/user/")
    expect(person.get_by_role("link", name="Admin interface")).to_have_count(0)
    for path in ["/if/admin/", "/if/admin/users/", "/if/admin/users/carol/", "/if/admin/groups/staff/",
                 "/if/admin/applications/notes/", "/if/admin/events/"]:
        r = person.request.get(f"{base}{path}")
        assert r.status == 403, (path, r.status)
    csrf = person.locator("input[name=csrf_token]").first.get_attribute("value")
    r = person.request.post(f"{base}/if/admin/users/new", form={"csrf_token": csrf, "username": "mallory"})
    assert r.status == 403
    # And the admin's own form without its token is refused.
    r = page.request.post(f"{base}/if/admin/users/new", form={"username": "mallory"})
    assert r.status == 403
    assert "mallory" not in inst.cli("user", "list").stdout
    assert not errors, errors
