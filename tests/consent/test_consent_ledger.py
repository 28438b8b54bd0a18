import hashlib

import pytest
from django.db import DatabaseError, connection, transaction

from compliance.consent import documents, ledger
from compliance.consent.models import ConsentEvent, ConsentStatus, FrozenError
from compliance.journal import Actor
from compliance.models import JournalEntry
from tests.consent.conftest import (
    ADMIN,
    BOT_ID,
    CLIENT,
    LEAD,
    TELEGRAM_CHAT,
    ask,
    reply,
)

pytestmark = pytest.mark.django_db

State = ConsentStatus.State


def test_a_yes_after_the_request_grants_with_every_piece_of_evidence(
    portal, salon_settings
):
    request = ask(portal, message_id=90001)

    answered = reply(portal, "Да, согласен", message_id=90002)

    event = answered.event
    document = documents.document_current(portal=portal, purpose="processing")
    assert answered.created and answered.status.state == State.GRANTED
    assert (event.kind, event.answer, event.status_after) == (
        "answered",
        "yes",
        "granted",
    )
    assert (event.document_version, event.document_sha256) == (1, document.sha256)
    assert (event.channel, event.connector_id, event.line_id) == (
        "telegram",
        "telegrambot",
        22,
    )
    assert (event.chat_id, event.dialog_id, event.message_id) == (
        3301,
        "chat3301",
        90002,
    )
    assert event.lead_id == LEAD and event.asked_by_bot_id == BOT_ID
    assert event.reply == "Да, согласен"
    assert event.unseal(event.channel_ref_sealed) == "telegrambot|22|1775|599"
    assert request.kind == "requested" and request.message_id == 90001
    assert answered.status.granted_at is not None


def test_the_raw_reply_is_stored_sealed_only(portal, salon_settings):
    ask(portal)
    reply(portal, "Да, согласна. Анна Смирнова", message_id=90002)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reply_sealed, channel_ref_sealed FROM consent_consentevent"
        )
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)

    assert "Анна" not in stored and "согласна" not in stored
    assert "1775|599" not in stored


def test_c15_a_the_consent_is_stored_once_and_journaled_without_text(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "Да, согласен", message_id=90002)

    entries = JournalEntry.objects.filter(portal=portal, action__startswith="consent.")
    actions = list(entries.order_by("seq").values_list("action", flat=True))
    answered = entries.get(action="consent.answered")

    assert actions == [
        "consent.document.published",
        "consent.requested",
        "consent.answered",
    ]
    assert answered.subject == "lead#1209"
    assert '"status":"granted"' in answered.details
    assert '"version":1' in answered.details
    assert "согласен" not in answered.details.lower()
    assert ConsentEvent.objects.filter(kind="answered").count() == 1


def test_c15_f_a_repeated_message_is_processed_once(portal, salon_settings):
    ask(portal)

    first = reply(portal, "Да, согласен", message_id=90002)
    second = reply(portal, "Да, согласен", message_id=90002)

    assert first.created and not second.created
    assert second.event.pk == first.event.pk
    assert ConsentEvent.objects.filter(kind="answered").count() == 1
    assert JournalEntry.objects.filter(action="consent.answered").count() == 1


@pytest.mark.parametrize(
    ("text", "state", "answer"),
    [
        ("ну да", State.GRANTED, "yes"),
        ("ДА!", State.GRANTED, "yes"),
        ("согласна", State.GRANTED, "yes"),
        ("не согласна", State.DENIED, "no"),
        ("Нет", State.DENIED, "no"),
        ("[b]Анна Смирнова:[/b][br]нет, не согласна", State.DENIED, "no"),
        ("да, но не звоните мне", State.PENDING, "unclear"),
        ("даже не знаю", State.PENDING, "unclear"),
    ],
)
def test_c15_e_free_form_answers_never_default_to_yes(
    portal, salon_settings, text, state, answer
):
    ask(portal)

    answered = reply(portal, text, message_id=90002)

    assert answered.status.state == state
    assert answered.event.answer == answer
    assert answered.event.reply == text


def test_an_unclear_answer_is_counted_and_a_later_yes_still_grants(
    portal, salon_settings
):
    ask(portal)

    unclear = reply(portal, "даже не знаю", message_id=90002)
    granted = reply(portal, "да", message_id=90003)

    assert unclear.status.unclear_answers == 1
    assert granted.status.state == State.GRANTED


def test_a_refusal_is_kept_as_evidence_too(portal, salon_settings):
    ask(portal)
    reply(portal, "Нет", message_id=90002)

    refusal = ConsentEvent.objects.get(kind="answered")
    assert refusal.status_after == "denied"
    assert refusal.reply == "Нет"
    assert ledger.client_status(
        portal=portal, client_ref=CLIENT, purpose="processing"
    ) == ("denied")


def test_an_answer_binds_to_the_text_the_client_was_shown(portal, salon_settings):
    shown = documents.document_current(portal=portal, purpose="processing")
    ask(portal)
    newer, _ = documents.document_publish(
        portal=portal, purpose="processing", text=shown.text + "\nПравка.", actor=ADMIN
    )

    answered = reply(portal, "да", message_id=90002)

    assert newer.version == 2
    assert answered.event.document == shown
    assert answered.event.document_version == 1


def test_without_a_request_a_yes_is_no_consent(portal, salon_settings):
    with pytest.raises(ledger.LedgerError, match="no consent request"):
        reply(portal, "да", message_id=90002)

    assert not ConsentEvent.objects.exists()


def test_the_client_is_asked_once(portal, salon_settings):
    assert ledger.needs_request(portal=portal, client_ref=CLIENT, purpose="processing")
    ask(portal)

    assert not ledger.needs_request(
        portal=portal, client_ref=CLIENT, purpose="processing"
    )
    reply(portal, "нет", message_id=90002)
    assert not ledger.needs_request(
        portal=portal, client_ref=CLIENT, purpose="processing"
    )


def test_purposes_are_separate_consents(portal, salon_settings):
    documents.settings_update(portal=portal, actor=ADMIN, marketing=True)
    ask(portal, "processing", message_id=90001)
    ask(portal, "marketing", message_id=90003)

    reply(portal, "да", message_id=90002, purpose="processing")
    reply(portal, "нет", message_id=90004, purpose="marketing")

    statuses = ledger.lead_statuses(portal=portal, lead_id=LEAD)
    assert statuses["processing"].state == State.GRANTED
    assert statuses["marketing"].state == State.DENIED


def test_ledger_events_never_change_or_vanish(portal, salon_settings):
    event = ask(portal)

    with pytest.raises(FrozenError):
        event.save()
    with pytest.raises(FrozenError):
        event.delete()
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(status_after="granted")


def test_bad_references_are_refused_before_anything_is_written(portal, salon_settings):
    with pytest.raises(ledger.LedgerError, match="client_ref"):
        ledger.consent_request(
            portal=portal,
            client_ref="Анна",
            lead_id=None,
            purpose="processing",
            place=TELEGRAM_CHAT,
        )
    with pytest.raises(ledger.LedgerError, match="unknown purpose"):
        ledger.consent_request(
            portal=portal,
            client_ref=CLIENT,
            lead_id=LEAD,
            purpose="profiling",
            place=TELEGRAM_CHAT,
        )
    assert not ConsentEvent.objects.exists()


def test_another_portals_ledger_is_its_own(portal, make_portal, salon_settings):
    other = make_portal()
    ask(portal)
    reply(portal, "да", message_id=90002)

    assert ledger.lead_statuses(portal=other, lead_id=LEAD) == {}
    assert ledger.lead_history(portal=other, lead_id=LEAD) == []


@pytest.mark.parametrize(
    ("connector", "channel"),
    [
        ("telegrambot", "telegram"),
        ("whatsappbyedna", "whatsapp"),
        ("fbinstagramdirect", "instagram"),
        ("livechat", "site"),
        ("vkgroup", "other"),
    ],
)
def test_the_channel_comes_from_the_connector_id(connector, channel):
    assert ledger.channel_of(connector) == channel


def test_history_lists_requests_answers_in_order(portal, salon_settings):
    ask(portal)
    reply(portal, "даже не знаю", message_id=90002)
    reply(portal, "да", message_id=90003)

    history = ledger.lead_history(portal=portal, lead_id=LEAD)

    assert [(e.kind, e.status_after) for e in history] == [
        ("requested", "pending"),
        ("answered", "pending"),
        ("answered", "granted"),
    ]


def test_the_evidence_reads_whole_and_the_reading_is_journaled(portal, salon_settings):
    ask(portal)
    reply(portal, "Да, согласен", message_id=90002)
    auditor = Actor.user(9, "auditor")

    evidence = ledger.evidence_read(portal=portal, lead_id=LEAD, actor=auditor)

    request, answer = evidence
    assert request["kind"] == "requested" and request["asked_by_bot_id"] == BOT_ID
    assert answer["reply"] == "Да, согласен"
    assert answer["channel_ref"] == "telegrambot|22|1775|599"
    assert (
        answer["document_sha256"]
        == hashlib.sha256(answer["document_text"].encode()).hexdigest()
    )
    assert answer["operator"]["name"] == "ИП Смирнова Анна Сергеевна"
    assert answer["processors"][0]["name"] == "ООО «Облако»"
    entry = JournalEntry.objects.get(action="consent.evidence.read")
    assert (entry.actor_user_id, entry.actor_role) == (9, "auditor")
    assert "согласен" not in entry.details
