"""The admin interface in a real Chromium, on SQLite and PostgreSQL: an
administrator (MFA enrolled at sign-in) creates a user and a group, adds the
user, creates an OIDC application through the wizard and signs the user in to
it with the printed settings through Authlib, revokes the user's sessions, and
sees a failed sign-in on the dashboard and in the events. A person gets 403.
A second walk makes an invitation (its link opened in a fresh browser), a
SAML application (its printed metadata URL fetched) and an LDAP application
(`ldapwhoami` and `ldapsearch` against the printed settings).

Every admin page is photographed at 1280 and 375 px into test-output/screenshots/
(or GATEHOUSE_SCREENSHOTS_DIR: `scripts/screenshots` points it at docs/screenshots/),
and no page scrolls sideways or lets a table run past its card."""

import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect

from conftest import WebClient, free_port
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


NEWBIE_PASSWORD = "Newbie-Lantern-Quay-57"
SP_ENTITY = "https://cloud.example.test/saml/metadata"
SP_ACS = "https://cloud.example.test/saml/acs"


def printed_settings(page) -> dict:
    return {el.get_attribute("data-setting"): el.inner_text() for el in page.locator("[data-setting]").all()}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_admin_invites_and_creates_saml_and_ldap_applications(backend, request, browser, screenshots):
    inst = request.getfixturevalue("pg_install" if backend == "postgres" else "sqlite_install")
    ldap_port, ldaps_port = free_port(), free_port()
    server = inst.server(GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{ldap_port}", GATEHOUSE_LDAPS_LISTEN=f"127.0.0.1:{ldaps_port}")
    base = server.url
    inst.user("root", PASSWORD, "Root Admin")
    inst.cli("group", "add", "admins", "root")
    inst.cli("group", "create", "staff")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    phone = browser.new_page(viewport={"width": 375, "height": 812})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    cam = Camera(page, phone, shots_dir(screenshots), backend)
    sign_in_admin(page, base)

    # An invitation into staff: the link is shown once, then works in a fresh browser.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Invitations").click()
    expect(page.get_by_text("No invitations.")).to_be_visible()
    page.get_by_label("Joins group (optional)").fill("staff")
    page.get_by_role("group", name="Valid for").get_by_label("1 day").check()
    page.get_by_label("Email (optional)").fill("newbie@example.com")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_text("Invitation created.")).to_be_visible()
    link = page.locator("#once-value").inner_text().strip()
    assert link.startswith(f"{base}/if/flow/default-enrollment-flow/?itoken="), link
    row = page.locator("main table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("time").nth(0)).to_have_text(re.compile(r"^in (1 day|24 hours)$"))
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("staff")
    cam.take("invitations")
    page.goto(f"{base}/if/admin/invitations/")
    assert "itoken=" not in page.content(), "the link is shown only once"

    newcomer = browser.new_context().new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_label("Email")).to_have_value("newbie@example.com")
    newcomer.get_by_label("Username").fill("newbie")
    newcomer.get_by_label("Display name").fill("Nova Newbie")
    newcomer.get_by_label("Password", exact=True).fill(NEWBIE_PASSWORD)
    newcomer.get_by_label("Repeat password").fill(NEWBIE_PASSWORD)
    newcomer.get_by_role("button", name="Create account and sign in").click()
    expect(newcomer).to_have_url(f"{base}/if/user/")
    page.reload()
    expect(page.locator("main table tbody tr")).to_contain_text("spent")

    # Deleting it asks first.
    page.locator("main table tbody tr").get_by_role("button", name=re.compile("^Delete…")).click()
    expect(page.get_by_text("Its link stops working at once")).to_be_visible()
    page.get_by_role("button", name="Delete invitation").click()
    expect(page.get_by_text("Invitation deleted")).to_be_visible()
    events = inst.cli("events", "--action", "model_deleted", "--json").stdout
    assert '"actor": "user:root"' in events and '"invitation"' in events, events

    # A SAML application: the printed metadata URL serves the IdP metadata with the printed certificate.
    page.goto(f"{base}/if/admin/applications/new/saml")
    page.get_by_label("Name", exact=True).fill("Cloud")
    page.get_by_label("Slug", exact=True).fill("cloud")
    page.get_by_label("SP entity ID").fill(SP_ENTITY)
    page.get_by_label("ACS URLs").fill(SP_ACS)
    cam.take("app-new-saml")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name="Settings for Cloud")).to_be_visible()
    saml = printed_settings(page)
    metadata_url = saml["IdP entity ID and metadata URL"]
    assert metadata_url == f"{base}/application/saml/cloud/metadata/", saml
    r = requests.get(metadata_url, timeout=10)
    assert r.status_code == 200 and f'entityID="{metadata_url}"' in r.text, r.text
    assert saml["SSO URL (HTTP-Redirect)"] in r.text and saml["SSO URL (HTTP-POST)"] in r.text
    cert = "".join(saml["Signing certificate"].splitlines()[1:-1])
    assert cert and cert in r.text.replace("\n", ""), "the printed certificate is the published one"
    download = page.get_by_role("link", name="Download IdP metadata")
    expect(download).to_have_attribute("href", metadata_url)
    page.goto(f"{base}/if/admin/applications/cloud/settings")
    cam.take("app-settings-saml")

    # An LDAP application searched by staff: the invited person binds and searches with the printed settings.
    page.goto(f"{base}/if/admin/applications/new/ldap")
    page.get_by_label("Name", exact=True).fill("Redmine")
    page.get_by_label("Slug", exact=True).fill("redmine")
    page.get_by_label("Search group (optional)").fill("staff")
    cam.take("app-new-ldap")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name="Settings for Redmine")).to_be_visible()
    ldap = printed_settings(page)
    url = ldap["LDAP URLs"].splitlines()[0]
    assert url == f"ldap://127.0.0.1:{ldap_port}", ldap
    assert ldap["LDAP URLs"].splitlines()[1] == f"ldaps://127.0.0.1:{ldaps_port}"
    dn = ldap["Bind DN"].replace("<user>", "newbie")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(inst.dir)}
    # The LDAP listener learns of the new application through the change
    # feed (as a separate `gatehouse ldap` process would): within a poll or so.
    deadline = time.monotonic() + 5
    while True:
        who = subprocess.run(["ldapwhoami", "-x", "-H", url, "-D", dn, "-w", NEWBIE_PASSWORD],
                             capture_output=True, text=True, env=env, timeout=60)
        if who.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert who.returncode == 0 and "newbie" in who.stdout, (who.stdout, who.stderr)
    search = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", url, "-D", dn, "-w", NEWBIE_PASSWORD, "-b", ldap["Base DN"],
                             ldap["User search filter"].replace("<login>", "newbie"), ldap["Login attribute"]],
                            capture_output=True, text=True, env=env, timeout=60)
    assert search.returncode == 0 and "uid: newbie" in search.stdout, (search.stdout, search.stderr)
    page.goto(f"{base}/if/admin/applications/redmine/settings")
    cam.take("app-settings-ldap")
    assert not errors, errors
