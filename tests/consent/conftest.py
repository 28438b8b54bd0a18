import itertools
from collections.abc import Callable

import pytest

from compliance.consent import documents, ledger
from compliance.consent.ledger import ChatPlace
from compliance.consent.models import Channel, ConsentSettings
from compliance.journal import Actor
from integrator.models import Portal

# The installed sandbox portal of the integrator's tests, shared.
from tests.integrator.conftest import salon, salon_portal, sandbox  # noqa: F401

_numbers = itertools.count(1)

ADMIN = Actor.user(1, "admin")
MANAGER_ID = 7
BOT_ID = 567
CLIENT_USER_ID = 2081

# The open line of C15: a Telegram client in chat 3301 bound to lead 1209.
TELEGRAM_CHAT = ChatPlace(
    channel=Channel.TELEGRAM,
    connector_id="telegrambot",
    line_id=22,
    chat_id=3301,
    dialog_id="chat3301",
    channel_ref="telegrambot|22|1775|599",
)
LEAD = 1209
CLIENT = "lead:1209"


@pytest.fixture
def make_portal() -> Callable[..., Portal]:
    def make(member_id: str = "") -> Portal:
        n = next(_numbers)
        member_id = member_id or f"cs-{n:03d}"
        return Portal.objects.create(
            member_id=member_id,
            domain=f"{member_id}.bitrix24.ru",
            client_endpoint=f"https://{member_id}.bitrix24.ru/rest/",
            server_endpoint="https://oauth.bitrix.info/rest/",
            application_token=f"app-token-{n}",
            status=Portal.Status.ACTIVE,
        )

    return make


@pytest.fixture
def portal(make_portal: Callable[..., Portal]) -> Portal:
    return make_portal("cs-salon")


@pytest.fixture
def salon_settings(portal: Portal) -> ConsentSettings:
    """A beauty salon in Rostov-on-Don with an AI vendor as processor."""
    documents.settings_update(
        portal=portal,
        actor=ADMIN,
        operator_name="ИП Смирнова Анна Сергеевна",
        operator_address="344002, г. Ростов-на-Дону, ул. Большая Садовая, д. 1",
        inn="616100000000",
        withdraw_contact="salon@example.ru",
        processors=[
            {
                "name": "ООО «Облако»",
                "address": "г. Москва, ул. Льва Толстого, д. 16",
                "role": "хостинг и ИИ-ассистент",
            }
        ],
    )
    return documents.settings_for(portal)


def ask(portal: Portal, purpose: str = "processing", message_id: int = 90001):
    """The bot puts the purpose's current text to the C15 client."""
    return ledger.consent_request(
        portal=portal,
        client_ref=CLIENT,
        lead_id=LEAD,
        purpose=purpose,
        place=TELEGRAM_CHAT,
        message_id=message_id,
        bot_id=BOT_ID,
    )


def reply(
    portal: Portal, text: str, message_id: int, purpose: str = "processing"
) -> ledger.Answered:
    return ledger.consent_answer(
        portal=portal,
        client_ref=CLIENT,
        lead_id=LEAD,
        purpose=purpose,
        reply=text,
        place=TELEGRAM_CHAT,
        message_id=message_id,
        bot_id=BOT_ID,
    )
