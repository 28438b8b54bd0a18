"""Open lines with a v1 chat bot: clients write, the bot gets events and answers.

Only what a consent bot needs: imbot.register/unregister/bot.list,
imbot.message.add, imopenlines.bot.session.operator, ONIMBOTJOINCHAT when a
chat opens (to the bot's welcome handler) and ONIMBOTMESSAGEADD for every
message of the chat (the client's, operators', system notices and the bot's
own), with CHAT_ENTITY_* naming the lead, and an outbox the tests read.
External messengers do not render keyboards unless the chat says so
(``buttons_rendered``).
"""

from typing import Any

from sandbox import clock, crm, events
from sandbox.models import Bot, Chat, ChatMessage, Install, Lead, Portal, User
from sandbox.rest import Call, RestError, method
from sandbox.system import handler_check

MAX_BOTS = 5
OPERATOR_NOTICE = "Диалог передан оператору"


def _handler(call: Call, params: dict[str, Any], key: str, label: str) -> str:
    url = str(params.get(key) or params.get("EVENT_HANDLER") or "")
    if not url:
        raise RestError(f"{key}_ERROR", f'Handler for "{label}" event isn\'t specified')
    try:
        handler_check(url)
    except RestError:
        raise RestError(f"{key}_ERROR", "Wrong handler URL") from None
    return url


@method("imbot.register", "imbot")
def imbot_register(call: Call) -> int:
    call.require_app()
    assert call.app is not None
    params = call.params
    code = str(params.get("CODE") or "")
    if not code:
        raise RestError("CODE_ERROR", "Bot code isn't specified")
    properties = params.get("PROPERTIES")
    if not isinstance(properties, dict) or not (
        properties.get("NAME") or properties.get("LAST_NAME")
    ):
        raise RestError("NAME_ERROR", "Bot name isn't specified")
    message_add = _handler(call, params, "EVENT_MESSAGE_ADD", "Message add")
    welcome = _handler(call, params, "EVENT_WELCOME_MESSAGE", "Welcome message")
    delete = _handler(call, params, "EVENT_BOT_DELETE", "Bot delete")
    bots = Bot.objects.filter(portal=call.portal, app=call.app)
    if bots.filter(code=code).exists():
        raise RestError("WRONG_REQUEST", "Bot can't be created")
    if bots.count() >= MAX_BOTS:
        raise RestError(
            "MAX_COUNT_ERROR",
            f"Has reached the maximum number of bots for application (max: {MAX_BOTS})",
        )
    bot_type = str(params.get("TYPE") or "B").upper()
    bot = Bot.objects.create(
        portal=call.portal,
        app=call.app,
        code=code,
        bot_type=bot_type,
        openline="Y" if bot_type == "O" else str(params.get("OPENLINE") or "N"),
        handler_message_add=message_add,
        handler_welcome=welcome,
        handler_delete=delete,
        properties=properties,
    )
    return bot.pk


@method("imbot.unregister", "imbot")
def imbot_unregister(call: Call) -> bool:
    call.require_app()
    deleted, _ = Bot.objects.filter(
        portal=call.portal, app=call.app, pk=_int(call.param("BOT_ID"))
    ).delete()
    if not deleted:
        raise RestError("BOT_ID_ERROR", "Bot not found")
    return True


@method("imbot.bot.list", "imbot")
def imbot_bot_list(call: Call) -> Any:
    bots = Bot.objects.filter(portal=call.portal).order_by("pk")
    listed = {
        str(b.pk): {
            "ID": b.pk,
            "NAME": str(b.properties.get("NAME") or b.properties.get("LAST_NAME")),
            "CODE": b.code,
            "OPENLINE": b.openline,
        }
        for b in bots
    }
    return listed or []


def _int(raw: Any) -> int:
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return 0


@method("imbot.message.add", "imbot")
def imbot_message_add(call: Call) -> int:
    call.require_app()
    bots = Bot.objects.filter(portal=call.portal, app=call.app).order_by("pk")
    bot_id = _int(call.param("BOT_ID"))
    bot = bots.filter(pk=bot_id).first() if bot_id else bots.first()
    if bot is None:
        raise RestError("BOT_ID_ERROR", "Bot not found")
    dialog = str(call.param("DIALOG_ID") or "")
    chat = None
    if dialog.startswith("chat"):
        chat = Chat.objects.filter(portal=call.portal, pk=_int(dialog[4:])).first()
    if chat is None:
        raise RestError("DIALOG_ID_EMPTY", "Dialog ID can't be empty")
    text = str(call.param("MESSAGE") or "").strip()
    if not text:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty")
    keyboard = call.param("KEYBOARD")
    buttons = (
        keyboard.get("BUTTONS", keyboard) if isinstance(keyboard, dict) else keyboard
    )
    message = ChatMessage.objects.create(
        chat=chat,
        author=ChatMessage.Author.BOT,
        author_id=bot.pk,
        text=text,
        keyboard=list(buttons.values()) if isinstance(buttons, dict) else buttons or [],
        system=str(call.param("SYSTEM") or "N").upper() == "Y",
    )
    # Bitrix24 tells the chat's bots about every message, their own included.
    _broadcast(chat, message)
    return message.pk


@method("imopenlines.bot.session.operator", "imopenlines")
def imopenlines_bot_session_operator(call: Call) -> bool:
    """The bot gives the chat to the line's operators, with a system notice."""
    call.require_app()
    chat = Chat.objects.filter(
        portal=call.portal, pk=_int(call.param("CHAT_ID"))
    ).first()
    if chat is None:
        raise RestError("CHAT_ID", "Chat ID can't be empty")
    if not chat.operator_mode:
        chat.operator_mode = True
        chat.save(update_fields=["operator_mode"])
        notice = ChatMessage.objects.create(
            chat=chat,
            author=ChatMessage.Author.SYSTEM,
            author_id=0,
            text=OPERATOR_NOTICE,
            system=True,
        )
        _broadcast(chat, notice)
    return True


# --- the client's side ----------------------------------------------------------


def chat_open(
    *, portal: Portal, client_name: str, lead_id: int | None, connector: str
) -> Chat:
    """A client opens a chat: the lead gets an IM (imol) row, as Bitrix24 does."""
    if lead_id is None:
        lead_id = crm.lead_create(
            portal=portal,
            fields={"TITLE": f"{connector}: {client_name}", "NAME": client_name},
            user_uid=1,
            robot=True,
        ).pk
    chat = Chat.objects.create(
        portal=portal, lead_id=lead_id, connector=connector, client_name=client_name
    )
    chat.client_uid = 1000 + chat.pk
    chat.session_id = 300 + chat.pk
    chat.save(update_fields=["client_uid", "session_id"])
    lead = Lead.objects.get(pk=lead_id)
    crm.apply_multifields(
        lead,
        {
            "IM": [
                {"VALUE": f"imol|{entity_id(chat)}", "VALUE_TYPE": "IMOL"},
            ]
        },
    )
    for bot, install in _line_bots(portal):
        events.emit_app_event(
            portal=portal,
            install=install,
            event="ONIMBOTJOINCHAT",
            handler=bot.handler_welcome,
            data=_join_data(chat, bot, install),
            user_uid=None,
        )
    return chat


def entity_id(chat: Chat) -> str:
    return f"{chat.connector}|{chat.line_id}|{chat.pk}|{chat.client_uid}"


def client_writes(*, chat: Chat, text: str, system: bool = False) -> ChatMessage:
    """A client's message: stored, and ONIMBOTMESSAGEADD to each open-line bot."""
    author = ChatMessage.Author.SYSTEM if system else ChatMessage.Author.CLIENT
    message = ChatMessage.objects.create(
        chat=chat, author=author, author_id=chat.client_uid, text=text, system=system
    )
    _broadcast(chat, message)
    return message


def operator_writes(*, chat: Chat, user: User, text: str) -> ChatMessage:
    """An operator (a portal user) answers in the chat; the bots hear it too."""
    message = ChatMessage.objects.create(
        chat=chat, author=ChatMessage.Author.OPERATOR, author_id=user.uid, text=text
    )
    _broadcast(chat, message, sender_uid=user.uid)
    return message


def _line_bots(portal: Portal) -> list[tuple[Bot, Install]]:
    """Open-line bots of installed apps (nothing reaches an app before that)."""
    found = []
    for bot in Bot.objects.filter(portal=portal, openline="Y").select_related("app"):
        install = Install.objects.filter(
            portal=portal, app=bot.app, active=True, installed=True
        ).first()
        if install is not None:
            found.append((bot, install))
    return found


def _broadcast(
    chat: Chat, message: ChatMessage, *, sender_uid: int | None = None
) -> None:
    for bot, install in _line_bots(chat.portal):
        events.emit_app_event(
            portal=chat.portal,
            install=install,
            event="ONIMBOTMESSAGEADD",
            handler=bot.handler_message_add,
            data=_message_data(chat, message, bot, install),
            user_uid=sender_uid,
        )


def _chat_params(chat: Chat) -> dict[str, str]:
    now = int(clock.now())
    return {
        "DIALOG_ID": f"chat{chat.pk}",
        "TO_CHAT_ID": str(chat.pk),
        "CHAT_ID": str(chat.pk),
        "MESSAGE_TYPE": "L",
        "CHAT_TYPE": "L",
        "CHAT_ENTITY_TYPE": "LINES",
        "CHAT_ENTITY_ID": entity_id(chat),
        "CHAT_ENTITY_DATA_1": (
            f"Y|LEAD|{chat.lead_id}|N|N|{chat.session_id}|{now}|0|0|0"
        ),
        "CHAT_ENTITY_DATA_2": f"LEAD|{chat.lead_id}|COMPANY|0|CONTACT|0|DEAL|0",
        "LANGUAGE": chat.portal.language,
    }


def _join_data(chat: Chat, bot: Bot, install: Install) -> dict[str, Any]:
    bot_auth = events.bot_auth(portal=chat.portal, install=install)
    return {
        "BOT": {str(bot.pk): {**bot_auth, "BOT_ID": str(bot.pk), "BOT_CODE": bot.code}},
        "PARAMS": {
            **_chat_params(chat),
            "BOT_ID": str(bot.pk),
            "USER_ID": str(chat.client_uid),
            "ACCESS_HISTORY": "N",
        },
        "USER": _client_user(chat),
    }


def _client_user(chat: Chat) -> dict[str, str]:
    return {
        "ID": str(chat.client_uid),
        "NAME": chat.client_name,
        "FIRST_NAME": chat.client_name,
        "LAST_NAME": "",
        "WORK_POSITION": "",
        "GENDER": "",
        "IS_BOT": "N",
        "IS_CONNECTOR": "Y",
        "IS_NETWORK": "N",
        "IS_EXTRANET": "Y",
    }


def _author_user(chat: Chat, message: ChatMessage, bot: Bot) -> dict[str, str]:
    if message.author in (ChatMessage.Author.CLIENT, ChatMessage.Author.SYSTEM):
        return _client_user(chat)
    if message.author == ChatMessage.Author.BOT:
        sender = Bot.objects.filter(pk=message.author_id).first() or bot
        name = str(sender.properties.get("NAME") or sender.properties.get("LAST_NAME"))
        work = str(sender.properties.get("WORK_POSITION") or "")
        is_bot = "Y"
    else:
        user = User.objects.filter(portal=chat.portal, uid=message.author_id).first()
        name = user.full_name if user else ""
        work = user.work_position if user else ""
        is_bot = "N"
    first, _, last = name.partition(" ")
    return {
        "ID": str(message.author_id),
        "NAME": name,
        "FIRST_NAME": first,
        "LAST_NAME": last,
        "WORK_POSITION": work,
        "GENDER": "",
        "IS_BOT": is_bot,
        "IS_CONNECTOR": "N",
        "IS_NETWORK": "N",
        "IS_EXTRANET": "N",
    }


def _message_data(
    chat: Chat, message: ChatMessage, bot: Bot, install: Install
) -> dict[str, Any]:
    bot_auth = events.bot_auth(portal=chat.portal, install=install)
    return {
        "BOT": {str(bot.pk): {**bot_auth, "BOT_ID": str(bot.pk), "BOT_CODE": bot.code}},
        "PARAMS": {
            **_chat_params(chat),
            "MESSAGE": message.text,
            "MESSAGE_ID": str(message.pk),
            "FROM_USER_ID": str(message.author_id),
            "AUTHOR_ID": str(message.author_id),
            "TO_USER_ID": "0",
            "SYSTEM": "Y" if message.system else "N",
        },
        "USER": _author_user(chat, message, bot),
    }
