"""Blueprints and SSO drift in the admin interface, in a real Chromium: the
administrator uploads a blueprint file, reads the plan, applies it (after the
confirmation) and finds the user, group and application it declares; then
the drift page checks the stack manifest's services, and "Fix" repairs the
drifting one, which `gatehouse sso check` (the CLI, an independent reader of
the same manifest) then finds in sync. Pages are photographed at 1280 and
375 px like the other admin pages."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from mfa_support import PASSWORD, browser  # noqa: F401
from test_admin_browser import Camera, shots_dir, sign_in_admin

TEAM = """version: 1
metadata: {name: team}
entries:
  - model: authentik_core.group
    id: editors
    identifiers: {name: editors}
  - model: authentik_core.user
    identifiers: {username: carol}
    attrs: {name: Carol Jones, email: carol@example.com, groups: [!KeyOf editors]}
  - model: authentik_core.user
    identifiers: {username: alice}
    attrs: {name: Alice Liddell}
  - model: authentik_providers_proxy.proxyprovider
    id: wiki-provider
    identifiers: {name: Wiki}
    attrs: {mode: forward_single, external_host: "https://old-wiki.example.test"}
  - model: authentik_core.application
    id: wiki
    identifiers: {slug: wiki}
    attrs: {name: Team Wiki, provider: !KeyOf wiki-provider}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf wiki, group: !KeyOf editors}
    attrs: {order: 0}
"""

# The wiki moved: the manifest says its new address, Gatehouse has the old one.
MANIFEST = """version: 1
services:
  - name: wiki
    sso: {type: proxy, external_host: "https://wiki.example.test"}
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upload_plan_apply_then_fix_drift(backend, request, browser, screenshots):
    inst = request.getfixturevalue("pg_install" if backend == "postgres" else "sqlite_install")
    stack = inst.dir / "stack"
    stack.mkdir()
    (stack / "stack.yaml").write_text(MANIFEST)
    server = inst.server(GATEHOUSE_STACK_FILE=str(stack / "stack.yaml"))
    base = server.url
    inst.user("root", PASSWORD, "Root Admin")
    inst.cli("group", "add", "admins", "root")
    inst.user("alice", PASSWORD, "Alice Example")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    phone = browser.new_page(viewport={"width": 375, "height": 812})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    cam = Camera(page, phone, shots_dir(screenshots), backend)
    sign_in_admin(page, base)

    # Before the blueprint, the wiki's application does not exist: drifting.
    card = page.locator("section", has=page.get_by_role("heading", name="SSO drift"))
    expect(card).to_contain_text("0 in sync")
    expect(card).to_contain_text("1 drifting")

    # Upload a file: its text fills the box; the plan is a diff.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Blueprints").click()
    blueprint = Path(inst.dir / "team.yaml")
    blueprint.write_text(TEAM)
    page.get_by_label("Blueprint file (YAML, at most 1 MiB)").set_input_files(str(blueprint))
    expect(page.get_by_label("Blueprint", exact=True)).to_have_value(TEAM)
    cam.take("blueprints")
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("heading", name="Plan: team.yaml")).to_be_visible()
    carol = page.locator("li.change-create", has_text="user carol")
    expect(carol).to_contain_text("Carol Jones")
    alice = page.locator("li.change-update", has_text="user alice")
    expect(alice.locator("del")).to_have_text("Alice Example")
    expect(alice.locator("ins")).to_have_text("Alice Liddell")
    cam.take("blueprint-plan")
    assert "carol" not in inst.cli("user", "list").stdout, "a plan changes nothing"

    # Apply: a confirmation, then the changes.
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    expect(page.get_by_text("all in one transaction")).to_be_visible()
    page.get_by_role("button", name="Apply blueprint").click()
    expect(page.get_by_role("status")).to_contain_text("Applied: 5 created, 1 changed, 0 deleted.")

    # The user, the group and the application exist, and were written by root.
    page.goto(f"{base}/if/admin/users/carol/")
    expect(page.get_by_role("heading", name="carol")).to_be_visible()
    page.goto(f"{base}/if/admin/groups/editors/")
    expect(page.locator("main").get_by_role("link", name="carol")).to_be_visible()
    page.goto(f"{base}/if/admin/applications/")
    expect(page.locator("main").get_by_role("link", name="Team Wiki")).to_be_visible()
    created = inst.cli("events", "--user", "carol", "--json").stdout
    assert '"actor": "user:root"' in created and '"blueprint": "team"' in created, created
    page.goto(f"{base}/if/admin/blueprints/")
    expect(page.get_by_role("table", name="The last apply of each blueprint file")).to_contain_text("upload:team.yaml")

    # A broken blueprint: a clear error, nothing changed.
    page.get_by_label("Blueprint", exact=True).fill("version: 1\nentries:\n  - model: authentik_core.usr\n    identifiers: {username: x}\n")
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("alert")).to_contain_text("authentik_core.usr")

    # Drift: the wiki's address differs; Fix (confirmed) repairs that one service.
    page.get_by_role("link", name="SSO drift").click()
    row = page.locator("tr", has_text="wiki")
    expect(row.locator(".pill")).to_have_text("drifting")
    expect(row).to_contain_text("https://wiki.example.test")
    assert inst.cli("sso", "check", check=False, GATEHOUSE_STACK_FILE=str(stack / "stack.yaml")).returncode == 1
    cam.take("drift")
    row.get_by_role("button", name="Fix… wiki").click()
    expect(page.get_by_role("heading", name="Repair wiki?")).to_be_visible()
    page.get_by_role("button", name="Repair wiki").click()
    expect(page.get_by_text("wiki repaired")).to_be_visible()
    expect(page.locator("tr", has_text="wiki").locator(".pill")).to_have_text("in sync")
    check = inst.cli("sso", "check", GATEHOUSE_STACK_FILE=str(stack / "stack.yaml"))
    assert "wiki" in check.stdout and "ok" in check.stdout, check.stdout
    page.goto(f"{base}/if/admin/")
    expect(card).to_contain_text("1 in sync")
    expect(card).to_contain_text("0 drifting")
    cam.take("dashboard-drift")

    # A person gets 403 on the new pages and forms.
    person = browser.new_page()
    person.goto(f"{base}/login")
    person.get_by_label("Username or email").fill("alice")
    person.get_by_role("button", name="Continue").click()
    person.get_by_label("Password").fill(PASSWORD)
    person.get_by_role("button", name="Sign in").click()
    expect(person).to_have_url(f"{base}/if/user/")
    for path in ["/if/admin/blueprints/", "/if/admin/drift/"]:
        assert person.request.get(f"{base}{path}").status == 403, path
    csrf = person.locator("input[name=csrf_token]").first.get_attribute("value")
    for path in ["/if/admin/blueprints/plan", "/if/admin/blueprints/apply", "/if/admin/drift/fix"]:
        r = person.request.post(f"{base}{path}", form={"csrf_token": csrf, "content": TEAM, "service": "wiki", "confirm": "yes"})
        assert r.status == 403, path
    assert not errors, errors
