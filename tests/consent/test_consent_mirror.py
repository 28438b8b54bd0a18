"""The lead shows its consent: three fields and timeline notes, written by a worker."""

import time
from datetime import UTC, datetime

import pytest
import time_machine

from compliance.consent import documents, ledger, mirror
from compliance.consent.ledger import MANAGER_PLACE, ChatPlace
from compliance.consent.models import Channel, ConsentEvent, LeadMirror
from compliance.consent.tasks import lead_mirror
from sandbox.models import TimelineComment
from tests.consent.conftest import ADMIN, BOT_ID, MANAGER_ID

LIVE = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
NOW = datetime(2026, 12, 3, 13, 30, tzinfo=UTC)
CHAT = ChatPlace(channel=Channel.WHATSAPP, connector_id="whatsappbyedna", chat_id=41)


def wait_for(check, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def consent_given(portal, lead_id: int, *, first_message: int = 500):
    client_ref = f"lead:{lead_id}"
    ledger.consent_request(
        portal=portal,
        client_ref=client_ref,
        lead_id=lead_id,
        purpose="processing",
        place=CHAT,
        message_id=first_message,
        bot_id=BOT_ID,
    )
    return ledger.consent_answer(
        portal=portal,
        client_ref=client_ref,
        lead_id=lead_id,
        purpose="processing",
        reply="Да",
        place=CHAT,
        message_id=first_message + 1,
    )


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_granted_consent_fills_the_three_lead_fields(portal):
    answered = consent_given(portal, 31)

    fields = mirror.lead_fields(ledger.lead_statuses(portal=portal, lead_id=31))

    document = answered.event.document
    assert fields == {
        "UF_CRM_PDN_CONSENT": "Y",
        "UF_CRM_PDN_CONSENT_AT": "2026-12-03T16:30:00+03:00",
        "UF_CRM_PDN_CONSENT_TEXT": f"processing v1 sha256:{document.sha256}",
    }


@pytest.mark.django_db
def test_a_lead_never_asked_has_empty_fields_and_a_withdrawn_one_says_no(portal):
    assert mirror.lead_fields({}) == {
        "UF_CRM_PDN_CONSENT": "",
        "UF_CRM_PDN_CONSENT_AT": "",
        "UF_CRM_PDN_CONSENT_TEXT": "",
    }
    consent_given(portal, 32)
    ledger.consent_withdraw(
        portal=portal,
        client_ref="lead:32",
        lead_id=32,
        place=MANAGER_PLACE,
        manager_user_id=MANAGER_ID,
    )

    fields = mirror.lead_fields(ledger.lead_statuses(portal=portal, lead_id=32))

    assert fields["UF_CRM_PDN_CONSENT"] == "N"


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_timeline_note_is_russian_and_holds_no_reply_text(portal):
    answered = consent_given(portal, 33)
    (withdrawn,) = ledger.consent_withdraw(
        portal=portal,
        client_ref="lead:33",
        lead_id=33,
        place=MANAGER_PLACE,
        manager_user_id=MANAGER_ID,
        note="звонок клиента",
    )

    granted_note = mirror.timeline_comment(answered.event)
    withdrawn_note = mirror.timeline_comment(withdrawn)

    assert granted_note.startswith("PDn Guard. Клиент дал согласие.")
    assert "Цель: Запись и напоминания." in granted_note
    assert f"SHA-256 {answered.event.document_sha256}" in granted_note
    assert "Канал: WhatsApp. Время: 03.12.2026 16:30 (МСК)." in granted_note
    assert "Согласие отозвано" in withdrawn_note
    assert "не позднее 02.01.2027" in withdrawn_note
    assert f"сотрудник с ID {MANAGER_ID}" in withdrawn_note
    assert "звонок" not in withdrawn_note


@LIVE
def test_a_worker_mirrors_an_answer_into_the_sandbox_lead(salon, celery_worker):
    stored = salon.stored()
    lead_id = salon.driver.create_lead(salon.ref, {"TITLE": "Маникюр"})

    answered = consent_given(stored, lead_id)

    lead = wait_for(
        lambda: (
            (found := salon.driver.lead(salon.ref, lead_id)).get("UF_CRM_PDN_CONSENT")
            == "Y"
            and found
        ),
        what="the consent fields on the lead",
    )
    assert lead["UF_CRM_PDN_CONSENT_TEXT"] == answered.event.document.label
    assert lead["UF_CRM_PDN_CONSENT_AT"]
    wait_for(
        lambda: LeadMirror.objects.filter(event=answered.event).exists(),
        what="the mirror mark",
    )
    comments = TimelineComment.objects.using("sandbox").filter(entity_id=lead_id)
    assert [c.comment.splitlines()[0] for c in comments] == [
        "PDn Guard. Клиент дал согласие."
    ]


@LIVE
def test_mirroring_twice_writes_one_timeline_note(salon):
    stored = salon.stored()
    lead_id = salon.driver.create_lead(salon.ref, {"TITLE": "Стрижка"})
    answered = consent_given(stored, lead_id)

    first = lead_mirror(event_id=answered.event.pk)
    second = lead_mirror(event_id=answered.event.pk)

    assert first is not None and second is not None and first.pk == second.pk
    assert (
        TimelineComment.objects.using("sandbox").filter(entity_id=lead_id).count() == 1
    )
    assert salon.driver.lead(salon.ref, lead_id)["UF_CRM_PDN_CONSENT"] == "Y"


@LIVE
def test_a_request_alone_is_not_mirrored(salon):
    stored = salon.stored()
    documents.settings_update(portal=stored, actor=ADMIN, operator_name="ИП Котова")
    event = ledger.consent_request(
        portal=stored,
        client_ref="lead:5",
        lead_id=5,
        purpose="processing",
        place=CHAT,
        message_id=700,
    )

    assert ConsentEvent.objects.filter(pk=event.pk).exists()
    assert not LeadMirror.objects.exists()
