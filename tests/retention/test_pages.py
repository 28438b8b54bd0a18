"""Retention on the app page and the lead tab, as the portal frames them."""

from __future__ import annotations

from datetime import date
from urllib.parse import unquote

import pytest
import requests

from compliance.retention.policy import policy_for
from compliance.retention.run import run_begin, run_step
from tests.integrator.conftest import ADMIN, MANAGER, Salon

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])


def test_the_admin_sees_runs_acts_and_the_policy_on_the_app_page(salon: Salon):
    portal = salon.stored()
    policy = policy_for(portal)
    policy.grace_days = 0
    policy.save()
    salon.driver.create_leads(
        salon.ref, [{"fields": {"TITLE": "Старая заявка"}, "date_create": "2025-01-10"}]
    )
    run = run_begin(portal=portal, run_date=date.today())
    assert run is not None
    while run_step(run_id=run.pk).more:
        pass

    frame = salon.driver.open_app(salon.ref, user_id=ADMIN)
    page = requests.post(frame.url, data=frame.form, timeout=30)

    assert page.status_code == 200
    html = page.text
    assert 'id="pdn-retention"' in html
    assert f"/b24/retention/acts/{run.pk}.docx?t=" in html
    assert 'name="unconverted_months"' in html
    link = html.split(f"/b24/retention/acts/{run.pk}.docx?t=")[1].split('"')[0]
    act = requests.get(
        f"{salon.app_url}/b24/retention/acts/{run.pk}.docx",
        params={"t": unquote(link)},
        timeout=30,
    )
    assert act.status_code == 200 and act.content[:2] == b"PK"


def test_the_lead_tab_offers_a_legal_hold(salon: Salon):
    lead_id = salon.driver.create_lead(salon.ref, {"TITLE": "Заявка"}, user_id=MANAGER)

    frame = salon.driver.open_lead_tab(salon.ref, lead_id=lead_id, user_id=MANAGER)
    page = requests.post(frame.action, params=frame.query, data=frame.form, timeout=30)

    assert page.status_code == 200
    assert 'id="pdn-hold"' in page.text
    assert 'value="dispute"' in page.text
