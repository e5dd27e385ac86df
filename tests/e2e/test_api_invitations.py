"""Invitations and flows through authentik's own published client
(`authentik-client`): list the enrollment flow, create an invitation with
fixed data, list, retrieve and delete it, and a person signs up through the
link the invitation makes. SQLite and PostgreSQL."""

import datetime
import uuid

import authentik_client
import pytest
import requests
from authentik_client.exceptions import ApiException

from conftest import WebClient

PASSWORD = "Harbour-Violet-Engine-48"


@pytest.fixture(params=["sqlite", "postgres"])
def install(request):
    return request.getfixturevalue("sqlite_install" if request.param == "sqlite" else "pg_install")


def client(srv, key: str) -> authentik_client.ApiClient:
    return authentik_client.ApiClient(authentik_client.Configuration(host=f"{srv.url}/api/v3", access_token=key))


def test_invitations_and_flows_through_authentiks_client(install):
    inst = install
    inst.cli("group", "create", "staff")
    srv = inst.server()
    key = inst.cli("token", "create", "--user", "akadmin").stdout.strip()
    with client(srv, key) as api:
        flows = authentik_client.FlowsApi(api)
        enrollment = flows.flows_instances_list(designation=authentik_client.FlowDesignationEnum.ENROLLMENT).results
        assert [f.slug for f in enrollment] == ["default-enrollment-flow"]
        assert enrollment[0].designation == authentik_client.FlowDesignationEnum.ENROLLMENT
        assert flows.flows_instances_list(slug="default-enrollment-flow").results[0].pk == enrollment[0].pk
        assert flows.flows_instances_list(slug="nope").pagination.count == 0
        assert "default-authentication-flow" in [f.slug for f in flows.flows_instances_list().results]

        stages = authentik_client.StagesApi(api)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
        request = authentik_client.InvitationRequest(
            name="for-pat", expires=expires, single_use=True, flow=enrollment[0].pk,
            fixed_data={"email": "pat@example.com", "groups": ["staff"]})
        created = stages.stages_invitation_invitations_create(request)
        assert created.name == "for-pat" and created.single_use and created.flow == enrollment[0].pk
        assert created.flow_obj.slug == "default-enrollment-flow"
        assert created.created_by.username == "akadmin"
        assert created.fixed_data == {"email": "pat@example.com", "groups": ["staff"]}
        assert abs((created.expires - expires).total_seconds()) < 1
        listed = stages.stages_invitation_invitations_list(name="for-pat").results
        assert [i.pk for i in listed] == [created.pk]
        assert stages.stages_invitation_invitations_retrieve(str(created.pk)).name == "for-pat"

        # authentik's validation answers: 400 with the field at fault.
        for bad in (authentik_client.InvitationRequest(name="for-pat"),
                    authentik_client.InvitationRequest(name="x", fixed_data={"groups": ["nope"]}),
                    authentik_client.InvitationRequest(name="y", flow=uuid.uuid4())):
            with pytest.raises(ApiException) as e:
                stages.stages_invitation_invitations_create(bad)
            assert e.value.status in (400, 404), e.value.body

        # The link the invitation makes works; once used, a single-use one is gone.
        link = f"{srv.url}/if/flow/default-enrollment-flow/?itoken={created.pk}"
        web = WebClient(srv.url)
        form = web.http.get(link)
        r = web.http.post(link, data={"username": "pat", "name": "Pat", "password": PASSWORD,
                                      "password_repeat": PASSWORD, "csrf_token": web.csrf(form.text)},
                          allow_redirects=False)
        assert r.status_code in (302, 303), r.text
        me = authentik_client.CoreApi(api).core_users_list(username="pat").results[0]
        assert me.email == "pat@example.com" and [g.name for g in me.groups_obj] == ["staff"]
        assert stages.stages_invitation_invitations_list(name="for-pat").pagination.count == 0
        with pytest.raises(ApiException) as e:
            stages.stages_invitation_invitations_retrieve(str(created.pk))
        assert e.value.status == 404

        # Delete: the link stops working.
        other = stages.stages_invitation_invitations_create(authentik_client.InvitationRequest(name="shared"))
        assert not other.single_use
        stages.stages_invitation_invitations_destroy(str(other.pk))
        assert requests.get(f"{srv.url}/if/flow/default-enrollment-flow/?itoken={other.pk}").status_code == 404

    # A user who is not a superuser may not manage invitations.
    inst.user("quinn", PASSWORD)
    quinn = inst.cli("token", "create", "--user", "quinn").stdout.strip()
    with client(srv, quinn) as api:
        with pytest.raises(ApiException) as e:
            authentik_client.StagesApi(api).stages_invitation_invitations_list()
        assert e.value.status == 403
