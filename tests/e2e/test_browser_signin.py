"""Sign-in, portal, password change and sign-out in a real Chromium."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")
OLD_PASSWORD = "Old-Garden-Path-31"
NEW_PASSWORD = "New-River-Stone-58"

@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()

def setup_directory(inst):
    inst.user("alice", OLD_PASSWORD, "Alice Liddell")
    inst.cli("group", "create", "staff")
    inst.cli("group", "create", "devs", "--parent", "staff")
    inst.cli("group", "create", "ops")
    inst.cli("group", "add", "devs", "alice")
    inst.cli("app", "create", "wiki", "--name", "Team Wiki", "--launch-url", "https://wiki.example.com/")
    inst.cli("app", "create", "grafana", "--name", "Grafana", "--launch-url", "https://grafana.example.com/")
    inst.cli("app", "create", "pager", "--name", "Pager Console")
    inst.cli("app", "bind", "grafana", "staff")
    inst.cli("app", "bind", "pager", "ops")

def test_sign_in_portal_password_change_sign_out(sqlite_install, browser, screenshots):
    setup_directory(sqlite_install)
    server = sqlite_install.server(GATEHOUSE_BRANDING_TITLE="Example Stack")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # The portal sends a stranger to sign in, keeping where they wanted to go.
    page.goto(f"{server.url}/if/user/")
    expect(page).to_have_url(f"{server.url}/login?next=/if/user/")
    expect(page.get_by_text("Example Stack").first).to_be_visible()
    identifier = page.get_by_label("Username or email")
    expect(identifier).to_be_focused()
    page.screenshot(path=str(screenshots / "sign-in.png"), full_page=True)

    # Keyboard only: type, Enter; type, Enter.
    page.keyboard.type("alice")
    page.keyboard.press("Enter")
    password = page.get_by_label("Password")
    expect(password).to_be_focused()
    expect(page.get_by_text("Signing in as")).to_be_visible()
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("The username or password is not correct.")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(screenshots / "sign-in-failed.png"), full_page=True)

    page.get_by_label("Password").fill(OLD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    expect(page.get_by_text("Alice Liddell").first).to_be_visible()
    # Exactly the applications the bindings allow: open wiki, grafana via devs ⊂ staff.
    tiles = page.locator("main").get_by_role("link").filter(has_text="Wiki").or_(page.locator("main").get_by_role("link").filter(has_text="Grafana"))
    expect(tiles).to_have_count(2)
    expect(page.get_by_text("Pager Console")).to_have_count(0)
    page.screenshot(path=str(screenshots / "portal.png"), full_page=True)

    # The phone layout of the portal.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{server.url}/if/user/")
    phone.screenshot(path=str(screenshots / "portal-phone.png"), full_page=True)
    phone.close()

    # Change the password on the account page.
    page.get_by_role("link", name="My account").click()
    page.get_by_label("Current password").fill(OLD_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    page.screenshot(path=str(screenshots / "account.png"), full_page=True)

    # Sign out, then the old password is refused and the new one works.
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username or email").fill("alice")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(OLD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The username or password is not correct.")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    assert not console_errors, console_errors

    events = sqlite_install.cli("events", "--user", "alice", "--json").stdout
    for action in ["login", "login_failed", "logout", "password_set"]:
        assert f'"action": "{action}"' in events, action
