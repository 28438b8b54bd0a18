"""A manager reveals a lead's original number: reason, right, limit, journal."""

import json

import pytest
from django.test import override_settings

from compliance import vault
from compliance.journal import Actor
from compliance.models import JournalEntry
from compliance.phones.models import RevealAlert
from compliance.phones.policy import department_role_assign
from compliance.phones.reveal import RevealRefused, lead_phone_reveal
from compliance.roles import role_assign
from tests.phones.conftest import ADMIN, MANAGER, OUTSIDER

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

ADMIN_ACTOR = Actor.user(ADMIN, "admin")
SALES = 7


@pytest.fixture
def lead_id(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67", "8 812 555-01-23")
    salon.protect(lead_id)
    return lead_id


@pytest.fixture
def revealer(salon):
    role_assign(
        portal=salon.portal, b24_user_id=MANAGER, role="revealer", actor=ADMIN_ACTOR
    )
    return MANAGER


def _reveal(salon, lead_id, user_id, reason="callback", **more):
    return lead_phone_reveal(
        portal=salon.portal,
        lead_id=lead_id,
        b24_user_id=user_id,
        reason=reason,
        **more,
    )


def _entries(action):
    return [
        (e.actor_user_id, e.subject, json.loads(e.details))
        for e in JournalEntry.objects.filter(action=action).order_by("seq")
    ]


def test_a_manager_with_the_right_sees_the_number_for_a_reason(
    salon, lead_id, revealer
):
    shown = lead_phone_reveal(
        portal=salon.portal, lead_id=lead_id, b24_user_id=revealer, reason="callback"
    )

    assert (shown.phone, shown.display) == ("+79001234567", "+7 900 123-45-67")
    assert shown.visible_seconds == 60
    [(user, subject, details)] = _entries("lead.phone.revealed")
    assert (user, subject) == (MANAGER, f"lead#{lead_id}")
    assert details["phone"] == vault.pseudonym(salon.portal, "+79001234567")
    assert details["reason"] == "callback"


def test_the_second_number_is_revealed_by_its_place(salon, lead_id, revealer):
    shown = lead_phone_reveal(
        portal=salon.portal,
        lead_id=lead_id,
        b24_user_id=revealer,
        reason="appointment",
        index=1,
    )

    assert shown.phone == "+78125550123"


def test_a_reveal_without_the_right_is_refused_and_journaled(salon, lead_id):
    with pytest.raises(RevealRefused) as refused:
        _reveal(salon, lead_id, OUTSIDER)

    assert (refused.value.code, refused.value.status) == ("no_right", 403)
    assert "нет права" in str(refused.value.message)
    assert _entries("lead.phone.revealed") == []
    assert _entries("lead.phone.reveal_refused") == [
        (OUTSIDER, f"lead#{lead_id}", {"refusal": "no_right", "reason": "callback"})
    ]


@pytest.mark.parametrize("reason", ["", "curiosity", "Позвонить"])
def test_a_reveal_without_a_reason_is_refused_and_journaled(
    salon, lead_id, revealer, reason
):
    with pytest.raises(RevealRefused) as refused:
        lead_phone_reveal(
            portal=salon.portal, lead_id=lead_id, b24_user_id=revealer, reason=reason
        )

    assert (refused.value.code, refused.value.status) == ("no_reason", 400)
    assert _entries("lead.phone.reveal_refused") == [
        (MANAGER, f"lead#{lead_id}", {"refusal": "no_reason", "reason": ""})
    ]
    assert _entries("lead.phone.revealed") == []


def test_other_without_the_managers_own_words_is_refused(salon, lead_id, revealer):
    with pytest.raises(RevealRefused) as refused:
        lead_phone_reveal(
            portal=salon.portal,
            lead_id=lead_id,
            b24_user_id=revealer,
            reason="other",
            note="   ",
        )

    assert refused.value.code == "no_note"
    assert _entries("lead.phone.revealed") == []


def test_a_department_grant_gives_its_members_the_right(salon, lead_id):
    department_role_assign(
        portal=salon.portal, department_id=SALES, role="revealer", actor=ADMIN_ACTOR
    )

    shown = lead_phone_reveal(
        portal=salon.portal,
        lead_id=lead_id,
        b24_user_id=MANAGER,
        departments=[1, SALES],
        reason="subject_request",
    )
    with pytest.raises(RevealRefused):
        lead_phone_reveal(
            portal=salon.portal,
            lead_id=lead_id,
            b24_user_id=MANAGER,
            departments=[1],
            reason="subject_request",
        )

    assert shown.phone == "+79001234567"
    [(_user, subject, details)] = _entries("role.assigned")
    assert (subject, details) == (f"department#{SALES}", {"role": "revealer"})


def test_an_auditor_does_not_reveal_even_with_the_right(salon, lead_id, revealer):
    department_role_assign(
        portal=salon.portal, department_id=SALES, role="auditor", actor=ADMIN_ACTOR
    )

    with pytest.raises(RevealRefused) as refused:
        lead_phone_reveal(
            portal=salon.portal,
            lead_id=lead_id,
            b24_user_id=revealer,
            departments=[SALES],
            reason="callback",
        )

    assert refused.value.code == "no_right"


@override_settings(PDN_REVEAL_LIMIT=2, PDN_REVEAL_WINDOW=600)
def test_a_burst_is_refused_and_alerts_the_admin_once(salon, lead_id, revealer):
    for _ in range(2):
        _reveal(salon, lead_id, revealer)
    codes = []
    for _ in range(2):
        with pytest.raises(RevealRefused) as refused:
            _reveal(salon, lead_id, revealer)
        codes.append((refused.value.code, refused.value.status))

    assert codes == [("rate_limited", 429)] * 2
    [alert] = RevealAlert.objects.filter(portal=salon.portal)
    assert (alert.b24_user_id, alert.attempts) == (MANAGER, 3)
    assert len(_entries("lead.phone.revealed")) == 2
    assert [d["refusal"] for _u, _s, d in _entries("lead.phone.reveal_refused")] == [
        "rate_limited",
        "rate_limited",
    ]


def test_a_lead_without_a_protected_number_has_nothing_to_reveal(salon, revealer):
    lead_id = salon.new_lead()

    with pytest.raises(RevealRefused) as refused:
        _reveal(salon, lead_id, revealer)

    assert (refused.value.code, refused.value.status) == ("no_phone", 404)
