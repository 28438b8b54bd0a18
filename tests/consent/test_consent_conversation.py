"""The consent conversation at the ledger level (C15), with a recording sender.

The sender stands for the bot's way of speaking; the sandbox chat tests
drive the same conversation through Bitrix24's real payloads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from compliance.consent import conversation, documents, ledger
from compliance.consent.models import BotReply, ChatTurn, ConsentEvent, ConsentStatus
from tests.consent.conftest import ADMIN

pytestmark = pytest.mark.django_db

BOT = 567
CLIENT_USER = 2081
OPERATOR_USER = 7
ENTITY_ID = "telegrambot|22|1775|599"
DATA_1 = "Y|LEAD|1209|N|N|343|1773682918|0|0|0"
DATA_2 = "LEAD|1209|COMPANY|0|CONTACT|0|DEAL|0"
State = ConsentStatus.State


@dataclass
class RecordingSender:
    sent: list[tuple[str, str, bool]] = field(default_factory=list)
    handed_over: list[int] = field(default_factory=list)
    # One numbering for every message of the portal, as Bitrix24 has.
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def send(self, *, bot_id, dialog_id, text, keyboard=None) -> int:
        self.sent.append((dialog_id, text, keyboard is not None))
        message_id: int = next(self.ids)
        return message_id

    def hand_over(self, *, chat_id) -> None:
        self.handed_over.append(chat_id)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def receive(
    portal,
    sender,
    text="",
    *,
    event="ONIMBOTMESSAGEADD",
    message_id=None,
    from_user=CLIENT_USER,
    from_client=True,
    system=False,
    entity_type="LINES",
    data_1=DATA_1,
    data_2=DATA_2,
):
    turn = conversation.turn_record(
        portal=portal,
        event=event,
        bot_id=BOT,
        message_id=message_id or next(sender.ids),
        dialog_id="chat3301",
        chat_id=3301,
        from_user_id=from_user,
        from_client=from_client,
        system=system,
        text=text,
        entity_type=entity_type,
        entity_id=ENTITY_ID,
        entity_data_1=data_1,
        entity_data_2=data_2,
    )
    if turn is None:
        return None
    return conversation.turn_process(turn_id=turn.pk, sender=sender)


def status(portal, purpose="processing"):
    return ledger.client_status(portal=portal, client_ref="lead:1209", purpose=purpose)


def test_a_new_client_gets_the_short_request_with_the_link_and_buttons(
    portal, salon_settings, sender
):
    outcome = receive(portal, sender, "Здравствуйте, хочу записаться на стрижку")

    document = documents.document_current(portal=portal, purpose="processing")
    ((dialog, text, buttons),) = sender.sent
    assert outcome == "asked" and dialog == "chat3301" and buttons
    assert documents.document_url(document) in text
    assert "«Да» или «Нет»" in text
    request = ConsentEvent.objects.get(kind="requested")
    assert (request.message_id, request.lead_id, request.channel) == (
        1001,
        1209,
        "telegram",
    )
    assert status(portal) == State.PENDING


def test_c15_a_yes_is_stored_once_and_confirmed_once(portal, salon_settings, sender):
    receive(portal, sender, "Здравствуйте")

    outcome = receive(portal, sender, "Да, согласен", message_id=5001)

    assert outcome == "answered"
    assert status(portal) == State.GRANTED
    answer = ConsentEvent.objects.get(kind="answered")
    assert (answer.message_id, answer.chat_id, answer.lead_id) == (5001, 3301, 1209)
    assert list(BotReply.objects.order_by("pk").values_list("kind", flat=True)) == [
        "request",
        "confirm",
    ]


def test_c15_b_and_c_own_and_system_messages_change_nothing(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте")
    sent_before = len(sender.sent)

    own = receive(portal, sender, "Да, согласен", from_user=BOT, from_client=False)
    system = receive(portal, sender, "Диалог передан оператору", system=True)
    operator = receive(portal, sender, "Да", from_user=OPERATOR_USER, from_client=False)

    assert (own, system, operator) == ("own", "system", "operator")
    assert len(sender.sent) == sent_before
    assert status(portal) == State.PENDING
    assert ConsentEvent.objects.filter(kind="answered").count() == 0


def test_c15_d_a_bb_coded_refusal_is_a_refusal(portal, salon_settings, sender):
    receive(portal, sender, "Здравствуйте")

    receive(portal, sender, "[b]Анна Смирнова:[/b][br]нет, не согласна")

    assert status(portal) == State.DENIED
    assert sender.handed_over == [3301]


def test_c15_e_unclear_is_asked_once_more_then_handed_to_an_operator(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте")

    first = receive(portal, sender, "да, но не звоните мне")
    second = receive(portal, sender, "даже не знаю")
    later = receive(portal, sender, "да")

    assert (first, second, later) == ("reasked", "handed_over", "handed_over")
    assert sender.handed_over == [3301]
    assert status(portal) == State.PENDING
    kinds = list(BotReply.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["request", "reask", "handover"]


def test_c15_f_a_repeated_message_id_is_processed_once(portal, salon_settings, sender):
    receive(portal, sender, "Здравствуйте")

    first = receive(portal, sender, "Да, согласен", message_id=5001)
    repeat = receive(portal, sender, "Да, согласен", message_id=5001)

    assert first == "answered" and repeat is None
    assert ConsentEvent.objects.filter(kind="answered").count() == 1
    assert BotReply.objects.filter(kind="confirm").count() == 1


def test_a_turn_run_twice_by_the_worker_does_nothing_the_second_time(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте")
    turn = conversation.turn_record(
        portal=portal,
        event="ONIMBOTMESSAGEADD",
        bot_id=BOT,
        message_id=6001,
        dialog_id="chat3301",
        chat_id=3301,
        from_user_id=CLIENT_USER,
        from_client=True,
        system=False,
        text="да",
        entity_type="LINES",
        entity_id=ENTITY_ID,
        entity_data_1=DATA_1,
    )
    assert turn is not None

    conversation.turn_process(turn_id=turn.pk, sender=sender)
    conversation.turn_process(turn_id=turn.pk, sender=sender)

    assert BotReply.objects.filter(kind="confirm").count() == 1
    turn.refresh_from_db()
    assert turn.outcome == "answered" and turn.text_sealed == ""


def test_after_consent_the_next_purpose_is_asked_separately(
    portal, salon_settings, sender
):
    documents.settings_update(portal=portal, actor=ADMIN, marketing=True)
    receive(portal, sender, "Здравствуйте")

    receive(portal, sender, "да")
    receive(portal, sender, "нет")

    assert status(portal, "processing") == State.GRANTED
    assert status(portal, "marketing") == State.DENIED
    requests = ConsentEvent.objects.filter(kind="requested").order_by("pk")
    assert [r.purpose for r in requests] == ["processing", "marketing"]
    assert "рекламные" in sender.sent[2][1]


def test_once_settled_the_bot_stays_silent(portal, salon_settings, sender):
    receive(portal, sender, "Здравствуйте")
    receive(portal, sender, "да")
    sent = len(sender.sent)

    outcome = receive(portal, sender, "А на субботу есть время?")

    assert outcome == "settled" and len(sender.sent) == sent


def test_a_withdrawal_in_chat_is_honoured_and_answered_with_the_deadline(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте")
    receive(portal, sender, "да")

    outcome = receive(portal, sender, "Отзываю согласие на обработку данных")

    assert outcome == "withdrawn"
    assert status(portal) == State.WITHDRAWN
    assert "уничтожим их не позднее" in sender.sent[-1][1]
    (withdrawn,) = ledger.withdrawn_leads(portal)
    assert withdrawn.lead_id == 1209


def test_the_bot_joining_an_open_line_asks_at_once(portal, salon_settings, sender):
    joined = receive(portal, sender, event="ONIMBOTJOINCHAT", from_client=False)
    rejoined = receive(portal, sender, event="ONIMBOTJOINCHAT", from_client=False)
    answered = receive(portal, sender, "Да")

    assert (joined, rejoined, answered) == ("asked", "settled", "answered")
    assert ConsentEvent.objects.filter(kind="requested").count() == 1
    assert status(portal) == State.GRANTED


def test_a_chat_that_is_not_an_open_line_is_left_alone(portal, salon_settings, sender):
    outcome = receive(portal, sender, "Привет", entity_type="")

    assert outcome == "not_lines" and sender.sent == []


def test_a_chat_not_yet_in_the_crm_is_keyed_by_chat_until_a_lead_appears(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте", data_1="N|NONE|0|N|N|343", data_2="")

    assert ledger.client_status(
        portal=portal, client_ref="chat:3301", purpose="processing"
    ) == (State.PENDING)
    assert ChatTurn.objects.filter(outcome="asked").count() == 1


@pytest.mark.parametrize(
    ("entity_id", "data_1", "data_2", "expected"),
    [
        (ENTITY_ID, DATA_1, DATA_2, ("telegrambot", 22, 1209, 343)),
        ("livechat|3|17|5", "", "LEAD|88|COMPANY|0", ("livechat", 3, 88, None)),
        ("", "N|NONE|0", "", ("", None, None, None)),
    ],
)
def test_open_line_identifiers_name_the_connector_line_and_lead(
    entity_id, data_1, data_2, expected
):
    entity = conversation.line_entity(entity_id, data_1, data_2)

    assert (entity.connector_id, entity.line_id, entity.lead_id, entity.session_id) == (
        expected
    )


def test_a_message_written_before_the_request_is_not_its_answer(
    portal, salon_settings, sender
):
    receive(portal, sender, event="ONIMBOTJOINCHAT", from_client=False)

    crossed = receive(portal, sender, "Да, запишите меня", message_id=999)
    answered = receive(portal, sender, "Да", message_id=70005)

    assert (crossed, answered) == ("settled", "answered")
    assert status(portal) == State.GRANTED


def test_a_chat_saved_to_the_crm_later_keeps_its_consent_and_is_not_asked_again(
    portal, salon_settings, sender
):
    receive(portal, sender, "Здравствуйте", data_1="N|NONE|0|N|N|343", data_2="")

    answered = receive(portal, sender, "да")

    assert answered == "answered"
    assert status(portal) == State.GRANTED
    assert ConsentEvent.objects.filter(kind="requested").count() == 1
    assert (
        ledger.client_status(
            portal=portal, client_ref="chat:3301", purpose="processing"
        )
        is None
    )
