"""MFA in a real Chromium: TOTP enrolment and sign-in (replay refused),
recovery codes, enrolment forced by policy, and the recovery-link gate."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from mfa_support import PASSWORD, browser, enrol_totp_in_portal, events, localhost_server, next_code, password_step, sign_out  # noqa: F401

def test_totp_enrol_sign_in_and_replay_refused(sqlite_install, browser, screenshots):
    inst = sqlite_install
    inst.user("alice", PASSWORD, "Alice Liddell")
    server = localhost_server(inst)
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    bad = []
    page.on("response", lambda r: bad.append((r.status, r.url)) if r.status >= 400 else None)

    # No MFA yet: the password alone signs in; the Security page offers authenticators.
    password_step(page, server.url, "alice")
    expect(page).to_have_url(f"{server.url}/if/user/")
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_text("No authenticators yet")).to_be_visible()

    # A wrong first code does not enrol; the same secret is offered again.
    page.get_by_role("link", name="Add authenticator app").click()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.screenshot(path=str(screenshots / "mfa-totp-enrol.png"), full_page=True)
    page.get_by_label("Code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Verify and add").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    assert page.locator("#totp-secret").inner_text().strip() == secret
    assert '"mfa_authenticator_added"' not in events(inst, "alice")

    totp, codes = enrol_totp_in_portal(page, server.url, "Alice's phone")
    expect(page.get_by_role("cell", name="Alice's phone", exact=True)).to_be_visible()
    expect(page.locator("#codes-left")).to_have_text("10 of 10 recovery codes left.")
    page.screenshot(path=str(screenshots / "mfa-security.png"), full_page=True)
    sign_out(page)

    # Sign in: password, then the second factor.
    password_step(page, server.url, "alice")
    expect(page).to_have_url(f"{server.url}/login/mfa")
    expect(page.get_by_role("heading", name="Verify it’s you")).to_be_visible()
    page.screenshot(path=str(screenshots / "mfa-stage.png"), full_page=True)
    page.get_by_label("Code from your authenticator app").fill("123 456" if next_code(totp) != "123456" else "654321")
    page.get_by_role("button", name="Verify code").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right, or was already used.")
    code = next_code(totp)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify code").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    sessions = inst.cli("session", "list", "--json").stdout
    assert re.search(r'"amr":\s*\[\s*"pwd",\s*"otp",\s*"mfa"\s*\]', sessions), sessions
    sign_out(page)

    # The same code again: refused, even within its step.
    password_step(page, server.url, "alice")
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify code").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right, or was already used.")
    expect(page).to_have_url(f"{server.url}/login/mfa")

    # A recovery code works once; the portal counts what is left.
    page.get_by_text("Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0].upper())
    page.get_by_role("button", name="Use recovery code").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    page.goto(f"{server.url}/if/user/security/")
    expect(page.locator("#codes-left")).to_have_text("9 of 10 recovery codes left.")
    sign_out(page)
    password_step(page, server.url, "alice")
    page.get_by_text("Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Use recovery code").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right, or was already used.")

    log = events(inst, "alice")
    for action in ["mfa_authenticator_added", "mfa_recovery_codes_created", "mfa_recovery_code_used", "mfa_failed"]:
        assert f'"action": "{action}"' in log, action
    # The seed is stored sealed, never in clear.
    seeds = inst.cli("user", "mfa", "list", "alice", "--json").stdout
    assert secret not in seeds and '"recovery_codes_left": 9' in seeds, seeds
    env = (inst.dir / ".env").read_text()
    assert "GATEHOUSE_SECRET_KEY=" in env
    assert not errors, (errors, bad)

    # Removing the authenticator: the password alone signs in again.
    page2 = browser.new_page()
    password_step(page2, server.url, "alice")
    time.sleep(30 - time.time() % 30 + 0.5)  # a step later than the one last used
    page2.get_by_label("Code from your authenticator app").fill(next_code(totp))
    page2.get_by_role("button", name="Verify code").click()
    expect(page2).to_have_url(f"{server.url}/if/user/")
    page2.goto(f"{server.url}/if/user/security/")
    page2.get_by_role("button", name="Remove Alice's phone").click()
    expect(page2.get_by_text("Authenticator removed.")).to_be_visible()
    sign_out(page2)
    password_step(page2, server.url, "alice")
    expect(page2).to_have_url(f"{server.url}/if/user/")

def test_a_password_only_session_cannot_manage_factors(sqlite_install, browser):
    """A session that never passed MFA (here: the one that enrolled the first
    authenticator) cannot remove it, add another or renew recovery codes: it is
    sent to the step-up stage first, and acts only after passing it."""
    inst = sqlite_install
    inst.user("dora", PASSWORD, "Dora")
    server = localhost_server(inst)
    page = browser.new_page()
    password_step(page, server.url, "dora")
    expect(page).to_have_url(f"{server.url}/if/user/")
    totp, _ = enrol_totp_in_portal(page, server.url, "Dora's phone")
    sessions = inst.cli("session", "list", "--json").stdout
    assert '"mfa"' not in sessions, sessions

    # Remove: no effect, the step-up stage instead.
    page.goto(f"{server.url}/if/user/security/")
    page.get_by_role("button", name="Remove Dora's phone").click()
    expect(page).to_have_url(f"{server.url}/login/mfa")
    assert "Dora's phone" in inst.cli("user", "mfa", "list", "dora", "--json").stdout
    assert '"mfa_authenticator_removed"' not in events(inst, "dora")
    # New recovery codes and another app: the same.
    created = events(inst, "dora").count('"mfa_recovery_codes_created"')
    assert created >= 1
    page.goto(f"{server.url}/if/user/security/")
    page.get_by_role("button", name="Create new recovery codes").click()
    expect(page).to_have_url(f"{server.url}/login/mfa")
    page.goto(f"{server.url}/if/user/security/totp")
    expect(page).to_have_url(f"{server.url}/login/mfa")
    assert events(inst, "dora").count('"mfa_recovery_codes_created"') == created

    # After the second factor the same session's successor may remove it.
    page.get_by_label("Code from your authenticator app").fill(next_code(totp))
    page.get_by_role("button", name="Verify code").click()
    expect(page).to_have_url(f"{server.url}/if/user/security/")
    page.get_by_role("button", name="Remove Dora's phone").click()
    expect(page.get_by_text("Authenticator removed.")).to_be_visible()
    assert "Dora's phone" not in inst.cli("user", "mfa", "list", "dora", "--json").stdout

def test_admins_member_is_made_to_enrol(sqlite_install, browser, screenshots):
    inst = sqlite_install
    server = localhost_server(inst)  # bootstrap creates admins
    inst.user("root", PASSWORD, "Root Admin")
    inst.cli("group", "create", "ops", "--parent", "admins")
    inst.cli("group", "add", "ops", "root")  # an admin through a nested group
    page = browser.new_page()
    password_step(page, server.url, "root", next="/if/user/account/")
    expect(page).to_have_url(f"{server.url}/login/mfa/enrol")
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    # Nothing else is reachable before enrolment finishes.
    r = page.request.get(f"{server.url}/if/user/", max_redirects=0)
    assert r.status in (302, 303) and r.headers["location"].startswith("/login"), (r.status, r.headers)
    page.screenshot(path=str(screenshots / "mfa-forced-enrol.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify and add").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    page.get_by_role("link", name="I saved them, continue").click()
    expect(page).to_have_url(f"{server.url}/if/user/account/")
    listed = inst.cli("user", "mfa", "list", "root").stdout
    assert "totp" in listed and "recovery codes left: 10" in listed and "required by policy: yes" in listed, listed

    # Admin recovery: reset, and the person is walked through enrolment again.
    out = inst.cli("user", "mfa", "reset", "root").stdout
    assert "removed 1 authenticator" in out
    assert '"action": "mfa_reset"' in events(inst, "root")
    page.goto(f"{server.url}/if/user/")
    expect(page).to_have_url(re.compile(r"/login\?next=/if/user/$"))  # sessions ended
    password_step(page, server.url, "root")
    expect(page).to_have_url(f"{server.url}/login/mfa/enrol")

    # With the policy off, the password alone is enough.
    inst.cli("policy", "mfa", "set", "off")
    assert '"action": "mfa_policy_changed"' in inst.cli("events", "--json").stdout
    password_step(page, server.url, "root")
    expect(page).to_have_url(f"{server.url}/if/user/")

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_recovery_link_demands_the_second_factor(backend, request, browser):
    inst = request.getfixturevalue("pg_install" if backend == "postgres" else "sqlite_install")
    inst.user("bob", PASSWORD, "Bob")
    server = localhost_server(inst)
    page = browser.new_page()
    password_step(page, server.url, "bob")
    totp, _codes = enrol_totp_in_portal(page, server.url)
    sign_out(page)

    set_before = events(inst, "bob").count('"action": "password_set"')
    out = inst.cli("recovery", "key", "bob").stdout
    link = re.search(r"(/recovery/use-token/[^/\s]+/)", out).group(1)
    page.goto(f"{server.url}{link}")
    expect(page.get_by_role("heading", name="Verify it’s you")).to_be_visible()
    expect(page.get_by_label("New password")).to_have_count(0)

    # Posting a new password without the factor is refused and changes nothing.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    r = page.request.post(f"{server.url}{link}", form={"csrf_token": csrf, "new_password": "Sneaky-New-Pass-99", "new_password_repeat": "Sneaky-New-Pass-99"})
    assert r.status == 403, r.status
    assert events(inst, "bob").count('"action": "password_set"') == set_before

    page.get_by_label("Code from your authenticator app").fill("000000" if next_code(totp) != "000000" else "111111")
    page.get_by_role("button", name="Verify code").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right, or was already used.")
    page.get_by_label("Code from your authenticator app").fill(next_code(totp))
    page.get_by_role("button", name="Verify code").click()
    page.get_by_label("New password", exact=True).fill("Brand-New-Garden-77")
    page.get_by_label("Repeat new password").fill("Brand-New-Garden-77")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    sessions = inst.cli("session", "list", "--json").stdout
    assert re.search(r'"amr":\s*\[\s*"pwd",\s*"otp",\s*"mfa"\s*\]', sessions), sessions

def test_recovery_link_of_an_admin_without_mfa_leads_to_enrolment(sqlite_install):
    """Plain HTTP: the link sets the password, then enrolment comes before anything else."""
    import requests

    from conftest import WebClient

    inst = sqlite_install
    server = inst.server()
    inst.user("root", PASSWORD)
    inst.cli("group", "add", "admins", "root")
    link = re.search(r"(/recovery/use-token/[^/\s]+/)", inst.cli("recovery", "key", "root").stdout).group(1)
    http = requests.Session()
    page = http.get(f"{server.url}{link}")
    assert "Set a new password" in page.text and "Verify it" not in page.text
    r = http.post(f"{server.url}{link}", data={"csrf_token": WebClient.CSRF.search(page.text).group(1),
                                                "new_password": "Fresh-Meadow-Path-18", "new_password_repeat": "Fresh-Meadow-Path-18"},
                  allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/login/mfa/step-up?next=/if/user/", r.headers
    r = http.get(f"{server.url}{r.headers['Location']}")
    assert r.url == f"{server.url}/login/mfa/enrol" and "Set up two-factor authentication" in r.text
