import re

import pytest

from compliance.consent import ledger, panel
from compliance.consent.ledger import ChatPlace
from compliance.consent.models import Channel
from tests.consent.conftest import CLIENT, LEAD, MANAGER_ID, ask, reply

pytestmark = pytest.mark.django_db


def test_the_lead_panel_shows_each_purpose_with_version_and_history(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "Да, согласна", message_id=90002)

    shown = panel.lead_panel(portal=portal, lead_id=LEAD)

    (processing,) = shown["purposes"]
    assert processing["purpose_label"] == "Запись и напоминания"
    assert (processing["state"], processing["state_label"]) == ("granted", "Дано")
    assert processing["version"] == 1 and len(processing["sha256"]) == 64
    assert processing["document_url"].endswith("/processing/v1/")
    assert [h["kind"] for h in processing["history"]] == ["requested", "answered"]
    assert shown["can_withdraw"]
    assert "согласна" not in str(shown)


def test_a_lead_never_asked_shows_it(portal, salon_settings):
    shown = panel.lead_panel(portal=portal, lead_id=LEAD)

    (processing,) = shown["purposes"]
    assert processing["state"] == "" and processing["state_label"] == (
        "Не запрашивалось"
    )
    assert not shown["can_withdraw"]


def test_a_manager_records_a_withdrawal_and_the_panel_shows_the_deadline(
    portal, salon_settings
):
    ask(portal)
    reply(portal, "да", message_id=90002)

    panel.manager_withdrawal(
        portal=portal, lead_id=LEAD, manager_user_id=MANAGER_ID, note="Письмо от 3.12"
    )

    (processing,) = panel.lead_panel(portal=portal, lead_id=LEAD)["purposes"]
    assert processing["state"] == "withdrawn"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", processing["destroy_by"])
    assert processing["history"][-1]["by_user_id"] == MANAGER_ID
    assert ledger.client_status(
        portal=portal, client_ref=CLIENT, purpose="processing"
    ) == ("withdrawn")


def test_a_manager_withdrawal_needs_a_note(portal, salon_settings):
    with pytest.raises(ledger.LedgerError, match="how the client withdrew"):
        panel.manager_withdrawal(
            portal=portal, lead_id=LEAD, manager_user_id=MANAGER_ID, note="  "
        )


def _client(portal, lead_id, channel, answer):
    place = ChatPlace(channel=channel, chat_id=lead_id)
    ledger.consent_request(
        portal=portal,
        client_ref=f"lead:{lead_id}",
        lead_id=lead_id,
        purpose="processing",
        place=place,
        message_id=lead_id * 10,
    )
    if answer:
        ledger.consent_answer(
            portal=portal,
            client_ref=f"lead:{lead_id}",
            lead_id=lead_id,
            purpose="processing",
            reply=answer,
            place=place,
            message_id=lead_id * 10 + 1,
        )


def test_consent_rates_per_channel_count_clients_not_messages(portal, salon_settings):
    _client(portal, 1, Channel.TELEGRAM, "да")
    _client(portal, 2, Channel.TELEGRAM, "нет")
    _client(portal, 3, Channel.TELEGRAM, "")
    _client(portal, 4, Channel.WHATSAPP, "да")

    rates = panel.consent_rates(portal=portal)

    assert [(r.channel, r.asked, r.granted, r.denied) for r in rates] == [
        ("telegram", 3, 1, 1),
        ("whatsapp", 1, 1, 0),
    ]
    assert rates[0].rate == pytest.approx(1 / 3)


def test_the_chart_is_inline_svg_with_a_bar_per_channel(portal, salon_settings):
    _client(portal, 1, Channel.TELEGRAM, "да")
    _client(portal, 2, Channel.SITE, "нет")

    svg = panel.rates_svg(panel.consent_rates(portal=portal))

    assert svg.startswith("<svg") and "<script" not in svg
    assert 'data-channel="telegram" data-rate="100"' in svg
    assert 'data-channel="site" data-rate="0"' in svg
    assert "Чат на сайте" in svg
    assert panel.rates_svg([]) == ""


def test_the_panel_speaks_english_on_an_english_portal(portal, salon_settings):
    from django.utils import translation

    ask(portal)
    reply(portal, "да", message_id=90002)

    with translation.override("en"):
        (processing,) = panel.lead_panel(portal=portal, lead_id=LEAD)["purposes"]

    assert processing["purpose_label"] == "Booking and reminders"
    assert processing["state_label"] == "Granted"
    assert processing["history"][0]["kind_label"] == "Requested"
