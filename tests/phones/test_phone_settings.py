"""The admin's phone settings on the app page: phone mode and roles, journaled."""

import json

import pytest
from django.test import override_settings

from compliance.journal import Actor
from compliance.models import JournalEntry, Role
from compliance.phones.models import DepartmentRole, PhonePolicy
from compliance.phones.reveal import RevealRefused, lead_phone_reveal
from compliance.roles import role_assign
from tests.phones.conftest import ADMIN, MANAGER, hidden

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])

SETTINGS = "/b24/settings/phones/"


@pytest.fixture
def token(framed):
    page = framed.open_app(ADMIN)
    assert page.status_code == 200
    assert 'id="pdn-phone-settings"' in page.text
    return hidden(page.text, "pdn-role-form")


def _change(framed, token, **fields):
    return framed.post_app(SETTINGS, {"token": token, **fields})


def _journal(action):
    return [
        (e.subject, json.loads(e.details))
        for e in JournalEntry.objects.filter(action=action).order_by("seq")
    ]


def test_the_admin_gives_a_user_the_reveal_right(framed, token):
    page = _change(
        framed, token, op="grant", role="revealer", kind="user", target=str(MANAGER)
    )

    assert page.status_code == 200
    assert "Роли сохранены." in page.text
    assert f'data-role="revealer" data-user="{MANAGER}"' in page.text
    assert Role.objects.filter(b24_user_id=MANAGER, role="revealer").exists()
    assert _journal("role.assigned") == [(f"user#{MANAGER}", {"role": "revealer"})]


def test_the_admin_makes_a_department_auditors_and_takes_it_back(framed, token):
    _change(framed, token, op="grant", role="auditor", kind="department", target="5")
    page = _change(
        framed, token, op="revoke", role="auditor", kind="department", target="5"
    )

    assert page.status_code == 200
    assert not DepartmentRole.objects.exists()
    assert _journal("role.assigned") == [("department#5", {"role": "auditor"})]
    assert _journal("role.revoked") == [("department#5", {"role": "auditor"})]


def test_revealing_and_auditing_stay_apart(framed, token):
    _change(framed, token, op="grant", role="revealer", kind="user", target="2")

    page = _change(framed, token, op="grant", role="auditor", kind="user", target="2")

    assert page.status_code == 400
    assert "нельзя одновременно" in page.text
    assert list(Role.objects.values_list("role", flat=True)) == ["revealer"]


def test_an_id_that_is_not_a_number_is_explained_and_changes_nothing(framed, token):
    page = _change(
        framed, token, op="grant", role="revealer", kind="user", target="Мария"
    )

    assert page.status_code == 400
    assert "числовой ID" in page.text
    assert not Role.objects.exists()


def test_the_admin_keeps_the_phone_field_for_telephony(framed, token):
    page = _change(framed, token, op="mode", mode="keep")

    assert "Режим телефона сохранён." in page.text
    assert PhonePolicy.objects.get(portal=framed.portal).mode == "keep"
    assert _journal("settings.changed") == [
        ("", {"setting": "phone_mode", "value": "keep"})
    ]


def test_a_forged_settings_token_changes_nothing(framed, token):
    page = _change(
        framed, token + "x", op="grant", role="revealer", kind="user", target="2"
    )

    assert page.status_code == 401
    assert not Role.objects.exists()


def test_a_manager_never_sees_the_settings(framed):
    page = framed.open_app(MANAGER)

    assert page.status_code == 403
    assert "pdn-phone-settings" not in page.text


@override_settings(PDN_REVEAL_LIMIT=1)
def test_the_admin_sees_an_alert_when_a_manager_reveals_too_many(framed):
    portal = framed.portal
    role_assign(
        portal=portal,
        b24_user_id=MANAGER,
        role="revealer",
        actor=Actor.user(ADMIN, "admin"),
    )
    lead_id = framed.protected_lead("8 (900) 123-45-67")
    lead_phone_reveal(
        portal=portal, lead_id=lead_id, b24_user_id=MANAGER, reason="callback"
    )
    with pytest.raises(RevealRefused):
        lead_phone_reveal(
            portal=portal, lead_id=lead_id, b24_user_id=MANAGER, reason="callback"
        )

    page = framed.open_app(ADMIN)

    assert 'id="pdn-reveal-alerts"' in page.text
    assert (
        f"пользователь {MANAGER} превысил предел раскрытий номеров (попыток: 2)"
        in page.text
    )
