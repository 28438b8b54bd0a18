"""Consent in the chat, end to end in Chromium: the client's messenger and the lead tab.

A client writes in the sandbox's open line, the app's bot asks for consent,
the client types «да»; the manager's lead tab shows consent granted with
the text's version; the client withdraws in the chat; the tab shows the
withdrawal and the destruction deadline.
"""

import re
import time

import pytest

from sandbox.driver import SandboxDriver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]

ADMIN = 1


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
    portal = driver.create_portal("clinic")
    result = driver.install(portal.ref, user_id=ADMIN)
    assert result["wizard"]["status"] == 200
    driver.finish_install(portal.ref)
    driver.wait_for_deliveries(portal.ref)
    yield driver, portal
    driver.wait_idle(timeout=10)


def wait_for_text(page, selector: str, pattern: str, *, timeout: float = 30.0) -> str:
    """Reload until an element's text matches (the chat has no live updates)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = page.locator(selector)
        if found.count() and re.search(pattern, found.last.inner_text()):
            return str(found.last.inner_text())
        time.sleep(0.3)
        page.reload()
    raise AssertionError(f"timed out waiting for {pattern!r} in {selector}")


def wait_for_bot_messages(driver, ref: str, chat_id: int, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages = driver.chat_messages(ref, chat_id)
        if len([m for m in messages if m["author"] == "bot"]) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the bot did not write {count} messages")


def test_consent_given_in_chat_and_withdrawn_shows_in_the_lead_tab(installed, page):
    _driver, portal = installed

    # The client writes to the line from their messenger.
    page.goto(f"{portal.base_url}/openlines/?as={ADMIN}")
    page.fill("#client-name", "Анна")
    page.fill("#client-text", "Здравствуйте, хочу записаться на маникюр")
    page.click("#client-send")
    page.wait_for_url("**/openlines/chat/*/")
    request = wait_for_text(page, ".msg-bot", r"Текст согласия")
    assert re.search(r"/consent/\w+/processing/v1/", request)
    # Telegram through this connector draws no keyboards: the client types.
    assert page.locator(".chat-button").count() == 0
    assert page.locator("#no-buttons").is_visible()

    page.fill("#reply-text", "да")
    page.click("#reply-send")
    wait_for_text(page, ".msg-bot", r"согласие записано")
    lead_id = page.locator("#chat-lead").get_attribute("data-lead-id")
    lead_card = f"{portal.base_url}/crm/lead/details/{lead_id}/?tab=app"
    chat_url = page.url

    # The manager opens the lead: the tab shows the consent and its text.
    page.goto(lead_card)
    tab = page.frame_locator("#placement-frame")
    row = tab.locator('.pdn-consent-row[data-purpose="processing"]')
    assert row.get_attribute("data-state") == "granted"
    assert row.locator(".pdn-consent-state").inner_text() == "Дано"
    assert row.locator(".pdn-consent-version").inner_text() == "текст v1"

    # The client withdraws in the chat.
    page.goto(chat_url)
    page.fill("#reply-text", "отзываю согласие")
    page.click("#reply-send")
    wait_for_text(page, ".msg-bot", r"не позднее")

    page.goto(lead_card)
    tab = page.frame_locator("#placement-frame")
    row = tab.locator('.pdn-consent-row[data-purpose="processing"]')
    assert row.get_attribute("data-state") == "withdrawn"
    deadline = row.locator(".pdn-consent-deadline").inner_text()
    assert re.search(r"Уничтожить данные до \d\d\.\d\d\.\d{4}", deadline)


def test_a_manager_records_a_withdrawal_and_the_admin_edits_a_text(installed, page):
    driver, portal = installed
    chat = driver.open_chat(portal.ref, client_name="Олег", buttons_rendered=True)
    chat_id, lead_id = chat["chat_id"], chat["lead_id"]
    wait_for_bot_messages(driver, portal.ref, chat_id, 1)

    # This messenger draws the bot's buttons: the client taps «Да».
    page.goto(f"{portal.base_url}/openlines/chat/{chat_id}/?as={ADMIN}")
    page.locator(".chat-button", has_text="Да").first.click()
    wait_for_text(page, ".msg-bot", r"согласие записано")

    # The client phoned: the manager records the withdrawal in the tab.
    page.goto(f"{portal.base_url}/crm/lead/details/{lead_id}/?tab=app&as={ADMIN}")
    tab = page.frame_locator("#placement-frame")
    row = tab.locator('.pdn-consent-row[data-purpose="processing"]')
    assert row.get_attribute("data-state") == "granted"
    tab.locator("#pdn-withdraw-note").fill("Позвонил и попросил удалить данные")
    tab.locator("#pdn-withdraw").click()
    tab.locator('.pdn-consent-row[data-state="withdrawn"]').wait_for()
    assert "Уничтожить данные до" in tab.locator(".pdn-consent-deadline").inner_text()
    assert tab.locator("#pdn-withdraw-status").inner_text() == "Отзыв записан"

    # The admin names the operator: the text gets a new version.
    page.goto(f"{portal.base_url}/marketplace/app/?as={ADMIN}")
    app = page.frame_locator("#app-frame")
    app.locator('#pdn-operator-form input[name="operator_name"]').fill("ИП Орлова")
    app.locator("#pdn-operator-form button[type=submit]").click()
    version = app.locator('.pdn-text-form[data-purpose="processing"] .pdn-text-version')
    version.filter(has_text="v2").wait_for()
    text = app.locator('.pdn-text-form[data-purpose="processing"] textarea')
    assert "ИП Орлова" in text.input_value()
