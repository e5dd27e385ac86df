"""The REST API at /api/v3/ driven by authentik's own published client
(`authentik-client` from PyPI, the generated client authentik ships), on
SQLite and PostgreSQL: users, groups and membership, applications and OAuth2
providers, tokens, events, `me`; plus the session-cookie path with its CSRF
header, and the refusals (bad token, non-superuser, akadmin)."""

import json
from concurrent.futures import ThreadPoolExecutor

import authentik_client as ak
import pytest
import requests
from authentik_client.exceptions import ApiException

from conftest import Installation, WebClient, installation_on

BOOT = "bootstrap-token-for-the-api-tests-0123456789"
PASSWORD = "correct horse battery staple 42"


class Api:
    def __init__(self, inst: Installation, url: str):
        self.inst, self.url = inst, url

    def client(self, key: str) -> ak.ApiClient:
        return ak.ApiClient(ak.Configuration(host=f"{self.url}/api/v3", access_token=key))

    def core(self, key: str = BOOT) -> ak.CoreApi:
        return ak.CoreApi(self.client(key))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request):
    with installation_on(request.param) as inst:
        server = inst.server(GATEHOUSE_BOOTSTRAP_TOKEN=BOOT)
        yield Api(inst, server.url)


def status(call) -> tuple[int, dict]:
    try:
        call()
    except ApiException as e:
        return e.status, json.loads(e.body or "{}")
    raise AssertionError("the call succeeded")


def test_users_create_list_filter_update_delete(api):
    core = api.core()
    alice = core.core_users_create(ak.UserRequest(username="alice", name="Alice A", email="alice@example.com"))
    assert alice.pk > 1 and alice.username == "alice" and alice.is_active
    assert core.core_users_retrieve(alice.pk).uuid == alice.uuid
    core.core_users_create(ak.UserRequest(username="bert", name="Bert", email="bert@example.com", is_active=False))
    names = lambda page: [u.username for u in page.results]  # noqa: E731
    assert names(core.core_users_list(username="alice")) == ["alice"]
    assert names(core.core_users_list(email="bert@example.com")) == ["bert"]
    assert names(core.core_users_list(name="Alice A")) == ["alice"]
    assert "bert" not in names(core.core_users_list(is_active=True))
    assert names(core.core_users_list(is_active=False)) == ["bert"]
    assert names(core.core_users_list(search="LIC")) == ["alice"]
    assert names(core.core_users_list(uuid=alice.uuid)) == ["alice"]
    assert names(core.core_users_list(is_superuser=True)) == ["akadmin"]
    ordered = names(core.core_users_list(ordering="-username", page_size=3))
    assert ordered == sorted(ordered, reverse=True)
    assert core.core_users_list(include_groups=False).results[0].groups_obj is None

    updated = core.core_users_partial_update(alice.pk, ak.PatchedUserRequest(name="Alice B", attributes={"team": "ops"}))
    assert updated.name == "Alice B" and updated.attributes == {"team": "ops"}
    full = core.core_users_update(alice.pk, ak.UserRequest(username="alice", name="Alice C", email="a@example.com"))
    assert (full.name, full.email) == ("Alice C", "a@example.com")

    code, body = status(lambda: core.core_users_create(ak.UserRequest(username="alice", name="Again")))
    assert code == 400 and "username" in body
    code, body = status(lambda: core.core_users_create(ak.UserRequest(username="bad name!", name="X")))
    assert code == 400 and "username" in body

    bert = core.core_users_list(username="bert").results[0]
    core.core_users_destroy(bert.pk)
    assert status(lambda: core.core_users_retrieve(bert.pk))[0] == 404
    admin = core.core_users_list(username="akadmin").results[0]
    code, body = status(lambda: core.core_users_destroy(admin.pk))
    assert code == 400 and "akadmin" in json.dumps(body)
    assert core.core_users_retrieve(admin.pk).username == "akadmin"


def test_paging_over_a_thousand_users(api):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {BOOT}"

    def make(i: int) -> int:
        r = http.post(f"{api.url}/api/v3/core/users/",
                      json={"username": f"page{i:04d}", "name": f"Page {i}", "email": f"page{i}@example.com"})
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(make, range(1050))) == {201}
    core = api.core()
    seen, page = [], 1
    while page:
        res = core.core_users_list(search="page", page=page, page_size=100, ordering="username")
        p = res.pagination
        assert p.count == 1050 and p.total_pages == 11 and p.current == page
        assert p.start_index == (page - 1) * 100 + 1 and p.end_index == p.start_index + len(res.results) - 1
        seen += [u.username for u in res.results]
        page = int(p.next)
    assert seen == [f"page{i:04d}" for i in range(1050)]
    assert status(lambda: core.core_users_list(page=12, search="page"))[0] == 404


def test_set_password_then_sign_in(api):
    core = api.core()
    carol = core.core_users_create(ak.UserRequest(username="carol", name="Carol", email="carol@example.com"))
    code, body = status(lambda: core.core_users_set_password_create(carol.pk, ak.UserPasswordSetRequest(password="short")))
    assert code == 400 and "password" in body
    core.core_users_set_password_create(carol.pk, ak.UserPasswordSetRequest(password=PASSWORD))
    web = WebClient(api.url)
    web.sign_in("carol", PASSWORD)
    assert web.signed_in()
    code, body = status(lambda: core.core_users_set_password_hash_create(
        carol.pk, ak.UserPasswordHashSetRequest(password="not-a-hash")))
    assert code == 400 and "password" in body
    link = core.core_users_recovery_create(carol.pk, ak.UserRecoveryLinkRequest(token_duration="minutes=10")).link
    assert link.startswith(f"{api.url}/recovery/use-token/")
    assert requests.get(link).status_code == 200


def test_groups_and_membership(api):
    core = api.core()
    dave = core.core_users_create(ak.UserRequest(username="dave", name="Dave", email="dave@example.com"))
    staff = core.core_groups_create(ak.GroupRequest(name="staff"))
    assert staff.num_pk > 0 and staff.users == []
    ops = core.core_groups_create(ak.GroupRequest(name="ops", parents=[staff.pk]))
    assert ops.parents == [staff.pk]
    core.core_groups_add_user_create(ops.pk, ak.UserAccountRequest(pk=dave.pk))
    got = core.core_groups_retrieve(ops.pk, include_users=True)
    assert got.users == [dave.pk] and [u.username for u in got.users_obj] == ["dave"]
    assert [c for c in core.core_groups_retrieve(staff.pk, include_children=True).children] == [ops.pk]
    assert [g.name for g in core.core_groups_list(members_by_username=["dave"]).results] == ["ops"]
    assert [u.username for u in core.core_users_list(groups_by_name=["ops"]).results] == ["dave"]
    assert core.core_users_retrieve(dave.pk).groups == [ops.pk]
    assert not core.core_users_retrieve(dave.pk).is_superuser

    # Nested under the superuser group, a member is a superuser (authentik's rule).
    admins = core.core_groups_list(name="admins").results[0]
    core.core_groups_partial_update(staff.pk, ak.PatchedGroupRequest(parents=[admins.pk]))
    assert core.core_users_retrieve(dave.pk).is_superuser
    assert "dave" in [u.username for u in core.core_users_list(is_superuser=True).results]
    core.core_groups_partial_update(staff.pk, ak.PatchedGroupRequest(parents=[]))

    code, body = status(lambda: core.core_groups_add_user_create(ops.pk, ak.UserAccountRequest(pk=999999)))
    assert code == 400 and "pk" in body
    core.core_groups_remove_user_create(ops.pk, ak.UserAccountRequest(pk=dave.pk))
    assert core.core_groups_retrieve(ops.pk).users == []
    code, _ = status(lambda: core.core_groups_partial_update(staff.pk, ak.PatchedGroupRequest(parents=[ops.pk])))
    assert code == 400
    core.core_groups_destroy(ops.pk)
    assert status(lambda: core.core_groups_retrieve(ops.pk))[0] == 404


def test_applications_and_oauth2_providers(api):
    core = api.core()
    app = core.core_applications_create(ak.ApplicationRequest(name="Notes", slug="notes", meta_launch_url="https://notes.example.com"))
    assert app.slug == "notes" and app.provider is None
    api.inst.cli("app", "create", "wiki", "--name", "Wiki", "--provider", "oidc",
                 "--redirect-uri", "https://wiki.example.com/cb")
    wiki = core.core_applications_retrieve("wiki")
    assert wiki.provider_obj.meta_model_name == "authentik_providers_oauth2.oauth2provider"
    providers = ak.ProvidersApi(api.client(BOOT))
    listed = providers.providers_oauth2_list().results
    assert [p.assigned_application_slug for p in listed] == ["wiki"]
    p = providers.providers_oauth2_retrieve(wiki.provider)
    assert p.client_id and [u.url for u in p.redirect_uris] == ["https://wiki.example.com/cb"]
    assert [a.slug for a in core.core_applications_list(search="wik").results] == ["wiki"]

    erin = core.core_users_create(ak.UserRequest(username="erin", name="Erin", email="erin@example.com"))
    assert core.core_applications_check_access_retrieve("wiki", for_user=erin.pk).passing
    api.inst.cli("group", "create", "wiki-users")
    api.inst.cli("app", "bind", "wiki", "wiki-users")
    result = core.core_applications_check_access_retrieve("wiki", for_user=erin.pk)
    assert not result.passing and result.messages

    core.core_applications_partial_update("notes", ak.PatchedApplicationRequest(name="Team notes"))
    assert core.core_applications_retrieve("notes").name == "Team notes"
    core.core_applications_destroy("notes")
    assert status(lambda: core.core_applications_retrieve("notes"))[0] == 404


def test_tokens_and_refusals(api):
    inst = api.inst
    inst.cli("user", "create", "frank", "frank@example.com", "Frank")
    key = inst.cli("token", "create", "--user", "frank", "--description", "e2e").stdout.strip()
    frank = api.core(key)
    me = frank.core_users_me_retrieve()
    assert me.user.username == "frank" and not me.user.is_superuser
    code, body = status(lambda: frank.core_users_list())
    assert code == 403 and "detail" in body
    code, body = status(lambda: api.core("not-a-token").core_users_me_retrieve())
    assert code == 403 and body["detail"]
    r = requests.get(f"{api.url}/api/v3/core/users/me/")
    assert r.status_code == 403 and "detail" in r.json()

    # A user manages their own tokens; the key comes once, with the create response.
    made = frank.core_tokens_create(ak.TokenRequest(identifier="frank-ci", description="ci"))
    assert made.user_obj.username == "frank" and made.intent.value == "api"
    raw = requests.post(f"{api.url}/api/v3/core/tokens/", headers={"Authorization": f"Bearer {key}"},
                        json={"identifier": "frank-raw"}).json()
    assert api.core(raw["key"]).core_users_me_retrieve().user.username == "frank"
    code, body = status(lambda: frank.core_tokens_view_key_retrieve("frank-ci"))
    assert code == 403 and "hash" in body["detail"]
    assert sorted(t.identifier for t in frank.core_tokens_list().results if t.identifier.startswith("frank-c")) == ["frank-ci"]
    assert "frank" not in [t.user_obj.username for t in api.core().core_tokens_list(identifier="nope").results]
    frank.core_tokens_destroy("frank-raw")
    assert status(lambda: api.core(raw["key"]).core_users_me_retrieve())[0] == 403
    listed = json.loads(inst.cli("--json", "token", "list", "--user", "frank").stdout)
    assert any(t["last_used"] for t in listed)

    # A revoked token stops authenticating at once.
    inst.cli("token", "revoke", [t["identifier"] for t in listed if t["description"] == "e2e"][0])
    assert status(lambda: frank.core_users_me_retrieve())[0] == 403


def test_events_are_listed_and_filtered(api):
    core = api.core()
    core.core_users_create(ak.UserRequest(username="gina", name="Gina", email="gina@example.com"))
    events = ak.EventsApi(api.client(BOOT))
    mine = events.events_events_list(action="model_created", username="gina").results
    assert len(mine) == 1 and mine[0].context["actor"] == "user:akadmin" and mine[0].client_ip == "127.0.0.1"
    assert events.events_events_retrieve(mine[0].pk).pk == mine[0].pk
    newest = events.events_events_list(page_size=5).results
    assert [e.created for e in newest] == sorted([e.created for e in newest], reverse=True)
    assert events.events_events_list(client_ip="192.0.2.1").pagination.count == 0
    ak.AdminApi(api.client(BOOT)).admin_version_retrieve()
    ak.RootApi(api.client(BOOT)).root_config_retrieve()


def test_the_browser_session_needs_the_csrf_header_for_changes(api):
    api.inst.cli("user", "create", "hank", "hank@example.com", "Hank")
    api.inst.cli("user", "password", "hank", "--stdin", input=PASSWORD + "\n")
    web = WebClient(api.url)
    web.sign_in("hank", PASSWORD)
    me = web.http.get(f"{api.url}/api/v3/core/users/me/")
    assert me.status_code == 200 and me.json()["user"]["username"] == "hank"
    refused = web.http.post(f"{api.url}/api/v3/core/tokens/", json={"identifier": "hank-1"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    csrf = web.csrf(web.http.get(f"{api.url}/if/user/account/").text)
    ok = web.http.post(f"{api.url}/api/v3/core/tokens/", json={"identifier": "hank-1"}, headers={"X-CSRFToken": csrf})
    assert ok.status_code == 201, ok.text
    sessions = web.http.get(f"{api.url}/api/v3/core/authenticated_sessions/").json()["results"]
    assert [s["current"] for s in sessions] == [True]


def test_bad_input_never_breaks_the_server(api):
    h = {"Authorization": f"Bearer {BOOT}"}
    url = f"{api.url}/api/v3"
    cases = [
        ("post", "/core/users/", b"[1, 2]"),
        ("post", "/core/users/", b"{not json"),
        ("post", "/core/users/", json.dumps({"username": 5, "name": []}).encode()),
        ("patch", "/core/users/abc/", b"{}"),
        ("post", "/core/groups/00000000-0000-0000-0000-000000000000/add_user/", b'{"pk": "x"}'),
        ("get", "/core/users/?page=0", None),
        ("get", "/core/users/?is_active=maybe", None),
        ("get", "/core/users/?page_size=-4&ordering=-nope", None),
        ("post", "/core/users/", b"{" + b'"a":' * 10 + b"1}"),
        ("post", "/core/users/", b'{"username": "' + b"x" * 70000 + b'"}'),
    ]
    for method, path, body in cases:
        r = requests.request(method, url + path, headers=h, data=body)
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        if r.status_code >= 400 and r.status_code != 413:
            assert isinstance(r.json(), dict)
