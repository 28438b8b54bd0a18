"""Single REST calls against the sandbox portal: envelopes, errors, moves."""

import logging

import pytest

from integrator import errors
from integrator.models import Portal
from integrator.rest import portal_client, user_client, webhook_client
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def test_it_returns_the_result_of_a_call(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]

    lead = portal_client(world.portal, pacing=FAST_RETRIES).call(
        "crm.lead.get", {"id": lead_id}
    )

    assert lead["ID"] == str(lead_id)


def test_a_list_envelope_carries_total_and_next(sandbox_server):
    world = installed_portal(sandbox_server.url)
    world.add_leads(60)

    page = portal_client(world.portal, pacing=FAST_RETRIES).call_raw(
        "crm.lead.list", {"select": ["ID"], "order": {"ID": "ASC"}}
    )

    assert len(page.result) == 50
    assert (page.total, page.next) == (60, 50)
    assert {"start", "finish", "operating", "operating_reset_at"} <= set(page.time)


def test_a_legacy_error_with_an_empty_code_is_still_an_error(sandbox_server):
    world = installed_portal(sandbox_server.url)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    with pytest.raises(errors.NotFound) as missing:
        client.call("crm.lead.get", {"id": 999_999})
    with pytest.raises(errors.PermanentError) as invalid:
        client.call("crm.lead.get", {"id": "nonsense"})

    assert (missing.value.code, missing.value.description) == ("", "Not found")
    assert invalid.value.code == ""


def test_an_error_sent_with_http_200_is_an_error(sandbox_server):
    world = installed_portal(sandbox_server.url)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    with pytest.raises(errors.PermanentError) as refused:
        client.call("placement.bind", {"PLACEMENT": "CRM_LEAD_DETAIL_TAB"})

    assert refused.value.status == 200
    assert refused.value.code == "ERROR_ARGUMENT"


def test_a_moved_portal_is_followed_and_its_new_address_kept(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    moved = world.sandbox.move_portal(world.ref, world.ref + "new")
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    lead = client.call("crm.lead.get", {"id": lead_id})
    client.call("crm.lead.update", {"id": lead_id, "fields": {"TITLE": "Новая"}})

    assert lead["ID"] == str(lead_id)
    assert world.sandbox.lead(moved.ref, lead_id)["TITLE"] == "Новая"
    portal = Portal.objects.get(pk=world.portal.pk)
    assert portal.client_endpoint == moved.client_endpoint
    assert client.auth.endpoint == moved.client_endpoint


def test_a_viewing_users_token_is_used_as_given_and_never_refreshed(sandbox_server):
    world = installed_portal(sandbox_server.url)
    manager = world.sandbox.add_user(world.ref, name="Мария", crm_access="own")
    grant = world.sandbox.issue_tokens(world.ref, user_id=manager)
    viewer = user_client(
        grant["client_endpoint"], grant["access_token"], pacing=FAST_RETRIES
    )

    assert viewer.call("profile")["ID"] == str(manager)
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)
    with pytest.raises(errors.TokenExpired):
        viewer.call("profile")

    assert world.counters().get("refresh_calls", 0) == 0


def test_a_webhook_client_calls_with_its_url_and_never_shows_it(sandbox_server, caplog):
    caplog.set_level(logging.DEBUG)
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    url = world.sandbox.create_webhook(world.ref, user_id=1, scope="crm")
    code = url.rstrip("/").rsplit("/", 1)[-1]
    hook = webhook_client(url, pacing=FAST_RETRIES)

    assert hook.call("crm.lead.get", {"id": lead_id})["ID"] == str(lead_id)
    with pytest.raises(errors.B24Error) as failure:
        hook.call("crm.lead.get", {"id": 999_999})

    assert code not in str(failure.value)
    assert "crm.lead.get" in caplog.text
    assert code not in caplog.text


def test_a_portal_waiting_for_a_person_gets_no_background_client(db):
    portal = Portal.objects.create(
        member_id="m-stopped",
        domain="stopped.example",
        client_endpoint="https://stopped.example/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        status=Portal.Status.REAUTH_REQUIRED,
    )

    with pytest.raises(errors.ReauthRequired):
        portal_client(portal)
    portal.status = Portal.Status.UNINSTALLED
    with pytest.raises(errors.AuthError):
        portal_client(portal)


def test_an_unknown_method_is_reported_as_not_found(sandbox_server):
    world = installed_portal(sandbox_server.url)

    with pytest.raises(errors.NotFound) as unknown:
        portal_client(world.portal, pacing=FAST_RETRIES).call("crm.nothing.here")

    assert unknown.value.status == 404
