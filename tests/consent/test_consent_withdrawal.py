from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from aigateway.consent_gate import client_block, processing_allowed
from aigateway.models import BlockedClient
from compliance.consent import ledger
from compliance.consent.ledger import MANAGER_PLACE, WithdrawnLead
from compliance.consent.models import ConsentEvent, ConsentStatus
from compliance.consent.replies import is_withdrawal
from compliance.journal import Actor
from compliance.models import JournalEntry
from tests.consent.conftest import (
    CLIENT,
    LEAD,
    MANAGER_ID,
    TELEGRAM_CHAT,
    ask,
    reply,
)

pytestmark = pytest.mark.django_db

State = ConsentStatus.State
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def withdraw_in_chat(portal, text="Отзываю согласие", message_id=90010):
    assert is_withdrawal(text)
    return ledger.consent_withdraw(
        portal=portal,
        client_ref=CLIENT,
        lead_id=LEAD,
        place=TELEGRAM_CHAT,
        message_id=message_id,
        reply=text,
    )


@time_machine.travel(NOW, tick=False)
def test_a_withdrawal_in_chat_stops_the_ai_and_sets_a_30_day_deadline(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "да", message_id=90002)
    assert processing_allowed(portal, CLIENT)

    events = withdraw_in_chat(portal)

    status = ConsentStatus.objects.get(portal=portal, client_ref=CLIENT)
    assert [e.kind for e in events] == ["withdrawn"]
    assert status.state == State.WITHDRAWN
    assert status.withdrawn_at == NOW
    assert status.destroy_by == NOW + timedelta(days=30)
    assert not processing_allowed(portal, CLIENT)
    assert not processing_allowed(portal, "chat:3301")
    assert events[0].reply == "Отзываю согласие"
    assert list(ledger.withdrawn_leads(portal)) == [
        WithdrawnLead(LEAD, NOW, NOW + timedelta(days=30))
    ]


def test_a_withdrawal_covers_every_purpose_the_client_was_asked(portal, salon_settings):
    from compliance.consent import documents
    from tests.consent.conftest import ADMIN

    documents.settings_update(portal=portal, actor=ADMIN, marketing=True)
    ask(portal, "processing", message_id=90001)
    ask(portal, "marketing", message_id=90003)
    reply(portal, "да", message_id=90002)

    withdraw_in_chat(portal)

    states = {
        p: s.state for p, s in ledger.lead_statuses(portal=portal, lead_id=LEAD).items()
    }
    assert states == {"processing": State.WITHDRAWN, "marketing": State.WITHDRAWN}


def test_a_repeated_withdrawal_keeps_the_first_deadline(portal, salon_settings):
    ask(portal)
    reply(portal, "да", message_id=90002)
    with time_machine.travel(NOW, tick=False):
        withdraw_in_chat(portal)

    with time_machine.travel(NOW + timedelta(days=5), tick=False):
        again = withdraw_in_chat(portal, "Ещё раз: отзываю согласие", message_id=90011)
        repeat = withdraw_in_chat(portal)

    assert again == [] and repeat == []
    (withdrawn,) = ledger.withdrawn_leads(portal)
    assert withdrawn.destroy_by == NOW + timedelta(days=30)
    assert ConsentEvent.objects.filter(kind="withdrawn").count() == 1
    assert BlockedClient.objects.filter(portal=portal, client_ref=CLIENT).count() == 1


def test_a_manager_records_a_withdrawal_by_phone_with_a_note(portal, salon_settings):
    ask(portal)
    reply(portal, "да", message_id=90002)

    (event,) = ledger.consent_withdraw(
        portal=portal,
        client_ref=CLIENT,
        lead_id=LEAD,
        place=MANAGER_PLACE,
        manager_user_id=MANAGER_ID,
        note="Позвонила 3 декабря, просит удалить данные",
    )

    assert event.channel == "manager" and event.actor_user_id == MANAGER_ID
    assert event.note == "Позвонила 3 декабря, просит удалить данные"
    assert "Позвонила" not in event.note_sealed
    entry = JournalEntry.objects.get(action="consent.withdrawn")
    assert (entry.actor_kind, entry.actor_user_id, entry.actor_role) == (
        "user",
        MANAGER_ID,
        "manager",
    )
    assert "Позвонила" not in entry.details
    assert not processing_allowed(portal, CLIENT)


def test_a_manager_record_without_the_managers_id_is_refused(portal, salon_settings):
    with pytest.raises(ledger.LedgerError, match="names the manager"):
        ledger.consent_withdraw(
            portal=portal, client_ref=CLIENT, lead_id=LEAD, place=MANAGER_PLACE
        )
    assert not ConsentEvent.objects.exists()


def test_a_client_never_asked_who_says_delete_my_data_is_withdrawn_too(
    portal, salon_settings
):
    events = withdraw_in_chat(portal, "Удалите мои данные")

    assert [(e.purpose, e.status_after) for e in events] == [
        ("processing", "withdrawn")
    ]
    assert not processing_allowed(portal, CLIENT)


def test_consent_given_again_lifts_the_ai_block_and_the_deadline(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "да", message_id=90002)
    withdraw_in_chat(portal)

    ledger.consent_request(
        portal=portal,
        client_ref=CLIENT,
        lead_id=LEAD,
        purpose="processing",
        place=TELEGRAM_CHAT,
        message_id=90020,
    )
    answered = reply(portal, "Да, согласна", message_id=90021)

    assert answered.status.state == State.GRANTED
    assert processing_allowed(portal, CLIENT)
    assert processing_allowed(portal, "chat:3301")
    assert answered.status.destroy_by is None
    assert list(ledger.withdrawn_leads(portal)) == []


def test_an_erasure_block_stays_when_consent_is_given_again(portal, salon_settings):
    client_block(
        portal=portal,
        client_ref=CLIENT,
        reason=BlockedClient.Reason.ERASURE_REQUESTED,
        actor=Actor.system("operator"),
    )
    ask(portal)

    reply(portal, "да", message_id=90002)

    assert not processing_allowed(portal, CLIENT)


def test_withdrawn_leads_lists_only_processing_withdrawals_of_leads(
    portal, make_portal, salon_settings
):
    ask(portal)
    reply(portal, "да", message_id=90002)
    ledger.consent_withdraw(
        portal=portal,
        client_ref="chat:4400",
        lead_id=None,
        place=TELEGRAM_CHAT,
        message_id=90030,
    )
    other = make_portal()
    ledger.consent_withdraw(
        portal=other,
        client_ref="lead:77",
        lead_id=77,
        place=MANAGER_PLACE,
        manager_user_id=MANAGER_ID,
    )

    assert list(ledger.withdrawn_leads(portal)) == []
    assert [w.lead_id for w in ledger.withdrawn_leads(other)] == [77]
