"""Installing through the wizard and ONAPPINSTALL, set-up that duplicates nothing."""

from typing import Any

import pytest
import requests

from integrator import install, setup, tasks
from integrator.models import Portal
from integrator.rest import portal_client
from tests.integrator.conftest import ADMIN, MANAGER

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

PDN_FIELDS = {
    "UF_CRM_PDN_ORIGINAL_PHONE",
    "UF_CRM_PDN_PHONE_HASH",
    "UF_CRM_PDN_CONSENT",
    "UF_CRM_PDN_CONSENT_AT",
    "UF_CRM_PDN_CONSENT_TEXT",
}


def bound_events(portal: Portal) -> list[tuple[str, str]]:
    rows = portal_client(portal).call("event.get")
    return sorted((row["event"].upper(), row["handler"]) for row in rows)


def lead_tabs(portal: Portal) -> list[dict[str, Any]]:
    rows = portal_client(portal).call("placement.get")
    return [row for row in rows if row["placement"] == "CRM_LEAD_DETAIL_TAB"]


def pdn_fields(driver, ref) -> list[str]:
    names = [row["FIELD_NAME"] for row in driver.userfields(ref)]
    return sorted(name for name in names if name.startswith("UF_CRM_PDN_"))


def post_wizard(frame: dict[str, Any], **changes: str) -> requests.Response:
    form = {**frame["form"], **changes}
    return requests.post(frame["url"], data=form, timeout=30)


def test_the_admin_installs_and_the_portal_is_stored_from_the_auth_servers_word(
    salon,
):
    portal = salon.stored()

    assert portal.status == Portal.Status.ACTIVE
    assert portal.client_endpoint == salon.portal.client_endpoint
    assert portal.domain == salon.portal.client_endpoint.split("/")[2]
    assert portal.application_token == salon.portal.application_token
    assert portal.has_tokens
    assert portal.setup_completed_at is not None


def test_the_wizard_binds_events_the_lead_tab_and_the_fields_once(salon):
    portal = salon.stored()
    handler = f"{salon.app_url}/b24/events/"

    assert bound_events(portal) == sorted((e, handler) for e in setup.EVENTS)
    tabs = lead_tabs(portal)
    assert len(tabs) == 1
    assert tabs[0]["handler"] == f"{salon.app_url}/b24/placement/lead-tab/"
    assert tabs[0]["title"] == "PDn Guard"
    assert set(pdn_fields(salon.driver, salon.ref)) == PDN_FIELDS


def test_the_wizard_page_finishes_the_install_only_after_binding(salon):
    page = salon.wizard["wizard"]["body"]

    assert 'data-finish="1"' in page
    assert "/static/integrator/install.js" in page
    assert f"{salon.driver.base_url}/api/v1/" in page
    # The steps are listed as done, in Russian, before the script runs.
    assert page.count("pdn-step--done") == len(setup.STEPS)
    assert "Подписка на события" in page


def test_setting_up_again_duplicates_nothing(salon):
    portal = salon.stored()
    before = (
        bound_events(portal),
        lead_tabs(portal),
        pdn_fields(salon.driver, "salon"),
    )

    report = setup.portal_setup(portal_id=portal.pk)

    assert report.ok
    after = (
        bound_events(portal),
        lead_tabs(portal),
        pdn_fields(salon.driver, salon.ref),
    )
    assert after == before


def test_a_reinstall_binds_again_and_keeps_the_fields_single(salon):
    salon.driver.uninstall(salon.ref, clean=False)
    salon.driver.wait_for_deliveries(salon.ref)
    assert salon.stored().status == Portal.Status.UNINSTALLED

    again = salon.driver.install(salon.ref, user_id=ADMIN)

    assert again["wizard"]["status"] == 200
    portal = salon.stored()
    assert portal.status == Portal.Status.ACTIVE
    assert portal.application_token == again["frame"]["form"]["APPLICATION_TOKEN"]
    assert len(bound_events(portal)) == len(setup.EVENTS)
    assert set(pdn_fields(salon.driver, salon.ref)) == PDN_FIELDS


def test_a_manager_posting_the_wizard_is_refused(salon):
    tab = salon.driver.open_lead_tab(
        salon.ref,
        lead_id=salon.driver.create_lead(salon.ref, {"TITLE": "Запись"}),
        user_id=MANAGER,
    )
    stored = salon.stored().application_token
    wizard = {
        "url": f"{salon.app_url}/b24/install/?{tab.url.split('?', 1)[1]}",
        "form": {
            **tab.form,
            "APPLICATION_TOKEN": "forged-token",
            "PLACEMENT": "DEFAULT",
        },
    }

    response = post_wizard(wizard)

    assert response.status_code == 403
    assert "Установка не удалась" in response.text
    assert salon.stored().application_token == stored


def wizard_only(sandbox, portal):
    """The wizard form of an install whose ONAPPINSTALL is never sent."""
    sandbox.configure_app(install_event_path="")
    return sandbox.install(portal.ref, user_id=ADMIN, post_wizard=False)


def test_a_wizard_post_naming_an_untrusted_auth_server_stores_nothing(
    sandbox, salon_portal
):
    result = wizard_only(sandbox, salon_portal)

    response = post_wizard(
        result["frame"], SERVER_ENDPOINT="https://oauth.evil.example/rest/"
    )

    assert response.status_code == 403
    assert not Portal.objects.filter(member_id=salon_portal.member_id).exists()


def test_a_wizard_post_for_another_portal_is_refused(sandbox, salon_portal):
    result = wizard_only(sandbox, salon_portal)
    other = sandbox.create_portal("clinic")

    response = post_wizard(result["frame"], member_id=other.member_id)

    assert response.status_code == 403
    assert not Portal.objects.filter(member_id=other.member_id).exists()


def test_onappinstall_alone_stores_the_portal_and_queues_setup(
    sandbox, salon_portal, published
):
    sandbox.install(salon_portal.ref, user_id=ADMIN, post_wizard=False)
    deliveries = sandbox.wait_for_deliveries(salon_portal.ref, event="ONAPPINSTALL")

    assert [d["http_status"] for d in deliveries] == [200]
    portal = Portal.objects.get(member_id=salon_portal.member_id)
    assert portal.status == Portal.Status.INSTALLING
    assert portal.client_endpoint == salon_portal.client_endpoint
    assert portal.has_tokens
    assert any(p.task.endswith("run_setup") for p in published)


def test_the_wizard_after_onappinstall_finishes_the_same_portal(sandbox, salon_portal):
    result = sandbox.install(salon_portal.ref, user_id=ADMIN, post_wizard=False)
    sandbox.wait_for_deliveries(salon_portal.ref, event="ONAPPINSTALL")

    response = post_wizard(result["frame"])

    assert response.status_code == 200
    assert 'data-finish="1"' in response.text
    assert Portal.objects.filter(member_id=salon_portal.member_id).count() == 1
    assert Portal.objects.get(member_id=salon_portal.member_id).is_active


def test_a_forged_onappinstall_for_a_new_portal_is_refused(app_server, sandbox):
    body = (
        "event=ONAPPINSTALL&ts=1717000000&data[VERSION]=1&data[INSTALLED]=Y"
        "&auth[member_id]=m-new&auth[application_token]=mine"
        "&auth[access_token]=guess&auth[refresh_token]=guess"
        f"&auth[server_endpoint]={sandbox.base_url}/oauth/rest/"
        "&auth[client_endpoint]=https://attacker.example/rest/"
    )

    response = requests.post(
        f"{app_server.url}/b24/events/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )

    assert response.status_code == 401
    assert not Portal.objects.filter(member_id="m-new").exists()


def test_the_health_check_raises_an_alert_until_install_finish(sandbox, salon_portal):
    sandbox.install(salon_portal.ref, user_id=ADMIN)
    portal = Portal.objects.get(member_id=salon_portal.member_id)

    assert tasks.install_health_check(portal_id=portal.pk) is False
    portal.refresh_from_db()
    assert portal.install_confirmed is False
    assert "installFinish" in portal.status_reason

    sandbox.finish_install(salon_portal.ref)

    assert tasks.install_health_check(portal_id=portal.pk) is True
    portal.refresh_from_db()
    assert portal.install_confirmed is True
    assert portal.status_reason == ""


def test_a_failed_setup_shows_the_error_and_does_not_finish(sandbox, salon_portal):
    sandbox.set_faults(salon_portal.ref, block_methods=["placement.bind"])

    result = sandbox.install(salon_portal.ref, user_id=ADMIN)

    page = result["wizard"]["body"]
    assert 'data-finish="0"' in page
    assert "pdn-step--error" in page
    assert "Установка не завершена" in page
    assert "временно не отвечает" in page
    portal = Portal.objects.get(member_id=salon_portal.member_id)
    assert portal.setup_completed_at is None
    assert portal.status == Portal.Status.INSTALLING


def test_trusted_auth_servers_include_the_sandbox_only_while_it_is_enabled(settings):
    settings.SANDBOX_ENABLED = False
    assert install.trusted_auth_origins() == [
        "https://oauth.bitrix.info",
        "https://oauth.bitrix24.tech",
    ]


def app_update(salon, *, new_token: str, access_token: str) -> requests.Response:
    body = {
        "event": "ONAPPUPDATE",
        "ts": "1717000500",
        "data[VERSION]": "2",
        "data[PREVIOUS_VERSION]": "1",
        "data[LANGUAGE_ID]": "ru",
        "auth[member_id]": salon.portal.member_id,
        "auth[application_token]": new_token,
        "auth[access_token]": access_token,
        "auth[server_endpoint]": f"{salon.driver.base_url}/oauth/rest/",
        "auth[client_endpoint]": salon.portal.client_endpoint,
    }
    return requests.post(f"{salon.app_url}/b24/events/", data=body, timeout=30)


def test_an_update_with_a_new_application_token_is_confirmed_and_stored(
    salon, published
):
    genuine = salon.driver.issue_tokens(salon.ref, user_id=ADMIN)["access_token"]

    response = app_update(salon, new_token="renewed-token", access_token=genuine)

    assert response.status_code == 200
    assert salon.stored().application_token == "renewed-token"
    assert any(p.task.endswith("run_setup") for p in published)


def test_an_update_with_a_new_token_and_a_made_up_access_token_is_refused(
    salon, published
):
    before = salon.stored().application_token

    response = app_update(salon, new_token="attacker-token", access_token="made-up")

    assert response.status_code == 401
    assert salon.stored().application_token == before
    assert not any(p.task.endswith("run_setup") for p in published)


def test_an_update_with_the_stored_token_binds_again(salon, published):
    stored = salon.stored().application_token

    response = app_update(salon, new_token=stored, access_token="")

    assert response.status_code == 200
    assert any(p.task.endswith("run_setup") for p in published)
