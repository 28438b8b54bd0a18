"""The lead tab's consent block and a manager's recorded withdrawal, over HTTP."""

import pytest
import requests

from aigateway.consent_gate import processing_allowed
from compliance.consent import ledger
from compliance.consent.ledger import ChatPlace
from compliance.consent.models import Channel, ConsentEvent
from integrator import placement
from tests.integrator.conftest import MANAGER, OUTSIDER
from tests.integrator.test_lead_tab import open_tab, tab_data

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

CHAT = ChatPlace(channel=Channel.TELEGRAM, connector_id="telegrambot", chat_id=77)


@pytest.fixture
def granted_lead(salon):
    lead_id = salon.driver.create_lead(salon.ref, {"TITLE": "Маникюр"}, user_id=MANAGER)
    portal = salon.stored()
    ledger.consent_request(
        portal=portal,
        client_ref=f"lead:{lead_id}",
        lead_id=lead_id,
        purpose="processing",
        place=CHAT,
        message_id=100,
    )
    ledger.consent_answer(
        portal=portal,
        client_ref=f"lead:{lead_id}",
        lead_id=lead_id,
        purpose="processing",
        reply="Да",
        place=CHAT,
        message_id=101,
    )
    return lead_id


def tab_call(salon, path: str, token: str, **kwargs) -> requests.Response:
    headers = {placement.TAB_TOKEN_HEADER: token}
    verb = requests.post if "json" in kwargs else requests.get
    return verb(f"{salon.app_url}{path}", headers=headers, timeout=30, **kwargs)


def test_the_manager_sees_consent_granted_with_its_text_version(salon, granted_lead):
    page = open_tab(salon, granted_lead, MANAGER)

    assert page.status_code == 200
    assert 'data-purpose="processing" data-state="granted"' in page.text
    assert "текст v1" in page.text
    assert "/processing/v1/" in page.text


def test_the_manager_records_a_withdrawal_by_phone(salon, granted_lead):
    tab = tab_data(open_tab(salon, granted_lead, MANAGER).text)

    response = tab_call(
        salon, tab["withdraw_url"], tab["token"], json={"note": "Позвонила сама"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["panel"]["purposes"][0]["state"] == "withdrawn"
    assert "Уничтожить данные до" in body["html"]
    event = ConsentEvent.objects.get(kind="withdrawn")
    assert (event.actor_user_id, event.channel) == (MANAGER, "manager")
    assert event.note == "Позвонила сама"
    assert not processing_allowed(salon.stored(), f"lead:{granted_lead}")


def test_a_withdrawal_without_a_note_is_refused_and_changes_nothing(
    salon, granted_lead
):
    tab = tab_data(open_tab(salon, granted_lead, MANAGER).text)

    response = tab_call(salon, tab["withdraw_url"], tab["token"], json={"note": " "})

    assert response.status_code == 400
    assert not ConsentEvent.objects.filter(kind="withdrawn").exists()


def test_a_forged_token_cannot_withdraw(salon, granted_lead):
    tab = tab_data(open_tab(salon, granted_lead, MANAGER).text)

    response = tab_call(
        salon, tab["withdraw_url"], tab["token"] + "x", json={"note": "подделка"}
    )

    assert response.status_code == 401
    assert not ConsentEvent.objects.filter(kind="withdrawn").exists()


def test_an_outsider_gets_no_tab_and_so_no_token(salon, granted_lead):
    page = open_tab(salon, granted_lead, OUTSIDER)

    assert page.status_code in (403, 404)
    assert 'id="pdn-tab"' not in page.text


def test_the_consent_block_reloads_by_the_token(salon, granted_lead):
    tab = tab_data(open_tab(salon, granted_lead, MANAGER).text)

    response = tab_call(salon, tab["consent_url"], tab["token"])

    assert response.status_code == 200
    assert response.json()["panel"]["can_withdraw"] is True
