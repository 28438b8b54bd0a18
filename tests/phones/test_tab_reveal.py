"""Reveal from the lead tab: the tab's signed token, a reason, the right, Russian."""

import json

import pytest

from compliance.journal import Actor
from compliance.models import JournalEntry
from compliance.phones.models import RevealNote
from compliance.phones.policy import department_role_assign
from compliance.roles import role_assign
from tests.phones.conftest import ADMIN, MANAGER, OWN_MANAGER

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

PHONES = "/b24/tab/phones/"
REVEAL = "/b24/tab/phones/reveal/"
ADMIN_ACTOR = Actor.user(ADMIN, "admin")


def _journal(action):
    return [
        (e.actor_user_id, json.loads(e.details))
        for e in JournalEntry.objects.filter(action=action).order_by("seq")
    ]


@pytest.fixture
def lead_id(framed):
    return framed.protected_lead("8 (900) 123-45-67")


@pytest.fixture
def manager_may_reveal(framed):
    role_assign(
        portal=framed.portal, b24_user_id=MANAGER, role="revealer", actor=ADMIN_ACTOR
    )


def test_the_tab_page_carries_the_phone_block_and_its_addresses(framed, lead_id):
    page = framed.open_tab(lead_id, MANAGER)

    assert 'id="pdn-phones"' in page.text
    tab = framed.tab(lead_id, MANAGER)
    assert (tab["phones_url"], tab["phones_reveal_url"]) == (PHONES, REVEAL)


def test_a_manager_with_the_right_reveals_a_number_for_a_reason(
    framed, lead_id, manager_may_reveal
):
    tab = framed.tab(lead_id, MANAGER)

    listed = framed.tab_call(tab, PHONES).json()
    shown = framed.tab_call(tab, REVEAL, {"index": 0, "reason": "callback"})

    assert listed["phones"] == [{"index": 0, "masked": "+7 900 ***-**-67"}]
    assert listed["can_reveal"] is True
    assert [r["label"] for r in listed["reasons"]] == [
        "Звонок клиенту",
        "Запись или бронирование",
        "Запрос субъекта персональных данных",
        "Другое (укажите причину)",
    ]
    assert shown.status_code == 200
    assert shown.json() == {
        "phone": "+7 900 123-45-67",
        "e164": "+79001234567",
        "visible_seconds": 60,
    }
    assert shown.headers["Cache-Control"] == "no-store"
    [(user, details)] = _journal("lead.phone.revealed")
    assert (user, details["reason"], details["channel"]) == (
        MANAGER,
        "callback",
        "lead_tab",
    )


def test_a_department_grant_reaches_the_tab_through_the_users_departments(framed):
    # Олег sees his own leads only.
    lead_id = framed.protected_lead("8 (900) 123-45-67", user_id=OWN_MANAGER)
    # Every sandbox user is in department 1 (user.current's UF_DEPARTMENT).
    department_role_assign(
        portal=framed.portal, department_id=1, role="revealer", actor=ADMIN_ACTOR
    )
    tab = framed.tab(lead_id, OWN_MANAGER)

    assert framed.tab_call(tab, PHONES).json()["can_reveal"] is True
    shown = framed.tab_call(tab, REVEAL, {"index": 0, "reason": "appointment"})
    assert shown.status_code == 200


def test_a_reveal_without_the_right_is_refused_in_russian_and_journaled(
    framed, lead_id
):
    tab = framed.tab(lead_id, MANAGER)

    listed = framed.tab_call(tab, PHONES).json()
    refused = framed.tab_call(tab, REVEAL, {"index": 0, "reason": "callback"})

    assert listed["can_reveal"] is False
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "no_right"
    assert "нет права" in refused.json()["error"]["message"]
    assert "9001234567" not in refused.text
    assert _journal("lead.phone.reveal_refused") == [
        (MANAGER, {"refusal": "no_right", "reason": "callback"})
    ]


def test_a_reveal_without_a_reason_is_refused_and_journaled(
    framed, lead_id, manager_may_reveal
):
    tab = framed.tab(lead_id, MANAGER)

    refused = framed.tab_call(tab, REVEAL, {"index": 0, "reason": ""})

    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "Выберите причину, по которой нужен номер."
    )
    assert _journal("lead.phone.reveal_refused") == [
        (MANAGER, {"refusal": "no_reason", "reason": ""})
    ]
    assert _journal("lead.phone.revealed") == []


def test_other_with_the_managers_words_keeps_the_words_out_of_the_journal(
    framed, lead_id, manager_may_reveal
):
    tab = framed.tab(lead_id, MANAGER)

    shown = framed.tab_call(
        tab,
        REVEAL,
        {"index": 0, "reason": "other", "note": "Смирнова просила перезвонить"},
    )

    assert shown.status_code == 200
    note = RevealNote.objects.get()
    assert (note.lead_id, note.b24_user_id) == (lead_id, MANAGER)
    assert note.text == "Смирнова просила перезвонить"
    [(_user, details)] = _journal("lead.phone.revealed")
    assert (details["reason"], details["note"]) == ("other", f"revealnote#{note.pk}")
    assert "Смирнова" not in JournalEntry.objects.values_list("details", flat=True)[0]


def test_the_reveal_needs_the_tabs_token_not_a_cookie(
    framed, lead_id, manager_may_reveal
):
    tab = framed.tab(lead_id, MANAGER)
    missing = framed.tab_call({"header": "X-PDN-Tab-Token", "token": ""}, REVEAL, {})
    forged = framed.tab_call(
        {"header": "X-PDN-Tab-Token", "token": tab["token"] + "x"},
        REVEAL,
        {"index": 0, "reason": "callback"},
    )

    assert (missing.status_code, forged.status_code) == (401, 401)
    assert JournalEntry.objects.filter(action__startswith="lead.phone.re").count() == 0
