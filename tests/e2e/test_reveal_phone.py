"""A manager reveals a client's phone in the lead tab; the auditor sees the entry.

Everything goes through the sandbox portal's own pages in Chromium: the
admin hands out the roles on the app's page, a real worker protects the
phone of a new lead, the manager picks a reason and reveals the number in
the tab's iframe, and the auditor's journal page lists the reveal.
"""

import time

import pytest

from sandbox.driver import SandboxDriver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]

ADMIN, MANAGER, AUDITOR = 1, 2, 3


def wait_for(check, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def installed(app_server, sandbox_server, celery_worker):
    driver = SandboxDriver(sandbox_server.url)
    driver.reset()
    driver.configure_app(
        base_url=app_server.url,
        install_path="/b24/install/",
        install_event_path="/b24/events/",
        app_path="/b24/app/",
    )
    portal = driver.create_portal("salon")
    assert driver.install(portal.ref, user_id=ADMIN)["wizard"]["status"] == 200
    driver.finish_install(portal.ref)
    driver.wait_for_deliveries(portal.ref)
    yield driver, driver.portal(portal.ref)
    driver.wait_idle(timeout=10)


def grant(page, base_url: str, role: str, user_id: int) -> None:
    page.goto(f"{base_url}/marketplace/app/?as={ADMIN}")
    app = page.frame_locator("#app-frame")
    app.locator("#pdn-role-name").select_option(role)
    app.locator("#pdn-role-kind").select_option("user")
    app.locator("#pdn-role-target").fill(str(user_id))
    app.locator("#pdn-role-save").click()
    app.locator(
        f'#pdn-role-table tr[data-role="{role}"][data-user="{user_id}"]'
    ).wait_for()


def test_a_manager_reveals_the_phone_and_the_auditor_sees_it(installed, page):
    driver, portal = installed
    grant(page, portal.base_url, "revealer", MANAGER)
    grant(page, portal.base_url, "auditor", AUDITOR)
    lead_id = driver.create_lead(
        portal.ref,
        {
            "TITLE": "Окрашивание в пятницу",
            "PHONE": [{"VALUE": "8 (928) 111-22-33", "VALUE_TYPE": "MOBILE"}],
        },
        user_id=MANAGER,
    )
    wait_for(
        lambda: (
            driver.lead(portal.ref, lead_id)["PHONE"][0]["VALUE"] == "+7 928 ***-**-33"
        ),
        what="the worker to mask the phone",
    )

    # The manager opens the tab, picks a reason and reveals the number.
    page.goto(f"{portal.base_url}/crm/lead/details/{lead_id}/?tab=app&as={MANAGER}")
    tab = page.frame_locator("#placement-frame")
    tab.locator('#pdn-phones[data-loaded="1"]').wait_for()
    assert tab.locator(".pdn-phone__value").inner_text() == "+7 928 ***-**-33"
    tab.locator("#pdn-reveal-reason").select_option("callback")
    tab.locator(".pdn-reveal").click()
    opened = tab.locator(".pdn-phone__value--open")
    opened.wait_for()
    assert opened.inner_text() == "+7 928 111-22-33"
    assert "скроется через" in tab.locator(".pdn-reveal").text_content()

    # The auditor opens the app from the portal's menu: the journal page.
    page.goto(f"{portal.base_url}/marketplace/app/?as={AUDITOR}")
    journal = page.frame_locator("#app-frame")
    row = journal.locator(
        f'.pdn-journal-row[data-action="lead.phone.revealed"]'
        f'[data-subject="lead#{lead_id}"]'
    )
    row.wait_for()
    assert "Телефон показан" in row.inner_text()
    assert row.get_attribute("data-ok") == "1"
    assert "111-22-33" not in journal.locator("#pdn-journal").inner_text()
