"""Token refresh: once per expiry, under the portal's lock, never leaked.

The sandbox's auth server rotates like Bitrix24's: a refresh kills the used
refresh token and the access token issued with it, and counts every refresh
call, so an over-eager client shows up in ``refresh_calls``.
"""

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests
from django.conf import settings
from django.db import connection

from integrator import errors, oauth
from integrator.models import Portal
from integrator.rest import portal_client
from tests.integrator.rest_support import FAST_RETRIES, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def _stored(portal: Portal) -> tuple[str, str, int]:
    fresh = Portal.objects.get(pk=portal.pk)
    return fresh.access_token, fresh.refresh_token, fresh.token_version


def test_an_expired_token_is_refreshed_once_and_the_call_repeated_once(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    access, refresh, version = _stored(world.portal)
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)

    client = portal_client(world.portal, pacing=FAST_RETRIES)
    lead = client.call("crm.lead.get", {"id": lead_id})

    assert lead["ID"] == str(lead_id)
    counters = world.counters()
    assert counters["refresh_calls"] == 1
    assert counters["requests"] == 2
    new_access, new_refresh, new_version = _stored(world.portal)
    assert new_version == version + 1
    assert new_access != access
    assert new_refresh != refresh


def test_a_token_expired_again_after_the_refresh_is_an_auth_error_not_a_loop(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    # Every token the auth server issues from now on is born expired.
    world.sandbox.configure_portal(world.ref, access_ttl=0)
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)

    client = portal_client(world.portal, pacing=FAST_RETRIES)
    with pytest.raises(errors.AuthError) as failure:
        client.call("crm.lead.get", {"id": lead_id})

    assert failure.value.code == "expired_token"
    assert not isinstance(failure.value, errors.TokenExpired)
    counters = world.counters()
    assert counters["refresh_calls"] == 1
    assert counters["requests"] == 2


def test_a_worker_holding_old_tokens_skips_the_refresh_another_worker_did(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)
    first = portal_client(world.portal, pacing=FAST_RETRIES)
    second = portal_client(world.portal, pacing=FAST_RETRIES)

    first.call("crm.lead.get", {"id": lead_id})
    # The second worker read the tokens before the first one rotated them.
    lead = second.call("crm.lead.get", {"id": lead_id})

    assert lead["ID"] == str(lead_id)
    assert world.counters()["refresh_calls"] == 1
    portal = Portal.objects.get(pk=world.portal.pk)
    assert portal.status == Portal.Status.ACTIVE
    assert portal.token_version == world.portal.token_version + 1


_WORKER = """
import json, sys, threading
import django

django.setup()
from django.db import connections
from integrator.models import Portal
from integrator.rest import portal_client

member_id, lead_id, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
go = threading.Event()
results = []

def work():
    client = portal_client(Portal.objects.get(member_id=member_id))
    connections.close_all()
    go.wait()
    try:
        results.append(client.call("crm.lead.get", {"id": lead_id})["ID"])
    except Exception as exc:
        results.append(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()

pool = [threading.Thread(target=work) for _ in range(threads)]
for thread in pool:
    thread.start()
print("ready", flush=True)
sys.stdin.readline()
go.set()
for thread in pool:
    thread.join()
print(json.dumps(results), flush=True)
"""


def test_thirty_two_calls_in_four_processes_share_a_single_refresh(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)
    env = {
        **os.environ,
        "PDN_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "b24app.settings",
        "DATABASE_URL": _url_of(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
    }

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, world.portal.member_id, str(lead_id), "8"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]

    results = [r for output in outputs for r in json.loads(output.splitlines()[-1])]
    assert results == [str(lead_id)] * 32
    assert world.counters()["refresh_calls"] == 1
    portal = Portal.objects.get(pk=world.portal.pk)
    assert portal.token_version == world.portal.token_version + 1
    assert portal.status == Portal.Status.ACTIVE


def _url_of(db: dict[str, object]) -> str:
    return (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


def test_a_dead_refresh_token_stops_the_portal_for_reauthorisation(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    # Someone else used the stored refresh token: the chain went on without us.
    oauth.request_token(
        world.portal.server_endpoint,
        {"grant_type": "refresh_token", "refresh_token": world.portal.refresh_token},
    )
    world.sandbox.expire_tokens(world.ref)
    _, refresh, version = _stored(world.portal)

    with pytest.raises(errors.ReauthRequired):
        portal_client(world.portal, pacing=FAST_RETRIES).call(
            "crm.lead.get", {"id": lead_id}
        )

    portal = Portal.objects.get(pk=world.portal.pk)
    assert portal.status == Portal.Status.REAUTH_REQUIRED
    assert "invalid_grant" in portal.status_reason
    assert (portal.refresh_token, portal.token_version) == (refresh, version)
    with pytest.raises(errors.ReauthRequired):
        portal_client(portal)


def test_payment_required_suspends_the_portal_without_retrying(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.set_faults(world.ref, payment_required=True)
    world.sandbox.reset_counters(world.ref)

    with pytest.raises(errors.PaymentRequired):
        portal_client(world.portal, pacing=FAST_RETRIES).call(
            "crm.lead.get", {"id": lead_id}
        )

    assert world.counters()["refresh_calls"] == 1
    portal = Portal.objects.get(pk=world.portal.pk)
    assert portal.status == Portal.Status.SUSPENDED_PAYMENT
    with pytest.raises(errors.PaymentRequired):
        portal_client(portal)


def test_a_gateway_page_from_the_auth_server_is_transient_and_keeps_the_tokens(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.set_faults(world.ref, oauth_html_502=1)
    before = _stored(world.portal)

    client = portal_client(world.portal, pacing=FAST_RETRIES)
    with pytest.raises(errors.Transient) as failure:
        client.call("crm.lead.get", {"id": lead_id})

    assert failure.value.status == 502
    assert _stored(world.portal) == before
    assert Portal.objects.get(pk=world.portal.pk).status == Portal.Status.ACTIVE
    # Later, with the auth server back, the same job goes through.
    assert client.call("crm.lead.get", {"id": lead_id})["ID"] == str(lead_id)


def test_the_token_endpoint_comes_from_the_stored_server_endpoint():
    assert (
        oauth.token_url("https://oauth.bitrix24.tech/rest/")
        == "https://oauth.bitrix24.tech/oauth/token/"
    )
    assert (
        oauth.token_url("https://oauth.bitrix.info/rest/")
        == "https://oauth.bitrix.info/oauth/token/"
    )
    assert (
        oauth.token_url("http://127.0.0.1:8001/oauth/rest/")
        == "http://127.0.0.1:8001/oauth/token/"
    )


RECORDED_REFRESH = {
    "access_token": "A2",
    "expires": 1780319382,
    "expires_in": 3600,
    "scope": "app",
    "domain": "oauth.bitrix24.tech",
    "server_endpoint": "https://oauth.bitrix24.tech/rest/",
    "status": "L",
    "client_endpoint": "https://example-portal.bitrix24.ru/rest/",
    "member_id": "m-001",
    "user_id": 67,
    "refresh_token": "R2",
    "some_future_key": {"nested": True},
}


def test_a_token_answer_is_read_leniently_with_expiry_from_expires():
    grant = oauth.TokenGrant.from_response(RECORDED_REFRESH)

    assert grant.access_token == "A2"
    assert grant.refresh_token == "R2"
    assert grant.expires_at == datetime.fromtimestamp(1780319382, tz=UTC)
    assert grant.client_endpoint == "https://example-portal.bitrix24.ru/rest/"
    assert grant.user_id == 67
    assert "A2" not in repr(grant)
    assert "R2" not in repr(grant)


def test_without_expires_the_expiry_is_now_plus_expires_in():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    answer = {k: v for k, v in RECORDED_REFRESH.items() if k != "expires"}

    grant = oauth.TokenGrant.from_response(answer, now=now)

    assert grant.expires_at == datetime(2026, 5, 1, 13, 0, tzinfo=UTC)


def test_a_grant_stores_the_portal_address_the_auth_server_gives(db):
    portal = Portal.objects.create(
        member_id="m-001",
        domain="example-portal.bitrix24.ru",
        client_endpoint="https://old-name.bitrix24.ru/rest/",
        server_endpoint="https://oauth.bitrix24.tech/rest/",
    )

    oauth.store_grant(portal, oauth.TokenGrant.from_response(RECORDED_REFRESH))

    portal.refresh_from_db()
    assert portal.client_endpoint == "https://example-portal.bitrix24.ru/rest/"
    assert (portal.access_token, portal.refresh_token) == ("A2", "R2")
    assert portal.token_user_id == 67


def test_a_grant_for_another_portal_is_refused(db):
    portal = Portal.objects.create(
        member_id="m-002",
        domain="other.bitrix24.ru",
        client_endpoint="https://other.bitrix24.ru/rest/",
        server_endpoint="https://oauth.bitrix24.tech/rest/",
    )

    with pytest.raises(errors.PermanentError):
        oauth.store_grant(portal, oauth.TokenGrant.from_response(RECORDED_REFRESH))


def test_no_secret_reaches_a_log_line_or_an_error_message(sandbox_server, caplog):
    caplog.set_level(logging.DEBUG)
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    old_access, old_refresh, _ = _stored(world.portal)
    world.sandbox.expire_tokens(world.ref)

    portal_client(world.portal, pacing=FAST_RETRIES).call(
        "crm.lead.get", {"id": lead_id}
    )
    new_access, new_refresh, _ = _stored(world.portal)
    with pytest.raises(errors.Transient) as unreachable:
        # A closed port: requests' own message would carry the whole URL.
        oauth.request_token(
            "http://127.0.0.1:9/oauth/rest/",
            {"grant_type": "refresh_token", "refresh_token": new_refresh},
        )

    secrets = [
        settings.B24_CLIENT_SECRET,
        old_access,
        old_refresh,
        new_access,
        new_refresh,
    ]
    assert "oauth/token" in caplog.text  # the request lines were logged…
    for secret in secrets:
        assert secret not in caplog.text  # …without their secrets
        assert secret not in str(unreachable.value)
        assert secret not in repr(unreachable.value.__context__ or "")
    assert unreachable.value.__cause__ is None


def test_refreshing_needs_no_http_library_exception_handling_by_callers(
    sandbox_server,
):
    with pytest.raises(errors.B24Error):
        oauth.request_token(
            sandbox_server.url + "/oauth/rest/",
            {"grant_type": "refresh_token", "refresh_token": "not-a-token"},
        )
    assert issubclass(errors.Transient, errors.B24Error)
    assert not issubclass(errors.B24Error, requests.RequestException)


def test_a_token_rejected_as_unknown_is_retried_once_with_a_newer_stored_one(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    stale = portal_client(world.portal, pacing=FAST_RETRIES)
    # Another worker replaced the stored pair (say, the integrator user was
    # connected) and the old access token no longer exists anywhere.
    grant = world.sandbox.issue_tokens(world.ref, user_id=1)
    portal = Portal.objects.get(pk=world.portal.pk)
    portal.set_tokens(access=grant["access_token"], refresh=grant["refresh_token"])
    portal.save()
    stale.auth._token = "no-such-token"  # type: ignore[attr-defined]
    world.sandbox.reset_counters(world.ref)

    assert stale.call("crm.lead.get", {"id": lead_id})["ID"] == str(lead_id)
    assert world.counters().get("refresh_calls", 0) == 0


def test_the_refresh_goes_to_the_host_of_the_stored_server_endpoint(sandbox_server):
    world = installed_portal(sandbox_server.url)
    lead_id = world.add_leads(1)[0]
    world.sandbox.expire_tokens(world.ref)
    world.sandbox.reset_counters(world.ref)
    Portal.objects.filter(pk=world.portal.pk).update(
        server_endpoint="http://127.0.0.1:9/rest/"
    )
    before = _stored(world.portal)

    with pytest.raises(errors.Transient) as unreachable:
        portal_client(Portal.objects.get(pk=world.portal.pk), pacing=FAST_RETRIES).call(
            "crm.lead.get", {"id": lead_id}
        )

    assert unreachable.value.code == "network_error"
    assert world.counters().get("refresh_calls", 0) == 0
    assert _stored(world.portal) == before

    # Another region's auth server, named the same way: only the origin counts.
    Portal.objects.filter(pk=world.portal.pk).update(
        server_endpoint=f"{sandbox_server.url}/rest/"
    )
    lead = portal_client(
        Portal.objects.get(pk=world.portal.pk), pacing=FAST_RETRIES
    ).call("crm.lead.get", {"id": lead_id})
    assert lead["ID"] == str(lead_id)
    assert world.counters()["refresh_calls"] == 1
