"""Providers written through the REST API with authentik's own client
(`authentik-client`), the way Terraform and provisioning scripts do it: make
the provider (`providers/<kind>/`), then the application that uses it
(`provider: pk`). Proven by using them with clients others wrote: Authlib
signs in through the OAuth2 provider (tokens checked with jwcrypto), ldap3
binds through the LDAP provider, the SAML metadata and the forward-auth check
answer for theirs. Then changes, detaching, deleting, and the refusals. On
SQLite and PostgreSQL."""

import json
import time
import uuid

import authentik_client as ak
import ldap3
import pytest
import requests
from authentik_client.exceptions import ApiException

from conftest import free_port, installation_on
from oidc_support import PASSWORD, REDIRECT, OidcEnv

BOOT = "bootstrap-token-for-the-provider-tests-0123456789"


class Env:
    def __init__(self, oidc: OidcEnv, ldap_port: int):
        self.oidc, self.ldap_port = oidc, ldap_port
        client = ak.ApiClient(ak.Configuration(host=f"{oidc.base}/api/v3", access_token=BOOT))
        self.core, self.providers, self.flows = ak.CoreApi(client), ak.ProvidersApi(client), ak.FlowsApi(client)

    def flow(self, designation: str, slug_part: str = "") -> str:
        found = self.flows.flows_instances_list(designation=ak.FlowDesignationEnum(designation)).results
        return next(f.pk for f in found if slug_part in f.slug)

    @property
    def implicit(self) -> str:
        return self.flow("authorization", "implicit")

    @property
    def invalidation(self) -> str:
        return self.flow("invalidation")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request):
    with installation_on(request.param) as inst:
        port = free_port()
        oidc = OidcEnv(inst, GATEHOUSE_BOOTSTRAP_TOKEN=BOOT, GATEHOUSE_LDAP_LISTEN=f"127.0.0.1:{port}")
        yield Env(oidc, port)


def refused(call) -> tuple[int, dict]:
    try:
        call()
    except ApiException as e:
        return e.status, json.loads(e.body or "{}")
    raise AssertionError("the call succeeded")


def oauth2_request(env: Env, name: str, url: str = REDIRECT, **kw) -> ak.OAuth2ProviderRequest:
    return ak.OAuth2ProviderRequest(
        name=name, authorization_flow=env.implicit, invalidation_flow=env.invalidation,
        redirect_uris=[ak.RedirectURIRequest(matching_mode=ak.MatchingModeEnum.STRICT, url=url)], **kw)


def test_an_oauth2_provider_made_through_the_api_signs_people_in(env):
    made = env.providers.providers_oauth2_create(oauth2_request(env, "Grafana OIDC", sub_mode=ak.SubModeEnum.USER_USERNAME))
    assert made.client_id and made.client_secret, "a confidential client gets a secret, shown once"
    assert made.assigned_application_slug is None
    assert env.providers.providers_oauth2_retrieve(made.pk).client_secret is None

    app = env.core.core_applications_create(ak.ApplicationRequest(name="Grafana", slug="grafana", provider=made.pk))
    assert app.provider == made.pk and app.provider_obj.name == "Grafana OIDC"
    listed = env.providers.providers_oauth2_list(search="grafana").results
    assert [(p.pk, p.assigned_application_slug) for p in listed] == [(made.pk, "grafana")]

    # Authlib signs alice in through the provider; jwcrypto checks the ID token.
    oidc = env.oidc
    token, *_ = oidc.code_flow(oidc.session_for(made.client_id, made.client_secret))
    claims = oidc.verify(token["id_token"], "grafana", "RS256")
    assert claims["aud"] == made.client_id and claims["sub"] == "alice"

    created = [e for e in oidc.events("model_created") if e["context"].get("model") == "provider"]
    assert [e["context"]["name"] for e in created][-1] == "Grafana OIDC"
    assert made.client_secret not in json.dumps(created), "the secret never reaches the audit log"


def test_changing_detaching_and_deleting_providers(env):
    made = env.providers.providers_oauth2_create(oauth2_request(env, "Wiki OIDC", client_type=ak.ClientTypeEnum.PUBLIC))
    assert made.client_secret is None
    env.core.core_applications_create(ak.ApplicationRequest(name="Wiki", slug="wiki", provider=made.pk))
    new_uri = "https://wiki.example.test/oauth/callback"
    changed = env.providers.providers_oauth2_partial_update(made.pk, ak.PatchedOAuth2ProviderRequest(
        name="Wiki SSO", redirect_uris=[ak.RedirectURIRequest(matching_mode=ak.MatchingModeEnum.STRICT, url=new_uri)]))
    assert changed.name == "Wiki SSO" and [u.url for u in changed.redirect_uris] == [new_uri]
    assert changed.assigned_application_slug == "wiki"
    assert requests.get(env.oidc.url("/application/o/wiki/.well-known/openid-configuration")).status_code == 200

    # Detached: the application stays, its OpenID endpoints go; the provider lives on.
    env.core.core_applications_partial_update("wiki", ak.PatchedApplicationRequest(provider=None))
    assert env.core.core_applications_retrieve("wiki").provider is None
    assert env.providers.providers_oauth2_retrieve(made.pk).assigned_application_slug is None
    deadline = time.time() + 5
    while requests.get(env.oidc.url("/application/o/wiki/.well-known/openid-configuration")).status_code != 404:
        assert time.time() < deadline, "discovery still served for a detached provider"
        time.sleep(0.1)

    # Attached again, then the application deleted: the provider is kept, as in authentik.
    env.core.core_applications_partial_update("wiki", ak.PatchedApplicationRequest(provider=made.pk))
    assert env.core.core_applications_retrieve("wiki").provider_obj.name == "Wiki SSO"
    env.core.core_applications_destroy("wiki")
    assert env.providers.providers_oauth2_retrieve(made.pk).assigned_application_slug is None
    env.providers.providers_oauth2_destroy(made.pk)
    assert refused(lambda: env.providers.providers_oauth2_retrieve(made.pk))[0] == 404


def test_saml_proxy_and_ldap_providers_serve_their_applications(env):
    saml = env.providers.providers_saml_create(ak.SAMLProviderRequest(
        name="Nextcloud SAML", authorization_flow=env.implicit, invalidation_flow=env.invalidation,
        acs_url="https://cloud.example.test/apps/user_saml/saml/acs", audience="https://cloud.example.test/saml"))
    assert saml.url_download_metadata == ""
    env.core.core_applications_create(ak.ApplicationRequest(name="Nextcloud", slug="cloud", provider=saml.pk))
    saml = env.providers.providers_saml_retrieve(saml.pk)
    metadata = requests.get(saml.url_download_metadata)
    assert metadata.status_code == 200 and "EntityDescriptor" in metadata.text

    proxy = env.providers.providers_proxy_create(ak.ProxyProviderRequest(
        name="Whoami", authorization_flow=env.implicit, invalidation_flow=env.invalidation,
        external_host="http://whoami.example.test", mode=ak.ProxyMode.FORWARD_SINGLE))
    check = lambda: requests.get(env.oidc.url("/outpost.goauthentik.io/auth/nginx"),  # noqa: E731
                                 headers={"X-Original-URL": "http://whoami.example.test/"}, allow_redirects=False)
    unknown = check().status_code
    assert unknown == 403, "a host no application covers is refused"
    env.core.core_applications_create(ak.ApplicationRequest(name="Whoami", slug="whoami", provider=proxy.pk))
    assert env.providers.providers_proxy_retrieve(proxy.pk).external_host == "http://whoami.example.test"
    deadline = time.time() + 5
    while check().status_code != 401:
        assert time.time() < deadline, "forward-auth does not know the new host"
        time.sleep(0.1)

    base = "dc=api,dc=example"
    ldap = env.providers.providers_ldap_create(ak.LDAPProviderRequest(
        name="Directory", authorization_flow=env.implicit, invalidation_flow=env.invalidation, base_dn=base))
    env.core.core_applications_create(ak.ApplicationRequest(name="Directory", slug="directory", provider=ldap.pk))
    assert env.providers.providers_ldap_retrieve(ldap.pk).base_dn == base
    server = ldap3.Server(f"ldap://127.0.0.1:{env.ldap_port}")
    deadline = time.time() + 5
    while True:
        conn = ldap3.Connection(server, user=f"cn=alice,ou=users,{base}", password=PASSWORD)
        if conn.bind():
            break
        assert time.time() < deadline, conn.result
        time.sleep(0.1)
    assert conn.extend.standard.who_am_i().endswith(f"cn=alice,ou=users,{base}")
    conn.unbind()


def test_bad_provider_requests_change_nothing(env):
    before = len(env.providers.providers_oauth2_list().results)
    status, body = refused(lambda: env.providers.providers_oauth2_create(ak.OAuth2ProviderRequest(
        name="Bad flow", authorization_flow=str(uuid.uuid4()), invalidation_flow=env.invalidation,
        redirect_uris=[])))
    assert status == 400 and "authorization_flow" in body
    status, body = refused(lambda: env.providers.providers_proxy_create(ak.ProxyProviderRequest(
        name="Reverse", authorization_flow=env.implicit, invalidation_flow=env.invalidation,
        external_host="http://x.example.test", mode=ak.ProxyMode.PROXY)))
    assert status == 400 and "mode" in body
    status, body = refused(lambda: env.providers.providers_saml_create(ak.SAMLProviderRequest(
        name="No audience", authorization_flow=env.implicit, invalidation_flow=env.invalidation,
        acs_url="https://sp.example.test/acs")))
    assert status == 400 and "audience" in body

    first = env.providers.providers_oauth2_create(oauth2_request(env, "Chat", client_id="chat"))
    status, body = refused(lambda: env.providers.providers_oauth2_create(oauth2_request(env, "Chat 2", client_id="chat")))
    assert status == 400, body
    env.core.core_applications_create(ak.ApplicationRequest(name="Chat", slug="chat", provider=first.pk))
    status, body = refused(lambda: env.core.core_applications_create(
        ak.ApplicationRequest(name="Chat 2", slug="chat-2", provider=first.pk)))
    assert status == 400 and "provider" in body
    status, body = refused(lambda: env.core.core_applications_create(
        ak.ApplicationRequest(name="Ghost", slug="ghost", provider=999_999)))
    assert status == 400 and "provider" in body
    assert refused(lambda: env.core.core_applications_retrieve("ghost"))[0] == 404
    # Raw bodies: wrong types and the wrong kind's pk.
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {BOOT}"
    r = http.patch(env.oidc.url(f"/api/v3/providers/oauth2/{first.pk}/"), json={"redirect_uris": "x", "name": 5})
    assert r.status_code == 400, r.text
    assert http.get(env.oidc.url(f"/api/v3/providers/saml/{first.pk}/")).status_code == 404
    assert http.delete(env.oidc.url(f"/api/v3/providers/ldap/{first.pk}/")).status_code == 404
    assert len(env.providers.providers_oauth2_list().results) == before + 1
