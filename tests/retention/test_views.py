"""The settings page's retention calls and the lead tab's hold, over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.test import Client

from compliance.journal import journal_entries
from compliance.retention.models import ArchivedLead, LegalHold, RetentionPolicy
from compliance.retention.run import run_begin, run_step
from compliance.retention.views import (
    ADMIN_TOKEN_HEADER,
    admin_token,
    retention_section,
)
from integrator.placement import TAB_TOKEN_HEADER, tab_token
from tests.integrator.rest_support import installed_portal
from tests.retention.conftest import ADMIN_USER, Clinic

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
TODAY = date.today()
MANAGER = 2


@pytest.fixture
def admin(clinic: Clinic) -> Client:
    token = admin_token(portal_id=clinic.portal.pk, user_id=ADMIN_USER)
    return Client(headers={ADMIN_TOKEN_HEADER: token})


def finished_run(clinic: Clinic) -> int:
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    while run_step(run_id=run.pk).more:
        pass
    return run.pk


def test_the_admin_saves_the_policy(clinic: Clinic, admin: Client):
    body = {"enabled": True, "unconverted_months": 9, "withdrawn_days": 30,
            "notice_days": 14, "grace_days": 30, "medical_field": "UF_CRM_PDN_MEDICAL",
            "medical_sources": ["CLINIC_CARD"], "medical_statuses": []}  # fmt: skip

    response = admin.post(
        "/b24/retention/policy/", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200, response.content.decode()
    assert RetentionPolicy.objects.get(portal=clinic.portal).unconverted_months == 9


def test_a_period_outside_6_to_12_months_is_refused_and_changes_nothing(
    clinic: Clinic, admin: Client
):
    response = admin.post(
        "/b24/retention/policy/",
        json.dumps({"unconverted_months": 24, "withdrawn_days": 45}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert {"unconverted_months", "withdrawn_days"} <= set(response.json()["fields"])
    clinic.policy.refresh_from_db()
    assert clinic.policy.unconverted_months == 6


def test_an_outsider_without_the_token_or_with_a_forged_one_is_refused(clinic):
    anonymous = Client()
    forged = Client(headers={ADMIN_TOKEN_HEADER: "eyJwIjoxfQ:forged:sig"})

    for client in (anonymous, forged):
        response = client.post(
            "/b24/retention/policy/", "{}", content_type="application/json"
        )
        assert response.status_code == 401
    assert client.get("/b24/retention/preview/").status_code == 401


def test_the_auditor_downloads_the_act_and_the_extract(clinic: Clinic, admin: Client):
    clinic.leads(2)
    run_id = finished_run(clinic)

    docx = admin.get(f"/b24/retention/acts/{run_id}.docx")
    extract = admin.get(f"/b24/retention/acts/{run_id}.csv")

    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    assert "attachment" in docx["Content-Disposition"]
    assert extract.status_code == 200
    assert extract.content.decode().startswith("seq,entry_hash,subject")
    assert admin.get(f"/b24/retention/acts/{run_id}.exe").status_code == 404


def test_another_portals_admin_cannot_download_the_act(clinic, sandbox_server):
    clinic.leads(1)
    run_id = finished_run(clinic)
    other = installed_portal(sandbox_server.url).portal
    stranger = Client(
        headers={ADMIN_TOKEN_HEADER: admin_token(portal_id=other.pk, user_id=1)}
    )

    assert stranger.get(f"/b24/retention/acts/{run_id}.docx").status_code == 404


def test_the_admin_restores_an_archived_lead_during_the_grace(
    clinic: Clinic, admin: Client
):
    clinic.policy.grace_days = 30
    clinic.policy.save()
    (lead_id,) = clinic.leads(1, NAME="Анна")
    finished_run(clinic)
    archived = ArchivedLead.objects.get(portal=clinic.portal, lead_id=lead_id)

    response = admin.post(f"/b24/retention/archives/{archived.pk}/restore/")

    assert response.status_code == 200
    assert clinic.sandbox.lead(clinic.ref, response.json()["lead_id"])["NAME"] == "Анна"


def test_the_dry_run_endpoint_lists_due_leads_with_reasons(
    clinic: Clinic, admin: Client
):
    (lead_id,) = clinic.leads(1)

    response = admin.get("/b24/retention/preview/")

    body = response.json()
    assert [row["lead_id"] for row in body["destroy"]] == [lead_id]
    assert body["destroy"][0]["reason"] == "retention_period_ended"
    assert clinic.exists(lead_id)


def test_the_settings_section_shows_runs_notices_and_the_form(clinic: Clinic):
    clinic.leads(1)
    finished_run(clinic)

    section = retention_section(portal=clinic.portal, user_id=ADMIN_USER)

    assert section["runs"][0].act.destroyed_count == 1
    assert section["current"] is None
    assert "unconverted_months" in section["policy"].fields


def test_a_manager_puts_a_hold_from_the_lead_tab_and_releases_it(clinic: Clinic):
    (lead_id,) = clinic.leads(1)
    token = tab_token(portal_id=clinic.portal.pk, user_id=MANAGER, lead_id=lead_id)
    tab = Client(headers={TAB_TOKEN_HEADER: token})
    review = (TODAY + timedelta(days=60)).isoformat()

    created = tab.post(
        "/b24/tab/hold/",
        json.dumps({"reason": "dispute", "review_date": review}),
        content_type="application/json",
    )
    shown = tab.get("/b24/tab/hold/")
    released = tab.delete("/b24/tab/hold/")

    assert created.status_code == 201
    assert shown.json()["hold"]["reason"] == "dispute"
    assert released.json() == {"hold": None}
    hold = LegalHold.objects.get(portal=clinic.portal, lead_id=lead_id)
    assert hold.set_by_user_id == MANAGER and hold.released_at is not None
    actions = [e.action for e in journal_entries(portal=clinic.portal, lead_id=lead_id)]
    assert actions == ["retention.hold.set", "retention.hold.released"]


def test_a_hold_without_a_reason_or_with_a_past_review_date_is_refused(clinic):
    (lead_id,) = clinic.leads(1)
    token = tab_token(portal_id=clinic.portal.pk, user_id=MANAGER, lead_id=lead_id)
    tab = Client(headers={TAB_TOKEN_HEADER: token})

    bad = tab.post(
        "/b24/tab/hold/",
        json.dumps({"reason": "because", "review_date": "2020-01-01"}),
        content_type="application/json",
    )

    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"reason", "review_date"}
    assert not LegalHold.objects.filter(portal=clinic.portal).exists()
    assert Client().get("/b24/tab/hold/").status_code == 401
