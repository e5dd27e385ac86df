"""Helpers for the MFA tests: a server on `localhost` (browsers refuse an IP
address as a WebAuthn relying party id), a Chromium, and sign-in steps."""

import os
import re
import time

import pyotp
import pytest
from playwright.sync_api import expect, sync_playwright

from conftest import Server

CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "Quiet-Harbour-Lamp-62"

def localhost_server(inst, **extra) -> Server:
    return inst.server(host="localhost", **extra)

@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()

def password_step(page, base: str, username: str, password: str = PASSWORD, next: str | None = None) -> None:
    page.goto(f"{base}/login" + (f"?next={next}" if next else ""))
    page.get_by_label("Username or email").fill(username)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()

def enrol_totp_in_portal(page, base: str, name: str = "Phone") -> tuple[pyotp.TOTP, list[str]]:
    """Adds an authenticator app on the Security page; returns it and the recovery codes shown."""
    page.goto(f"{base}/if/user/security/")
    page.get_by_role("link", name="Add authenticator app").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Verify and add").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = [c.strip() for c in page.locator(".mfa-codes code").all_inner_texts()]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    page.get_by_role("link", name="I saved them, continue").click()
    return totp, codes

def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next 30-second step: accepted (one step of skew) and
    later than any step a code was already used in."""
    return totp.at(time.time() + 30)

def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()

def events(inst, user: str) -> str:
    return inst.cli("events", "--user", user, "--json").stdout

AMR = re.compile(r'"amr":\s*\[([^\]]*)\]')
