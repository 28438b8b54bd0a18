"""The admin and a manager use retention in Chromium, inside the portal's frames."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from compliance.retention.models import LegalHold, RetentionPolicy
from tests.integrator.conftest import ADMIN, MANAGER, Salon

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
]


def wait_for(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the page's change never reached the database")
        time.sleep(0.2)


def test_the_admin_changes_the_period_on_the_settings_page(salon: Salon, chromium_page):
    page = chromium_page
    page.goto(f"{salon.portal.base_url}/marketplace/app/?as={ADMIN}")
    frame = page.frame_locator("#app-frame")
    frame.locator("#pdn-retention").wait_for()

    frame.locator('#pdn-retention-policy [name="unconverted_months"]').fill("9")
    frame.locator("#pdn-retention-policy button[type=submit]").click()
    frame.locator("#pdn-retention[data-saved]").wait_for()

    portal = salon.stored()
    wait_for(lambda: RetentionPolicy.objects.get(portal=portal).unconverted_months == 9)


def test_a_manager_puts_a_legal_hold_from_the_lead_card(salon: Salon, chromium_page):
    lead_id = salon.driver.create_lead(salon.ref, {"TITLE": "Спор"}, user_id=MANAGER)
    review = (date.today() + timedelta(days=30)).isoformat()

    page = chromium_page
    page.goto(
        f"{salon.portal.base_url}/crm/lead/details/{lead_id}/?tab=app&as={MANAGER}"
    )
    tab = page.frame_locator("#placement-frame")
    tab.locator('#pdn-hold-state[data-held="0"]').wait_for()
    tab.locator('#pdn-hold-form [name="reason"]').select_option("dispute")
    tab.locator('#pdn-hold-form [name="review_date"]').fill(review)
    tab.locator("#pdn-hold-form button[type=submit]").click()
    tab.locator('#pdn-hold-state[data-held="1"]').wait_for()

    hold = LegalHold.objects.get(portal=salon.stored(), lead_id=lead_id)
    assert (hold.reason, hold.set_by_user_id) == ("dispute", MANAGER)
