"""The consent conversation in an open-line chat: ask once, read the answer, let go.

Procedure for one received message (a ``ChatTurn``), under the chat's lock:

1. Ignore what is not a client's words: the bot's own messages (the author
   is the bot), system notices (``SYSTEM=Y``), operators (portal users, not
   connector users) and chats that are not open lines. No reply, no change.
2. A withdrawal («отзываю согласие», «удалите мои данные») withdraws every
   purpose, stops the AI for the client and says when the data goes.
3. Otherwise walk the portal's purposes in order. A purpose never asked (or
   whose text changed) is asked now: a short message with the document's
   link and Да/Нет buttons, which external messengers may not draw, so a
   typed answer counts the same. A pending purpose reads this message as
   the answer: yes confirms and moves on to the next purpose; no is
   accepted and the chat goes to an operator; an unclear answer is asked
   once more, and a second unclear answer hands the chat to an operator.
   Nothing ever defaults to yes.
4. When every purpose is settled the bot stays silent.

A bot message is sent before its ledger event is written, so the request
on the ledger carries the message id the client saw. Sending happens
outside any transaction (a token refreshed meanwhile must stay committed);
a turn that fails half-way runs again, and may repeat a bot message but
never re-reads an answer already recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import formats, timezone

from compliance.consent import documents, ledger
from compliance.consent.models import (
    BotReply,
    ChatSession,
    ChatTurn,
    ConsentEvent,
    ConsentStatus,
    Purpose,
)
from compliance.consent.replies import Reply, classify_reply, is_withdrawal
from integrator.models import Portal

logger = logging.getLogger(__name__)

State = ConsentStatus.State
Outcome = ChatTurn.Outcome
LINES = "LINES"
MESSAGE = "ONIMBOTMESSAGEADD"
JOIN = "ONIMBOTJOINCHAT"
MAX_UNCLEAR = 2

QUESTIONS = {
    Purpose.PROCESSING: (
        "Согласны ли вы на обработку ваших персональных данных для записи "
        "и напоминаний?"
    ),
    Purpose.HEALTH: "Согласны ли вы на обработку сведений о состоянии здоровья?",
    Purpose.MARKETING: "Согласны ли вы получать от нас рекламные сообщения?",
}


def request_text(purpose: str, url: str) -> str:
    return (
        f"{QUESTIONS[Purpose(purpose)]}\n"
        f"Текст согласия: {url}\n"
        "Ответьте «Да» или «Нет». Отозвать согласие можно в любой момент."
    )


def reask_text(purpose: str, url: str) -> str:
    return (
        "Не удалось понять ответ. "
        f"{QUESTIONS[Purpose(purpose)]}\n"
        f"Текст согласия: {url}\n"
        "Пожалуйста, ответьте одним словом: «Да» или «Нет»."
    )


CONFIRM_TEXT = (
    "Спасибо, согласие записано. Отозвать его можно в любой момент: "
    "напишите «Отзываю согласие»."
)
DENIED_TEXT = "Хорошо, согласие не дано. Оператор скоро ответит вам."
HANDOVER_TEXT = "Передаю диалог оператору, он скоро ответит."


def withdrawn_text(destroy_by: datetime) -> str:
    day = formats.date_format(timezone.localtime(destroy_by), "d.m.Y")
    return (
        "Согласие отозвано. Мы прекратили обработку ваших персональных данных "
        f"и уничтожим их не позднее {day}."
    )


def yes_no_keyboard() -> list[dict[str, str]]:
    """Buttons that send «Да» / «Нет» as the client's own message."""
    return [
        {"TEXT": "Да", "ACTION": "SEND", "ACTION_VALUE": "Да", "DISPLAY": "LINE"},
        {"TEXT": "Нет", "ACTION": "SEND", "ACTION_VALUE": "Нет", "DISPLAY": "LINE"},
    ]


class ChatSender(Protocol):
    """How the bot speaks in the portal (``imbot.message.add`` and friends)."""

    def send(
        self,
        *,
        bot_id: int,
        dialog_id: str,
        text: str,
        keyboard: list[dict[str, str]] | None = None,
    ) -> int: ...

    def hand_over(self, *, chat_id: int) -> None: ...


# --- open-line identifiers ----------------------------------------------------


@dataclass(frozen=True)
class LineEntity:
    """What ``CHAT_ENTITY_ID`` and ``CHAT_ENTITY_DATA_1/2`` say about a chat."""

    connector_id: str = ""
    line_id: int | None = None
    lead_id: int | None = None
    session_id: int | None = None


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < len(value) <= 18 else None


def line_entity(entity_id: str, data_1: str, data_2: str) -> LineEntity:
    """Parse ``connector|line|chat|user``, ``Y|LEAD|1209|N|N|343|…`` and
    ``LEAD|1209|COMPANY|0|CONTACT|0|DEAL|0``; the lead from either."""
    parts = entity_id.split("|")
    connector = parts[0] if parts and parts[0] else ""
    line_id = _int(parts[1]) if len(parts) > 1 else None

    lead_id = None
    first = data_1.split("|")
    if len(first) > 2 and first[1].upper() == "LEAD":
        lead_id = _int(first[2])
    session_id = _int(first[5]) if len(first) > 5 else None
    second = data_2.split("|")
    for index in range(0, len(second) - 1, 2):
        if second[index].upper() == "LEAD" and lead_id is None:
            lead_id = _int(second[index + 1])
    return LineEntity(connector, line_id, lead_id, session_id)


# --- receiving ----------------------------------------------------------------


def turn_record(
    *,
    portal: Portal,
    event: str,
    bot_id: int,
    message_id: int,
    dialog_id: str,
    chat_id: int | None,
    from_user_id: int | None,
    from_client: bool,
    system: bool,
    text: str,
    entity_type: str = "",
    entity_id: str = "",
    entity_data_1: str = "",
    entity_data_2: str = "",
    platform_at: datetime | None = None,
) -> ChatTurn | None:
    """Store a received message; None when this message was stored before."""
    turn = ChatTurn(
        portal=portal,
        event=event[:32],
        bot_id=bot_id,
        message_id=message_id,
        dialog_id=dialog_id[:64],
        chat_id=chat_id,
        from_user_id=from_user_id,
        from_client=from_client,
        system=system,
        entity_type=entity_type[:32],
        entity_data_1=entity_data_1[:255],
        entity_data_2=entity_data_2[:255],
        platform_at=platform_at,
    )
    turn.seal_text(text)
    turn.seal_entity_id(entity_id)
    try:
        # Bitrix24 may deliver one message twice; the unique key keeps one.
        with transaction.atomic():
            turn.save(force_insert=True)
    except IntegrityError:
        return None
    return turn


def _ignored(turn: ChatTurn) -> str | None:
    if turn.from_user_id is not None and turn.from_user_id == turn.bot_id:
        return Outcome.OWN
    if turn.system:
        return Outcome.SYSTEM
    if turn.entity_type.upper() != LINES or turn.chat_id is None:
        return Outcome.NOT_LINES
    if turn.event == MESSAGE and not turn.from_client:
        return Outcome.OPERATOR
    return None


# --- processing ---------------------------------------------------------------


@dataclass
class _Context:
    portal: Portal
    turn: ChatTurn
    session: ChatSession
    sender: ChatSender
    entity: LineEntity
    entity_id: str

    @property
    def client_ref(self) -> str:
        return ledger.client_ref_for(
            lead_id=self.session.lead_id, chat_id=self.session.chat_id
        )

    @property
    def place(self) -> ledger.ChatPlace:
        return ledger.ChatPlace(
            channel=ledger.channel_of(self.entity.connector_id),
            connector_id=self.entity.connector_id,
            line_id=self.entity.line_id,
            chat_id=self.session.chat_id,
            dialog_id=self.session.dialog_id,
            channel_ref=self.entity_id,
        )

    def say(
        self,
        kind: str,
        text: str,
        *,
        purpose: str = "",
        keyboard: list[dict[str, str]] | None = None,
    ) -> int:
        message_id = self.sender.send(
            bot_id=self.session.bot_id,
            dialog_id=self.session.dialog_id,
            text=text,
            keyboard=keyboard,
        )
        BotReply.objects.create(
            portal=self.portal,
            session=self.session,
            turn=self.turn,
            kind=kind,
            purpose=purpose,
            text=text,
            b24_message_id=message_id or None,
        )
        return message_id

    def hand_over(self) -> None:
        self.say(BotReply.Kind.HANDOVER, HANDOVER_TEXT)
        assert self.session.chat_id is not None
        self.sender.hand_over(chat_id=self.session.chat_id)
        self.session.handed_over_at = timezone.now()
        self.session.save(update_fields=["handed_over_at"])


def turn_process(*, turn_id: int, sender: ChatSender) -> str:
    """Process one stored message once; returns its outcome code."""
    turn = ChatTurn.objects.select_related("portal").filter(pk=turn_id).first()
    if turn is None:
        return ""
    if turn.processed_at is not None:
        return turn.outcome
    ignored = _ignored(turn)
    if ignored is not None:
        _finish(turn, ignored)
        return ignored

    assert turn.chat_id is not None
    with chat_lock(turn.portal, turn.chat_id):
        turn.refresh_from_db(fields=["processed_at", "outcome"])
        if turn.processed_at is not None:
            return turn.outcome
        outcome = _converse(_open(turn, sender))
        _finish(turn, outcome)
    return outcome


@contextlib.contextmanager
def chat_lock(portal: Portal, chat_id: int) -> Iterator[None]:
    """Turns of one chat one at a time: a quick «да» must not overtake its request.

    A PostgreSQL session lock, not a row lock, because the bot's messages are
    sent outside any transaction: a token refreshed while sending must be
    committed whatever happens to the turn. Other databases run one worker.
    """
    connection = connections[router.db_for_write(ChatTurn)]
    if connection.vendor != "postgresql":
        yield
        return
    key = int.from_bytes(
        hashlib.sha256(f"consent-chat:{portal.pk}:{chat_id}".encode()).digest()[:8],
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _open(turn: ChatTurn, sender: ChatSender) -> _Context:
    entity_id = turn.entity_id
    entity = line_entity(entity_id, turn.entity_data_1, turn.entity_data_2)
    assert turn.chat_id is not None
    session, created = ChatSession.objects.get_or_create(
        portal=turn.portal,
        chat_id=turn.chat_id,
        defaults={
            "dialog_id": turn.dialog_id,
            "bot_id": turn.bot_id,
            "lead_id": entity.lead_id,
            "channel": ledger.channel_of(entity.connector_id),
        },
    )
    changed = []
    if entity.lead_id and session.lead_id != entity.lead_id:
        if session.lead_id is None:
            ledger.client_rebind(
                portal=turn.portal, chat_id=session.chat_id, lead_id=entity.lead_id
            )
        session.lead_id = entity.lead_id
        changed.append("lead_id")
    if turn.event == JOIN and session.handed_over_at is not None and not created:
        # A new open-line session: the bot speaks again.
        session.handed_over_at = None
        changed.append("handed_over_at")
    if changed:
        session.save(update_fields=changed)
    return _Context(turn.portal, turn, session, sender, entity, entity_id)


def _converse(context: _Context) -> str:
    turn, portal = context.turn, context.portal
    text = turn.text if turn.event == MESSAGE else ""
    if (
        text
        and ConsentEvent.objects.filter(
            portal=portal, client_ref=context.client_ref, message_id=turn.message_id
        ).exists()
    ):
        # A retry of a turn that died after recording: the message was read.
        return Outcome.ANSWERED

    if text and is_withdrawal(text):
        events = ledger.consent_withdraw(
            portal=portal,
            client_ref=context.client_ref,
            lead_id=context.session.lead_id,
            place=context.place,
            message_id=turn.message_id,
            reply=text,
            platform_at=turn.platform_at,
        )
        status = ConsentStatus.objects.filter(
            portal=portal, client_ref=context.client_ref, state=State.WITHDRAWN
        ).first()
        if events and status is not None and status.destroy_by is not None:
            context.say(BotReply.Kind.WITHDRAWN, withdrawn_text(status.destroy_by))
        return Outcome.WITHDRAWN

    if context.session.handed_over_at is not None:
        return Outcome.HANDED_OVER

    for purpose in documents.settings_for(portal).purposes():
        state = ledger.client_status(
            portal=portal, client_ref=context.client_ref, purpose=purpose
        )
        if state is None or state == State.NEEDS_RENEWAL:
            _ask(context, purpose)
            return Outcome.ASKED
        if state == State.PENDING and text and _follows_request(context, purpose):
            return _answer(context, purpose, text)
        if state == State.PENDING:
            return Outcome.SETTLED
    return Outcome.SETTLED


def _follows_request(context: _Context, purpose: str) -> bool:
    """Whether the message was written after the request it would answer.

    Bitrix24 numbers a portal's messages in order, so a message older than
    the bot's request crossed it in flight and answers nothing (152-FZ: the
    reply must follow the consent message).
    """
    request = (
        ConsentEvent.objects.filter(
            Q(client_ref=context.client_ref) | Q(chat_id=context.session.chat_id),
            portal=context.portal,
            purpose=purpose,
            kind=ConsentEvent.Kind.REQUESTED,
        )
        .order_by("-at", "-pk")
        .values_list("message_id", flat=True)
        .first()
    )
    return request is None or context.turn.message_id > request


def _ask(context: _Context, purpose: str) -> None:
    document = documents.document_current(portal=context.portal, purpose=purpose)
    message_id = context.say(
        BotReply.Kind.REQUEST,
        request_text(purpose, documents.document_url(document)),
        purpose=purpose,
        keyboard=yes_no_keyboard(),
    )
    ledger.consent_request(
        portal=context.portal,
        client_ref=context.client_ref,
        lead_id=context.session.lead_id,
        purpose=purpose,
        place=context.place,
        message_id=message_id or None,
        bot_id=context.session.bot_id,
    )


def _answer(context: _Context, purpose: str, text: str) -> str:
    turn = context.turn
    answered = ledger.consent_answer(
        portal=context.portal,
        client_ref=context.client_ref,
        lead_id=context.session.lead_id,
        purpose=purpose,
        reply=text,
        place=context.place,
        message_id=turn.message_id,
        platform_at=turn.platform_at,
        bot_id=context.session.bot_id,
    )
    answer = classify_reply(text)
    if answer is Reply.YES:
        context.say(BotReply.Kind.CONFIRM, CONFIRM_TEXT, purpose=purpose)
        following = _next_unasked(context)
        if following is not None:
            _ask(context, following)
        return Outcome.ANSWERED
    if answer is Reply.NO:
        context.say(BotReply.Kind.DENIED, DENIED_TEXT, purpose=purpose)
        context.hand_over()
        return Outcome.ANSWERED
    if answered.status.unclear_answers >= MAX_UNCLEAR:
        context.hand_over()
        return Outcome.HANDED_OVER
    document = answered.status.document
    context.say(
        BotReply.Kind.REASK,
        reask_text(purpose, documents.document_url(document)),
        purpose=purpose,
        keyboard=yes_no_keyboard(),
    )
    return Outcome.REASKED


def _next_unasked(context: _Context) -> str | None:
    for purpose in documents.settings_for(context.portal).purposes():
        if ledger.needs_request(
            portal=context.portal, client_ref=context.client_ref, purpose=purpose
        ):
            return purpose
    return None


def _finish(turn: ChatTurn, outcome: str) -> None:
    # The message text is no longer needed: answers keep theirs sealed on
    # the ledger, everything else is forgotten.
    ChatTurn.objects.filter(pk=turn.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=outcome, text_sealed=""
    )
    turn.processed_at = timezone.now()
    turn.outcome = outcome


def session_summary(session: ChatSession) -> Mapping[str, Any]:
    """What the lead tab shows about a chat: ids and codes only."""
    return {
        "chat_id": session.chat_id,
        "channel": session.channel,
        "handed_over": session.handed_over_at is not None,
        "replies": list(session.replies.order_by("pk").values_list("kind", flat=True)),
    }
