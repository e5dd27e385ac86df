"""Passkeys in a real Chromium with its virtual authenticator (DevTools
`WebAuthn.addVirtualAuthenticator`): registration on the Security page, the
passkey as second factor after the password, and sign-in without a username."""

import json
import re

import pytest
from playwright.sync_api import expect

from mfa_support import PASSWORD, browser, events, localhost_server, password_step, sign_out  # noqa: F401

def virtual_authenticator(page) -> tuple:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    r = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, r["authenticatorId"]

def session_amrs(inst, user: str) -> list[list[str]]:
    sessions = json.loads(inst.cli("session", "list", "--json").stdout)
    return [s["amr"] for s in sessions if s["username"] == user]

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_passkey_register_and_sign_in_with_and_without_username(backend, request, browser, screenshots):
    inst = request.getfixturevalue("pg_install" if backend == "postgres" else "sqlite_install")
    inst.user("carol", PASSWORD, "Carol")
    server = localhost_server(inst)
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    cdp, auth_id = virtual_authenticator(page)

    password_step(page, server.url, "carol")
    expect(page).to_have_url(f"{server.url}/if/user/")
    page.goto(f"{server.url}/if/user/security/")
    page.get_by_label("Passkey name").fill("Laptop passkey")
    page.get_by_role("button", name="Add passkey").click()
    # First authenticator: the recovery codes are shown once.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#new-codes code")).to_have_count(10)
    page.screenshot(path=str(screenshots / "mfa-passkey-added.png"), full_page=True)
    page.get_by_role("link", name="I saved them, continue").click()
    expect(page.get_by_role("cell", name="Laptop passkey", exact=True)).to_be_visible()
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]
    assert len(creds) == 1 and creds[0]["isResidentCredential"], creds
    sign_out(page)

    # With a username: password, then the passkey (offered first).
    password_step(page, server.url, "carol")
    expect(page).to_have_url(f"{server.url}/login/mfa")
    expect(page.get_by_role("button", name="Use a passkey or security key")).to_be_visible()
    page.screenshot(path=str(screenshots / "mfa-stage-passkey.png"), full_page=True)
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page).to_have_url(f"{server.url}/if/user/")
    assert ["pwd", "hwk", "mfa"] in session_amrs(inst, "carol"), session_amrs(inst, "carol")
    sign_out(page)

    # Without a username: the passkey alone, from the first sign-in page.
    page.goto(f"{server.url}/login?next=/if/user/account/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{server.url}/if/user/account/")
    assert ["hwk", "mfa"] in session_amrs(inst, "carol"), session_amrs(inst, "carol")
    counter = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"][0]["signCount"]
    assert counter >= 2, counter
    assert not errors, errors

    # A passkey this server does not know signs nobody in.
    sign_out(page)
    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": auth_id})
    page.goto(f"{server.url}/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("Sign-in with a passkey failed")
    expect(page).to_have_url(re.compile(r"/login$"))
    log = events(inst, "carol")
    assert '"action": "mfa_authenticator_added"' in log and '"kind": "webauthn"' in log
