"""Phones of a lead protected in its own fields, over HTTP against the sandbox."""

import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from compliance import vault
from compliance.journal import Actor
from compliance.lead_phones import (
    HASH_FIELD,
    ORIGINAL_FIELD,
    lead_originals_reseal,
    lead_phones_protect,
)
from compliance.models import JournalEntry
from compliance.phones.policy import phone_mode_set
from tests.compliance.test_vault import GROUPS, ROTATED_KEYS
from tests.integrator.rest_support import installed_portal
from tests.phones.conftest import ADMIN, MANAGER

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def _digits_of(e164: str) -> list[str]:
    national = e164[2:]
    return [national, national[-7:], national[-6:]]


def test_every_writing_in_c08_gives_one_pseudonym(salon):
    by_number: dict[str, set[str]] = {}
    for e164, writings in GROUPS.items():
        for raw in writings:
            lead_id = salon.new_lead(raw)
            salon.protect(lead_id)
            by_number.setdefault(e164, set()).add(salon.lead(lead_id)[HASH_FIELD])

    assert all(len(found) == 1 for found in by_number.values())
    assert len(set().union(*by_number.values())) == len(GROUPS)
    for e164, found in by_number.items():
        assert found == {vault.pseudonym(salon.portal, e164)}


def test_mask_mode_leaves_exactly_one_masked_item_per_number(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67", "+7 812 555 01 23")
    item_ids = [item["ID"] for item in salon.phones(lead_id)]

    outcome = salon.protect(lead_id)

    phones = salon.phones(lead_id)
    assert [item["ID"] for item in phones] == item_ids
    assert [item["VALUE"] for item in phones] == [
        "+7 900 ***-**-67",
        "+7 812 ***-**-23",
    ]
    assert (outcome.written, outcome.masked, outcome.removed) == (True, 2, 0)


def test_one_number_written_twice_keeps_one_item(salon):
    lead_id = salon.new_lead("89001234567", "+7 (900) 123-45-67")
    first_id = salon.phones(lead_id)[0]["ID"]

    outcome = salon.protect(lead_id)

    phones = salon.phones(lead_id)
    assert [(i["ID"], i["VALUE"]) for i in phones] == [(first_id, "+7 900 ***-**-67")]
    assert salon.lead(lead_id)[HASH_FIELD] == vault.pseudonym(
        salon.portal, "+79001234567"
    )
    assert outcome.removed == 1


def test_the_original_opens_only_through_the_vault(salon):
    lead_id = salon.new_lead("8 900 123-45-67")

    salon.protect(lead_id)

    lead = salon.lead(lead_id)
    text = json.dumps(lead, ensure_ascii=False)
    assert not any(digits in text for digits in _digits_of("+79001234567"))
    assert vault.decrypt_phone(salon.portal, lead[ORIGINAL_FIELD]) == "+79001234567"


def test_several_numbers_are_stored_as_lists_in_item_order(salon):
    lead_id = salon.new_lead("8 812 555-01-23", "8 800 555-35-35")

    salon.protect(lead_id)

    lead = salon.lead(lead_id)
    numbers = [
        vault.decrypt_phone(salon.portal, sealed)
        for sealed in lead[ORIGINAL_FIELD].split()
    ]
    assert numbers == ["+78125550123", "+78005553535"]
    assert lead[HASH_FIELD].split() == [
        vault.pseudonym(salon.portal, n) for n in numbers
    ]


def test_keep_mode_leaves_the_phone_field_for_telephony(salon):
    phone_mode_set(portal=salon.portal, mode="keep", actor=Actor.user(ADMIN, "admin"))
    lead_id = salon.new_lead("8 (900) 123-45-67")

    outcome = salon.protect(lead_id)

    lead = salon.lead(lead_id)
    assert [item["VALUE"] for item in lead["PHONE"]] == ["8 (900) 123-45-67"]
    assert lead[HASH_FIELD] == vault.pseudonym(salon.portal, "+79001234567")
    assert (outcome.written, outcome.masked) == (True, 0)
    assert salon.protect(lead_id).written is False


def test_the_echo_of_the_apps_own_write_changes_nothing(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")
    salon.protect(lead_id)
    before = salon.lead(lead_id)
    entries = JournalEntry.objects.count()

    echo = salon.protect(lead_id)

    assert echo.written is False
    assert salon.lead(lead_id) == before
    assert JournalEntry.objects.count() == entries
    assert len(salon.updates()) == 1


def test_an_event_storm_of_own_writes_settles_after_one_write(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67", "8 812 555-01-23")
    outcomes = []

    def worker() -> None:
        try:
            outcomes.append(salon.protect(lead_id))
        finally:
            connection.close()

    # The added event, repeated, and each echo handled again, some at once.
    for _round in range(3):
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [o.written for o in outcomes].count(True) == 1
    assert len(salon.updates()) == 1
    assert JournalEntry.objects.filter(action="lead.phone.protected").count() == 1


def test_a_number_the_manager_edits_later_is_protected_again(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")
    salon.protect(lead_id)
    item_id = salon.phones(lead_id)[0]["ID"]

    salon.sandbox.update_lead(
        salon.ref,
        lead_id,
        {"PHONE": [{"ID": item_id, "VALUE": "8 (900) 765-43-21"}]},
        user_id=MANAGER,
    )
    outcome = salon.protect(lead_id)

    lead = salon.lead(lead_id)
    assert [(i["ID"], i["VALUE"]) for i in lead["PHONE"]] == [
        (item_id, "+7 900 ***-**-21")
    ]
    assert vault.decrypt_phone(salon.portal, lead[ORIGINAL_FIELD]) == "+79007654321"
    assert outcome.pseudonyms == (vault.pseudonym(salon.portal, "+79007654321"),)
    assert salon.protect(lead_id).written is False


def test_a_number_added_beside_a_masked_one_joins_it(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")
    salon.protect(lead_id)
    salon.sandbox.update_lead(
        salon.ref,
        lead_id,
        {"PHONE": [{"VALUE": "8 812 555-01-23", "VALUE_TYPE": "WORK"}]},
        user_id=MANAGER,
    )

    salon.protect(lead_id)

    lead = salon.lead(lead_id)
    assert [i["VALUE"] for i in lead["PHONE"]] == [
        "+7 900 ***-**-67",
        "+7 812 ***-**-23",
    ]
    assert [
        vault.decrypt_phone(salon.portal, s) for s in lead[ORIGINAL_FIELD].split()
    ] == ["+79001234567", "+78125550123"]


def test_a_number_removed_from_the_lead_leaves_its_fields(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")
    salon.protect(lead_id)
    item_id = salon.phones(lead_id)[0]["ID"]

    salon.sandbox.update_lead(
        salon.ref, lead_id, {"PHONE": [{"ID": item_id, "DELETE": "Y"}]}
    )
    salon.protect(lead_id)

    lead = salon.lead(lead_id)
    assert (lead.get(HASH_FIELD) or "", lead.get(ORIGINAL_FIELD) or "") == ("", "")


def test_text_that_is_no_phone_number_is_left_alone(salon):
    lead_id = salon.new_lead("звоните после обеда")

    outcome = salon.protect(lead_id)

    assert [i["VALUE"] for i in salon.phones(lead_id)] == ["звоните после обеда"]
    assert (outcome.written, outcome.invalid) == (False, 1)


def test_a_lead_deleted_before_processing_is_reported_gone(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")
    salon.sandbox.delete_lead(salon.ref, lead_id)

    assert salon.protect(lead_id).exists is False


def test_the_journal_names_the_lead_and_pseudonyms_only(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67")

    salon.protect(lead_id)

    entry = JournalEntry.objects.get(action="lead.phone.protected")
    assert entry.subject == f"lead#{lead_id}"
    assert json.loads(entry.details)["phones"] == [
        vault.pseudonym(salon.portal, "+79001234567")
    ]
    text = f"{entry.subject} {entry.details}"
    assert not any(digits in text for digits in _digits_of("+79001234567"))


def test_key_rotation_reseals_originals_and_rekeys_pseudonyms_in_one_write(salon):
    lead_id = salon.new_lead("8 (900) 123-45-67", "8 812 555-01-23")
    salon.protect(lead_id)

    with override_settings(PDN_MASTER_KEYS=ROTATED_KEYS):
        assert lead_originals_reseal(salon.portal, True) == 1
        call_command("rotate_keys", "--portal", salon.portal.member_id)

        lead = salon.lead(lead_id)
        sealed = lead[ORIGINAL_FIELD].split()
        assert [s[:3] for s in sealed] == ["v2:", "v2:"]
        numbers = [vault.decrypt_phone(salon.portal, s) for s in sealed]
        assert numbers == ["+79001234567", "+78125550123"]
        assert lead[HASH_FIELD].split() == [
            vault.pseudonym(salon.portal, n, version=2) for n in numbers
        ]
        assert salon.protect(lead_id).written is False
        assert lead_originals_reseal(salon.portal, True) == 0
    assert len(salon.updates()) == 2


def test_a_portal_without_the_phone_fields_keeps_its_numbers(sandbox_server):
    # Installed, but setup never added the lead fields: masking would lose
    # the numbers, so nothing is written.
    world = installed_portal(sandbox_server.url)
    lead_id = world.sandbox.create_lead(
        world.ref, {"PHONE": [{"VALUE": "8 900 123-45-67", "VALUE_TYPE": "WORK"}]}
    )

    outcome = lead_phones_protect(portal=world.portal, lead_id=lead_id)

    assert (outcome.written, outcome.refused) == (False, "no_fields")
    assert world.sandbox.lead(world.ref, lead_id)["PHONE"][0]["VALUE"] == (
        "8 900 123-45-67"
    )
