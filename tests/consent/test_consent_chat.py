"""The consent bot in the sandbox's open line: real events, a real worker, real REST.

A client writes through the sandbox (as a messenger would), the open line
creates and binds a lead, the bot hears ONIMBOTJOINCHAT and ONIMBOTMESSAGEADD
with the v1 payload, and answers with imbot.message.add.
"""

import time
from typing import Any

import pytest
import requests

from compliance.consent import ledger
from compliance.consent.models import ChatTurn, ConsentEvent
from integrator import setup
from integrator.models import Portal
from sandbox.driver import SandboxDriver

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]


def wait_for(check, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def bot_messages(driver: SandboxDriver, ref: str, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in driver.chat_messages(ref, chat_id) if m["author"] == "bot"]


def wait_for_bot(driver, ref, chat_id, count, what):
    return wait_for(
        lambda: (
            (found := bot_messages(driver, ref, chat_id))
            and len(found) >= count
            and found
        ),
        what=what,
    )


@pytest.fixture
def line(salon, celery_worker):
    return salon


def stored(line) -> Portal:
    return Portal.objects.get(member_id=line.portal.member_id)


def test_a_client_is_asked_once_answers_yes_and_later_withdraws(line):
    driver, ref = line.driver, line.ref
    portal = stored(line)

    chat = driver.open_chat(ref, client_name="Анна")
    chat_id, lead_id = chat["chat_id"], chat["lead_id"]
    (request,) = wait_for_bot(driver, ref, chat_id, 1, "the consent request")

    assert "/consent/" in request["text"] and "/processing/v1/" in request["text"]
    assert [b["TEXT"] for b in request["keyboard"]] == ["Да", "Нет"]
    assert driver.lead(ref, lead_id)["IM"][0]["VALUE"].startswith("imol|telegrambot|")

    driver.client_writes(ref, chat_id, "да")
    confirm = wait_for_bot(driver, ref, chat_id, 2, "the confirmation")[-1]
    assert "согласие записано" in confirm["text"]
    assert (
        ledger.client_status(
            portal=portal, client_ref=f"lead:{lead_id}", purpose="processing"
        )
        == "granted"
    )
    wait_for(
        lambda: driver.lead(ref, lead_id).get("UF_CRM_PDN_CONSENT") == "Y",
        what="the lead field",
    )

    driver.client_writes(ref, chat_id, "Отзываю согласие")
    withdrawn = wait_for_bot(driver, ref, chat_id, 3, "the withdrawal reply")[-1]
    assert "не позднее" in withdrawn["text"]
    (record,) = ledger.withdrawn_leads(portal)
    assert record.lead_id == lead_id
    wait_for(
        lambda: driver.lead(ref, lead_id).get("UF_CRM_PDN_CONSENT") == "N",
        what="the lead field to say no",
    )

    # The bot heard its own three messages and answered none of them.
    own = ChatTurn.objects.filter(portal=portal, outcome="own")
    wait_for(lambda: own.count() == 3, what="the bot's own messages to be ignored")
    assert len(bot_messages(driver, ref, chat_id)) == 3
    assert ConsentEvent.objects.filter(portal=portal, kind="requested").count() == 1


def test_operators_and_system_notices_get_no_answer(line):
    driver, ref = line.driver, line.ref
    portal = stored(line)
    chat_id = driver.open_chat(ref, client_name="Олег")["chat_id"]
    wait_for_bot(driver, ref, chat_id, 1, "the consent request")

    driver.operator_writes(ref, chat_id, "Да, конечно, запишем", user_id=1)
    driver.client_writes(ref, chat_id, "даже не знаю")
    wait_for_bot(driver, ref, chat_id, 2, "the second question")
    driver.client_writes(ref, chat_id, "может быть")

    wait_for(lambda: driver.chat(ref, chat_id)["operator_mode"], what="the hand-over")
    wait_for(
        lambda: ChatTurn.objects.filter(portal=portal, outcome="system").exists(),
        what="the system notice to arrive",
    )
    assert ChatTurn.objects.filter(portal=portal, outcome="operator").count() == 1
    assert not ConsentEvent.objects.filter(portal=portal, answer="yes").exists()


def test_a_messenger_without_buttons_still_takes_a_typed_answer(line):
    driver, ref = line.driver, line.ref
    chat = driver.open_chat(ref, client_name="Ира", connector="whatsappbyedna")
    chat_id = chat["chat_id"]
    wait_for_bot(driver, ref, chat_id, 1, "the consent request")

    driver.client_writes(ref, chat_id, "Согласна")
    wait_for_bot(driver, ref, chat_id, 2, "the confirmation")

    assert driver.chat(ref, chat_id)["buttons_rendered"] is False
    answer = ConsentEvent.objects.get(kind="answered")
    assert (answer.answer, answer.channel) == ("yes", "whatsapp")


def test_a_repeated_delivery_is_processed_once(line):
    driver, ref = line.driver, line.ref
    portal = stored(line)
    chat_id = driver.open_chat(ref, client_name="Пётр")["chat_id"]
    wait_for_bot(driver, ref, chat_id, 1, "the consent request")

    driver.set_faults(ref, event_duplicate=1)
    driver.client_writes(ref, chat_id, "Да, согласен")
    wait_for_bot(driver, ref, chat_id, 2, "the confirmation")
    driver.wait_for_deliveries(ref)
    time.sleep(1.0)

    assert ConsentEvent.objects.filter(portal=portal, kind="answered").count() == 1
    assert len(bot_messages(driver, ref, chat_id)) == 2


def test_a_forged_bot_event_is_refused(line, app_server):
    body = {
        "event": "ONIMBOTMESSAGEADD",
        "data[BOT][567][BOT_ID]": "567",
        "data[PARAMS][MESSAGE]": "Да",
        "data[PARAMS][MESSAGE_ID]": "1",
        "auth[member_id]": line.portal.member_id,
        "auth[application_token]": "forged",
    }

    response = requests.post(f"{app_server.url}/b24/bot/", data=body, timeout=10)

    assert response.status_code == 401
    assert not ChatTurn.objects.exists()


def test_the_bot_is_registered_once_however_often_setup_runs(salon):
    portal = stored(salon)
    first = setup.portal_setup(portal_id=portal.pk)
    second = setup.portal_setup(portal_id=portal.pk)

    listed = portal_bots(salon)
    assert first.ok and second.ok
    assert [b["CODE"] for b in listed] == ["pdn_guard_consent"]
    assert listed[0]["OPENLINE"] == "Y"


def portal_bots(salon) -> list[dict[str, Any]]:
    from integrator.rest import portal_client

    found = portal_client(stored(salon)).call("imbot.bot.list")
    return list(found.values()) if isinstance(found, dict) else []
