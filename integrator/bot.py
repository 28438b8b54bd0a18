"""The open-line consent bot's endpoint: verify, store the message, enqueue, answer.

The bot is registered with ``imbot.register`` (v1) as ``TYPE=O``, not with
``imbot.v2``. Both are documented; v1 is marked deprecated, yet it is the
API the open-line documentation is written against: its events carry
``CHAT_ENTITY_TYPE=LINES`` and ``CHAT_ENTITY_DATA_1/2`` (the lead) in
``data[PARAMS]``, ``imopenlines.bot.session.*`` take its bot as it is, and
its events are form-encoded with a top-level ``auth`` verified exactly like
every other event of the app (``integrator.events``). v2 adds a second
authentication (``botToken``) and a fetch-or-webhook mode for no gain here.
Moving to v2 later changes this parser and the sender, not the conversation.

What comes in: ONIMBOTMESSAGEADD (every message of the chat: the client's,
operators', system notices and the bot's own), ONIMBOTJOINCHAT (the bot
joins a new session) and ONIMBOTDELETE. Each is stored once per message id
and processed by a worker; the answer is 200 at once.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from compliance.consent import conversation, tasks
from integrator.events import EventRejected, InboundEvent, portal_by_token
from integrator.models import Portal

logger = logging.getLogger(__name__)

BOT_CODE = "pdn_guard_consent"
BOT_PATH = "/b24/bot/"
MESSAGE = "ONIMBOTMESSAGEADD"
JOIN = "ONIMBOTJOINCHAT"
DELETE = "ONIMBOTDELETE"
BOT_EVENTS = (MESSAGE, JOIN, DELETE)


@dataclass(frozen=True)
class BotEvent:
    """The parts of a bot event the conversation needs; nothing trusted yet."""

    name: str
    bot_id: int
    message_id: int
    dialog_id: str
    chat_id: int | None
    from_user_id: int | None
    from_client: bool
    system: bool
    text: str
    entity_type: str
    entity_id: str
    entity_data_1: str
    entity_data_2: str
    ts: int | None


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and 0 < len(text) <= 18 else None


def _str(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key, "")
    return value if isinstance(value, str) else ""


def bot_event(event: InboundEvent) -> BotEvent:
    """Read ``data[BOT]``, ``data[PARAMS]`` and ``data[USER]`` of a v1 bot event."""
    if event.name not in BOT_EVENTS:
        raise EventRejected(400, "not a bot event")
    bots = event.data.get("BOT")
    params = event.data.get("PARAMS")
    if not isinstance(bots, Mapping) or not bots:
        raise EventRejected(400, "no data[BOT]")
    if not isinstance(params, Mapping):
        raise EventRejected(400, "no data[PARAMS]")
    bot_id = _int(next(iter(bots)))
    if bot_id is None:
        raise EventRejected(400, "bad bot id")
    user = event.data.get("USER")
    user = user if isinstance(user, Mapping) else {}

    chat_id = _int(params.get("CHAT_ID")) or _int(params.get("TO_CHAT_ID"))
    data_1 = _str(params, "CHAT_ENTITY_DATA_1")
    if event.name == JOIN:
        # A join has no message: the open-line session (DATA_1, field 6) is
        # what happens once, so it stands in for the message id.
        fields = data_1.split("|")
        message_id = (_int(fields[5]) if len(fields) > 5 else None) or chat_id
    else:
        message_id = _int(params.get("MESSAGE_ID"))
    if message_id is None:
        raise EventRejected(400, "no MESSAGE_ID")
    return BotEvent(
        name=event.name,
        bot_id=bot_id,
        message_id=message_id,
        dialog_id=_str(params, "DIALOG_ID")[:64],
        chat_id=chat_id,
        from_user_id=_int(params.get("FROM_USER_ID")),
        from_client=user.get("IS_CONNECTOR") == "Y",
        system=_str(params, "SYSTEM") == "Y",
        text=_str(params, "MESSAGE"),
        entity_type=_str(params, "CHAT_ENTITY_TYPE"),
        entity_id=_str(params, "CHAT_ENTITY_ID"),
        entity_data_1=data_1,
        entity_data_2=_str(params, "CHAT_ENTITY_DATA_2"),
        ts=event.ts,
    )


def bot_event_receive(event: InboundEvent) -> bool:
    """Verify the application token, store the message, enqueue; False if a repeat."""
    portal = portal_by_token(event)
    if portal.status == Portal.Status.UNINSTALLED:
        raise EventRejected(401, "the app is not installed on this portal")
    parsed = bot_event(event)
    if parsed.name == DELETE:
        logger.warning("consent bot %s deleted on portal %s", parsed.bot_id, portal.pk)
        return True

    with transaction.atomic():
        turn = conversation.turn_record(
            portal=portal,
            event=parsed.name,
            bot_id=parsed.bot_id,
            message_id=parsed.message_id,
            dialog_id=parsed.dialog_id,
            chat_id=parsed.chat_id,
            from_user_id=parsed.from_user_id,
            from_client=parsed.from_client,
            system=parsed.system,
            text=parsed.text,
            entity_type=parsed.entity_type,
            entity_id=parsed.entity_id,
            entity_data_1=parsed.entity_data_1,
            entity_data_2=parsed.entity_data_2,
            platform_at=datetime.fromtimestamp(parsed.ts, UTC) if parsed.ts else None,
        )
        if turn is None:
            return False
        tasks.turn_enqueue(turn)
    return True


def bot_params(handler: str) -> dict[str, Any]:
    """``imbot.register`` parameters of the consent bot (an open-line bot)."""
    return {
        "CODE": BOT_CODE,
        "TYPE": "O",
        "OPENLINE": "Y",
        "EVENT_MESSAGE_ADD": handler,
        "EVENT_WELCOME_MESSAGE": handler,
        "EVENT_BOT_DELETE": handler,
        "PROPERTIES": {
            "NAME": "PDn Guard",
            "WORK_POSITION": "Согласие на обработку персональных данных",
            "COLOR": "AQUA",
        },
    }
