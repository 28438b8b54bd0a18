"""The admin's consent settings on the app page: texts, versions, the rate chart."""

import json
import re
from typing import Any

import pytest
import requests

from compliance.consent import ledger
from compliance.consent.ledger import ChatPlace
from compliance.consent.models import Channel, ConsentDocument
from integrator import placement
from tests.integrator.conftest import ADMIN, MANAGER

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

PAGE_DATA = re.compile(
    r'<script id="pdn-app-data" type="application/json">(.*?)</script>'
)


def open_app(salon, user_id: int) -> requests.Response:
    frame = salon.driver.open_app(salon.ref, user_id=user_id)
    return requests.post(frame.url, data=frame.form, timeout=30)


def page_data(page: str) -> dict[str, Any]:
    match = PAGE_DATA.search(page)
    assert match, "the page carries no data for its script"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def save(salon, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{salon.app_url}/b24/app/consent/",
        json=body,
        headers={placement.TAB_TOKEN_HEADER: token},
        timeout=30,
    )


def test_the_admin_sees_the_current_text_and_its_hash(salon):
    page = open_app(salon, ADMIN)

    assert page.status_code == 200
    document = ConsentDocument.objects.get(purpose="processing")
    assert document.sha256 in page.text
    assert 'class="pdn-text-version">v1<' in page.text
    assert "Запросов согласия ещё не было" in page.text


def test_the_admin_fills_the_operator_and_a_new_version_is_published(salon):
    token = page_data(open_app(salon, ADMIN).text)["token"]

    response = save(
        salon,
        token,
        {"settings": {"operator_name": "ООО «Салон Лилия»", "marketing": True}},
    )

    assert response.status_code == 200
    texts = {t["purpose"]: t for t in response.json()["consent"]["texts"]}
    assert texts["processing"]["version"] == 2
    assert "ООО «Салон Лилия»" in texts["processing"]["text"]
    assert texts["marketing"]["version"] == 1
    assert ConsentDocument.objects.get(purpose="processing", version=1)


def test_editing_a_text_publishes_it_and_keeps_the_old_one(salon):
    token = page_data(open_app(salon, ADMIN).text)["token"]
    old = ConsentDocument.objects.get(purpose="processing", version=1)

    response = save(
        salon,
        token,
        {"purpose": "processing", "text": old.text + "\nДополнение оператора."},
    )

    assert response.status_code == 200
    assert ConsentDocument.objects.filter(purpose="processing").count() == 2
    assert "Дополнение оператора" not in ConsentDocument.objects.get(pk=old.pk).text


def test_a_bad_text_gets_a_clear_error(salon):
    token = page_data(open_app(salon, ADMIN).text)["token"]

    response = save(salon, token, {"purpose": "processing", "text": "Да."})

    assert response.status_code == 400
    assert "too short" in response.json()["error"]


def test_a_manager_gets_no_settings_and_a_forged_token_changes_nothing(salon):
    page = open_app(salon, MANAGER)
    forged = save(salon, "x", {"settings": {"operator_name": "Взломщик"}})

    assert page.status_code == 403 and 'id="pdn-app-data"' not in page.text
    assert forged.status_code == 401
    assert not ConsentDocument.objects.filter(text__contains="Взломщик").exists()


def test_the_rate_per_channel_is_drawn_as_inline_svg(salon):
    portal = salon.stored()
    for number, channel, reply in (
        (1, Channel.TELEGRAM, "да"),
        (2, Channel.TELEGRAM, "нет"),
        (3, Channel.WHATSAPP, "да"),
    ):
        place = ChatPlace(channel=channel, chat_id=number)
        ref = f"lead:{number}"
        ledger.consent_request(
            portal=portal,
            client_ref=ref,
            lead_id=number,
            purpose="processing",
            place=place,
            message_id=number * 10,
        )
        ledger.consent_answer(
            portal=portal,
            client_ref=ref,
            lead_id=number,
            purpose="processing",
            reply=reply,
            place=place,
            message_id=number * 10 + 1,
        )

    page = open_app(salon, ADMIN)

    assert 'data-channel="telegram" data-rate="50"' in page.text
    assert 'data-channel="whatsapp" data-rate="100"' in page.text
    assert "<script src=" not in page.text.split('id="pdn-rates"')[1].split("</div>")[0]
