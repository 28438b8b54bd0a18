"""From the marketplace to a processed event, through the sandbox's own pages.

The admin installs PDn Guard in the sandbox portal's UI (the wizard runs in
its iframe and calls BX24.installFinish), opens a lead and reads the app's
tab in its iframe, edits the lead, and a real Celery worker processes the
event the portal sends.
"""

import time

import pytest

from integrator.models import EventDelivery, Portal
from sandbox.driver import SandboxDriver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]

ADMIN = 1


def wait_for(check, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def portal_ui(app_server, sandbox_server, celery_worker):
    driver = SandboxDriver(sandbox_server.url)
    driver.reset()
    driver.configure_app(
        base_url=app_server.url,
        install_path="/b24/install/",
        install_event_path="/b24/events/",
        app_path="/b24/app/",
    )
    portal = driver.create_portal("salon")
    yield driver, portal
    driver.wait_idle(timeout=10)


def test_the_admin_installs_opens_the_tab_and_an_edit_is_processed(portal_ui, page):
    driver, portal = portal_ui
    lead_id = driver.create_lead(
        portal.ref,
        {
            "TITLE": "Стрижка в субботу",
            "PHONE": [
                {"VALUE": "+7 (928) 111-22-33", "VALUE_TYPE": "MOBILE"},
                {"VALUE": "89281112233", "VALUE_TYPE": "WORK"},
            ],
        },
    )

    # The admin installs from the portal's app page.
    page.goto(f"{portal.base_url}/marketplace/?as={ADMIN}")
    page.click("#install-app")
    wizard = page.frame_locator("#install-frame")
    wizard.locator('#pdn-install-status[data-state="finished"]').wait_for()
    assert "Установка завершена" in wizard.locator("#pdn-install-status").inner_text()
    page.locator('#install-status[data-installed="1"]').wait_for()
    stored = Portal.objects.get(member_id=portal.member_id)
    assert stored.status == Portal.Status.ACTIVE

    # The app's own page, from the portal's menu, for the admin.
    page.goto(f"{portal.base_url}/marketplace/app/")
    app_page = page.frame_locator("#app-frame")
    app_page.locator('#pdn-portal-status[data-status="active"]').wait_for()
    assert app_page.locator("#pdn-setup-state").get_attribute("data-done") == "1"

    # A manager's view of the lead: the tab shows the lead as the app sees it.
    page.goto(f"{portal.base_url}/crm/lead/details/{lead_id}/?tab=app")
    tab = page.frame_locator("#placement-frame")
    assert tab.locator("#pdn-lead-title").inner_text() == "Стрижка в субботу"
    assert tab.locator("#pdn-phone-count").inner_text() == "1"
    assert "Согласие на обработку" in tab.locator("#pdn-consent").inner_text()

    # The tab refreshes itself with its signed token, no cookie.
    tab.locator("#pdn-refresh").click()
    tab.locator('body[data-refreshed="1"]').wait_for()

    # An edit in the portal's UI reaches the app as an event, processed once.
    page.goto(f"{portal.base_url}/crm/lead/edit/{lead_id}/")
    page.fill("#edit-title", "Стрижка и окрашивание")
    page.click("#lead-save")
    page.wait_for_url(f"**/crm/lead/details/{lead_id}/")

    delivery = wait_for(
        lambda: EventDelivery.objects.filter(
            portal=stored,
            event="ONCRMLEADUPDATE",
            entity_id=lead_id,
            processed_at__isnull=False,
        ).first(),
        what="the lead update to be processed by the worker",
    )
    assert delivery.outcome == EventDelivery.Outcome.DONE
    # The edit, then the app's own write masking the lead's phone (made
    # before install, so first protected now); its echo changes nothing.
    sent = driver.wait_for_deliveries(portal.ref, event="ONCRMLEADUPDATE", count=2)
    assert [row["http_status"] for row in sent] == [200, 200]


def test_a_duplicated_event_is_processed_once_by_the_worker(portal_ui):
    driver, portal = portal_ui
    result = driver.install(portal.ref, user_id=ADMIN)
    assert result["wizard"]["status"] == 200
    driver.finish_install(portal.ref)
    lead_id = driver.create_lead(portal.ref, {"TITLE": "Консультация"})
    driver.wait_for_deliveries(portal.ref)
    driver.set_faults(portal.ref, event_duplicate=1)

    driver.update_lead(portal.ref, lead_id, {"TITLE": "Консультация врача"})

    sent = driver.wait_for_deliveries(portal.ref, event="ONCRMLEADUPDATE", count=2)
    assert [row["http_status"] for row in sent] == [200, 200]
    stored = Portal.objects.get(member_id=portal.member_id)
    deliveries = EventDelivery.objects.filter(
        portal=stored, event="ONCRMLEADUPDATE", entity_id=lead_id
    )
    delivery = wait_for(
        lambda: deliveries.filter(processed_at__isnull=False).first(),
        what="the duplicated update to be processed",
    )
    assert deliveries.count() == 1
    assert delivery.attempts == 1


def test_a_lead_deleted_in_the_portal_is_recorded_as_gone(portal_ui):
    driver, portal = portal_ui
    driver.install(portal.ref, user_id=ADMIN)
    driver.finish_install(portal.ref)
    lead_id = driver.create_lead(portal.ref, {"TITLE": "Ошибочная заявка"})

    driver.delete_lead(portal.ref, lead_id)

    stored = Portal.objects.get(member_id=portal.member_id)
    delivery = wait_for(
        lambda: EventDelivery.objects.filter(
            portal=stored,
            event="ONCRMLEADDELETE",
            entity_id=lead_id,
            processed_at__isnull=False,
        ).first(),
        what="the delete to be processed",
    )
    assert delivery.outcome == EventDelivery.Outcome.GONE


def test_uninstall_with_clean_purges_the_local_data_in_the_worker(portal_ui):
    driver, portal = portal_ui
    driver.install(portal.ref, user_id=ADMIN)
    driver.finish_install(portal.ref)
    lead_id = driver.create_lead(portal.ref, {"TITLE": "Будет удалено"})
    driver.wait_for_deliveries(portal.ref)

    driver.uninstall(portal.ref, clean=True)

    stored = wait_for(
        lambda: Portal.objects.filter(
            member_id=portal.member_id, purged_at__isnull=False
        ).first(),
        what="the purge to run",
    )
    assert stored.status == Portal.Status.UNINSTALLED
    assert (stored.access_token, stored.refresh_token) == ("", "")
    assert not EventDelivery.objects.filter(portal=stored, entity_id=lead_id).exists()
