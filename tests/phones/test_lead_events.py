"""Leads edited in the portal, processed by a real worker: one write, then quiet."""

import time

import pytest

from compliance import vault
from compliance.lead_phones import ORIGINAL_FIELD
from compliance.models import JournalEntry
from integrator.models import EventDelivery
from tests.phones.conftest import MANAGER

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]


def wait_for(check, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settled(framed):
    """The portal's update events once nothing is queued, sent or processing."""

    def quiet():
        framed.driver.wait_idle(timeout=10)
        pending = EventDelivery.objects.filter(
            portal=framed.portal, processed_at__isnull=True
        )
        return not pending.exists()

    wait_for(quiet, what="every event to be processed")
    # A write made by the last task would show up as one more event: look
    # again after it would have arrived.
    time.sleep(1.0)
    wait_for(quiet, what="the echo of the last write to be processed")
    return framed.driver.deliveries(framed.ref, event="ONCRMLEADUPDATE")


def masked(framed, lead_id):
    phones = framed.driver.lead(framed.ref, lead_id).get("PHONE") or []
    return [item["VALUE"] for item in phones]


def test_a_lead_added_in_the_portal_is_protected_with_one_write(framed, celery_worker):
    lead_id = framed.new_lead("8 (900) 123-45-67")

    wait_for(
        lambda: masked(framed, lead_id) == ["+7 900 ***-**-67"],
        what="the phone to be masked",
    )
    updates = settled(framed)

    assert len(updates) == 1  # the app's own write, whose echo changed nothing
    assert JournalEntry.objects.filter(action="lead.phone.protected").count() == 1
    sealed = framed.driver.lead(framed.ref, lead_id)[ORIGINAL_FIELD]
    assert vault.decrypt_phone(framed.portal, sealed) == "+79001234567"


def test_an_event_storm_of_duplicates_settles_after_one_write(framed, celery_worker):
    framed.driver.set_faults(framed.ref, event_duplicate=True)

    lead_id = framed.new_lead("8 (900) 123-45-67", "+7 812 555 01 23")
    wait_for(
        lambda: masked(framed, lead_id) == ["+7 900 ***-**-67", "+7 812 ***-**-23"],
        what="the phones to be masked",
    )
    updates = settled(framed)

    # One write, its echo sent twice; nothing after that.
    assert len(updates) == 2
    assert len({row["body"] for row in updates}) == 1
    assert JournalEntry.objects.filter(action="lead.phone.protected").count() == 1


def test_a_number_the_manager_types_over_the_mask_is_protected_again(
    framed, celery_worker
):
    lead_id = framed.new_lead("8 (900) 123-45-67")
    wait_for(lambda: masked(framed, lead_id) == ["+7 900 ***-**-67"], what="masking")
    settled(framed)
    item_id = framed.driver.lead(framed.ref, lead_id)["PHONE"][0]["ID"]

    framed.driver.update_lead(
        framed.ref,
        lead_id,
        {"PHONE": [{"ID": item_id, "VALUE": "+7 900 765 43 21"}]},
        user_id=MANAGER,
    )
    wait_for(lambda: masked(framed, lead_id) == ["+7 900 ***-**-21"], what="masking")
    updates = settled(framed)

    # The first protection, the manager's edit, the second protection.
    assert len(updates) == 3
    sealed = framed.driver.lead(framed.ref, lead_id)[ORIGINAL_FIELD]
    assert vault.decrypt_phone(framed.portal, sealed) == "+79007654321"
