import json

from aigateway.consent_gate import client_block
from compliance.journal import verify_chain
from compliance.models import JournalEntry
from tests.aigateway.conftest import ADMIN

NAME = "Анна Смирнова"
PHONE = "+7 912 345-67-89"
PASSPORT = "4510 123456"
CHAT = f"Я {NAME}, телефон {PHONE}, паспорт {PASSPORT}. Мама — Мария Смирнова."
SECRETS = [NAME, "Анна", "Смирнова", "Мария", PHONE, "912", "345", "4510", "123456"]


def entries(portal, prefix="ai.request."):
    return list(
        JournalEntry.objects.filter(portal=portal, action__startswith=prefix).order_by(
            "seq"
        )
    )


def row_text(entry):
    return " ".join(
        str(getattr(entry, f.attname)) for f in JournalEntry._meta.concrete_fields
    )


def test_each_call_is_journaled_with_counts_and_no_content(gateway, stub, portal):
    gateway.ask(CHAT, dialog="chat-1", client="lead:1043")

    sent, answered = entries(portal)
    assert (sent.action, answered.action) == ("ai.request.sent", "ai.request.answered")
    assert sent.subject == answered.subject == "lead#1043"
    assert sent.actor_kind == "api"
    details = json.loads(sent.details)
    assert details["vendor"] == "stub"
    assert details["country"] == "ru"
    assert details["found_person"] == 2
    assert details["found_phone"] == 1
    assert details["found_passport"] == 1
    assert details["messages"] == 1
    assert details["dialog"] is True
    timing = json.loads(answered.details)
    assert timing["vendor"] == "stub"
    assert {"prepare_ms", "upstream_ms", "total_ms"} <= set(timing)
    assert timing["total_ms"] >= timing["upstream_ms"] >= 0
    for entry in (sent, answered):
        for value in SECRETS:
            assert value not in row_text(entry)
    assert verify_chain(portal).ok


def test_a_streamed_call_is_journaled_when_the_stream_ends(gateway, stub, portal):
    body = {
        "model": "assistant",
        "stream": True,
        "messages": [{"role": "user", "content": CHAT}],
    }
    response = gateway.post(body, stream=True)
    assert response.content.endswith(b"data: [DONE]\n\n")

    sent, answered = entries(portal)
    assert json.loads(sent.details)["stream"] is True
    details = json.loads(answered.details)
    assert answered.action == "ai.request.answered"
    assert details["chunks"] > 3
    for value in SECRETS:
        assert value not in row_text(answered)


def test_a_vendor_failure_is_journaled_as_failed(gateway, stub, portal):
    gateway.ask(CHAT, model="assistant-broken")

    sent, failed = entries(portal)
    assert sent.action == "ai.request.sent"
    assert failed.action == "ai.request.failed"
    assert json.loads(failed.details)["error"] == "upstream_status_500"


def test_legal_refusals_are_journaled_and_nothing_is_sent(gateway, stub, portal):
    client_block(portal=portal, client_ref="lead:1043", actor=ADMIN)

    gateway.ask(CHAT, client="lead:1043")

    [refused] = entries(portal)
    assert refused.action == "ai.request.refused"
    assert refused.subject == "lead#1043"
    assert json.loads(refused.details)["reason"] == "consent_withdrawn"
    assert stub.received == []


def test_the_yandex_no_logging_header_is_recorded(gateway, stub, portal, upstream):
    upstream.is_yandex = True
    upstream.save()

    gateway.ask("Привет")

    assert json.loads(entries(portal)[0].details)["yandex_logging_off"] is True


def test_malformed_requests_leave_no_entry(gateway, stub, portal):
    gateway.post({"model": "assistant", "messages": "Анна Смирнова"})

    assert entries(portal) == []
