"""Throttling as Bitrix24 does it: the portal's bucket, method budgets, gateways."""

import time

import pytest

from integrator import errors
from integrator.models import Portal
from integrator.pacing import PacingConfig
from integrator.rest import portal_client, refresh_plan, user_client
from tests.integrator.rest_support import FAST_RETRIES, NO_APP, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def test_a_rate_refusal_is_retried_with_backoff_until_it_goes_through(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    world.sandbox.set_faults(world.ref, burst_503=2)
    world.sandbox.reset_counters(world.ref)

    profile = portal_client(world.portal, pacing=FAST_RETRIES).call("profile")

    assert profile["ID"] == "1"
    counters = world.counters()
    assert counters["query_limit_503"] == 2
    assert counters["requests"] == 3


def test_rate_refusals_give_up_after_the_configured_attempts(sandbox_server):
    world = installed_portal(sandbox_server.url)
    world.sandbox.set_faults(world.ref, burst_503=True)
    world.sandbox.reset_counters(world.ref)

    with pytest.raises(errors.RateLimited):
        portal_client(world.portal, pacing=FAST_RETRIES).call("profile")

    assert world.counters()["requests"] == FAST_RETRIES.limit_attempts


def test_pacing_keeps_a_busy_job_inside_the_portals_bucket(sandbox_server):
    world = installed_portal(sandbox_server.url, bucket_rate=4.0, bucket_burst=8)
    world.sandbox.reset_counters(world.ref)
    paced = PacingConfig(rate=4.0, burst=8, backoff_base=0.02, backoff_cap=0.1)
    client = portal_client(world.portal, pacing=paced)

    for _ in range(24):
        client.call("profile")

    counters = world.counters()
    assert counters["requests"] == 24
    assert counters.get("query_limit_503", 0) == 0


def test_without_pacing_the_same_job_bounces_off_the_bucket(sandbox_server):
    world = installed_portal(sandbox_server.url, bucket_rate=4.0, bucket_burst=8)
    world.sandbox.reset_counters(world.ref)
    unpaced = PacingConfig(
        rate=1e6, burst=10**6, backoff_base=0.02, backoff_cap=0.1, limit_attempts=50
    )
    client = portal_client(world.portal, pacing=unpaced)

    for _ in range(24):
        client.call("profile")

    assert world.counters()["query_limit_503"] > 0


def test_a_method_near_its_time_budget_is_slowed_down(sandbox_server):
    world = installed_portal(sandbox_server.url)
    world.sandbox.set_faults(world.ref, method_costs={"crm.lead.list": 400.0})
    client = portal_client(
        world.portal, pacing=PacingConfig(slow_from=360, slow_delay=0.01)
    )

    client.call("crm.lead.list", {"select": ["ID"]})

    assert client.pacer.before("crm.lead.list") > 0
    assert client.pacer.before("crm.lead.get") == 0


def test_a_method_at_its_time_budget_is_paused_before_the_portal_blocks_it(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    world.sandbox.set_faults(world.ref, method_costs={"crm.lead.list": 479.2})
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    envelope = client.call_raw("crm.lead.list", {"select": ["ID"]})
    sent = client.requests_sent
    with pytest.raises(errors.MethodBlocked) as paused:
        client.call("crm.lead.list", {"select": ["ID"]})

    assert envelope.time["operating"] >= 479.2
    assert client.requests_sent == sent
    assert paused.value.reset_at == envelope.time["operating_reset_at"]
    assert client.call("profile")["ID"] == "1"


def test_a_blocked_method_waits_for_its_reset_while_the_lead_tab_keeps_working(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    first, second, shown = world.add_leads(3)
    client = portal_client(world.portal, pacing=FAST_RETRIES)
    last_good = client.call_raw("crm.lead.delete", {"id": first})
    world.sandbox.set_faults(world.ref, block_methods=["crm.lead.delete"])
    world.sandbox.reset_counters(world.ref)

    with pytest.raises(errors.MethodBlocked) as blocked:
        client.call("crm.lead.delete", {"id": second})
    # Every worker of this portal now holds off without asking.
    other_worker = portal_client(
        Portal.objects.get(pk=world.portal.pk), pacing=FAST_RETRIES
    )
    with pytest.raises(errors.MethodBlocked):
        other_worker.call("crm.lead.delete", {"id": second})
    batch = other_worker.delete_many("crm.lead.delete", [second])

    reset_at = last_good.time["operating_reset_at"]
    assert blocked.value.method == "crm.lead.delete"
    assert blocked.value.reset_at == reset_at
    assert blocked.value.countdown() >= reset_at - time.time() - 1
    assert isinstance(batch.failed[second], errors.MethodBlocked)
    assert world.counters()["operation_limit_429"] == 1

    client.call(
        "placement.bind",
        {
            "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
            "HANDLER": f"{NO_APP}/b24/placement/lead-tab/",
            "TITLE": "ПДн",
        },
    )
    tab = world.sandbox.open_lead_tab(world.ref, lead_id=shown, user_id=1)
    viewer = user_client(
        world.portal.client_endpoint,
        tab.form["AUTH_ID"],
        member_id=world.portal.member_id,
        pacing=FAST_RETRIES,
    )
    assert viewer.call("crm.lead.get", {"id": shown})["ID"] == str(shown)
    assert other_worker.call("crm.lead.get", {"id": second})["ID"] == str(second)


def test_a_gateway_page_is_transient_and_a_read_is_tried_again(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.set_faults(world.ref, html_502=1)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    assert client.call("crm.lead.get", {"id": lead_id})["ID"] == str(lead_id)
    assert client.requests_sent == 2


def test_a_gateway_that_stays_down_defers_the_job_without_a_decode_error(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.set_faults(world.ref, html_502=True)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    with pytest.raises(errors.Transient) as failure:
        client.call("crm.lead.get", {"id": lead_id})

    assert failure.value.status == 502
    assert "text/html" in failure.value.description
    assert client.requests_sent == FAST_RETRIES.transient_attempts


def test_a_write_that_met_a_gateway_error_is_not_repeated_blindly(sandbox_server):
    world = installed_portal(sandbox_server.url)
    world.sandbox.set_faults(world.ref, html_502=1)
    client = portal_client(world.portal, pacing=FAST_RETRIES)

    with pytest.raises(errors.Transient):
        client.call("crm.lead.add", {"fields": {"TITLE": "Заявка"}})

    assert client.requests_sent == 1


def test_an_enterprise_portal_is_paced_by_the_larger_bucket(sandbox_server):
    world = installed_portal(sandbox_server.url, plan="enterprise", license="ru_ent250")

    plan = refresh_plan(world.portal)

    portal = Portal.objects.get(pk=world.portal.pk)
    assert plan == portal.plan
    config = portal_client(portal).pacer.config
    assert (config.rate, config.burst) == (5.0, 250)


def test_a_standard_portal_keeps_the_standard_bucket(sandbox_server):
    world = installed_portal(sandbox_server.url)

    refresh_plan(world.portal)

    config = portal_client(Portal.objects.get(pk=world.portal.pk)).pacer.config
    assert (config.rate, config.burst) == (2.0, 50)
