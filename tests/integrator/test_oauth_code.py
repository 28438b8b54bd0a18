"""Connecting the integrator user with the authorization-code grant."""

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from integrator import errors, oauth
from integrator.models import Portal
from integrator.rest import portal_client
from tests.integrator.rest_support import FAST_RETRIES, NO_APP, installed_portal

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

REDIRECT = f"{NO_APP}/b24/oauth/callback/"


def _consent(url: str, *, as_user: int) -> str:
    """What the admin's browser does: open the consent page, follow to the app."""
    response = requests.get(
        url, cookies={"sb_user": str(as_user)}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_the_consent_page_is_on_the_portal_with_our_client_id_and_state(
    sandbox_server, settings
):
    world = installed_portal(sandbox_server.url)

    url = oauth.authorization_url(world.portal, REDIRECT, "s-123")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{world.info.base_url}/oauth/authorize/"
    )
    query = dict(parse_qsl(parts.query))
    assert query["client_id"] == settings.B24_CLIENT_ID
    assert query["state"] == "s-123"
    assert query["redirect_uri"] == REDIRECT
    assert "client_secret" not in query


def test_the_integrator_users_tokens_take_over_background_work(sandbox_server):
    world = installed_portal(sandbox_server.url)
    integrator = world.sandbox.add_user(world.ref, name="Интегратор", crm_access="all")
    url = oauth.authorization_url(world.portal, REDIRECT, "s-456")
    callback = _consent(url, as_user=integrator)

    portal = oauth.exchange_callback(
        world.portal, callback, state="s-456", redirect_uri=REDIRECT
    )

    assert portal.token_user_id == integrator
    assert portal.token_version == world.portal.token_version + 1
    client = portal_client(Portal.objects.get(pk=portal.pk), pacing=FAST_RETRIES)
    assert client.call("profile")["ID"] == str(integrator)


def test_a_callback_with_a_foreign_state_is_refused_and_changes_nothing(
    sandbox_server,
):
    world = installed_portal(sandbox_server.url)
    callback = _consent(
        oauth.authorization_url(world.portal, REDIRECT, "forged"), as_user=1
    )
    before = Portal.objects.get(pk=world.portal.pk).token_version

    with pytest.raises(oauth.StateMismatch):
        oauth.exchange_callback(
            world.portal, callback, state="the-one-we-sent", redirect_uri=REDIRECT
        )

    assert Portal.objects.get(pk=world.portal.pk).token_version == before


def test_a_code_is_good_for_one_exchange_only(sandbox_server):
    world = installed_portal(sandbox_server.url)
    callback = _consent(oauth.authorization_url(world.portal, REDIRECT, "s"), as_user=1)
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    oauth.exchange_code(world.portal, code)

    with pytest.raises(errors.ReauthRequired) as reused:
        oauth.exchange_code(world.portal, code)

    assert reused.value.code == "invalid_grant"


def test_reconnecting_revives_a_portal_waiting_for_reauthorisation(sandbox_server):
    world = installed_portal(sandbox_server.url)
    Portal.objects.filter(pk=world.portal.pk).update(
        status=Portal.Status.REAUTH_REQUIRED, status_reason="invalid_grant"
    )
    callback = _consent(oauth.authorization_url(world.portal, REDIRECT, "s"), as_user=1)

    portal = oauth.exchange_callback(
        world.portal, callback, state="s", redirect_uri=REDIRECT
    )

    assert portal.status == Portal.Status.ACTIVE
    assert portal.status_reason == ""
