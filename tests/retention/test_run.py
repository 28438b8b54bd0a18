"""A day's run against the sandbox: what is destroyed, what is kept, and why."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.utils import timezone

from compliance.models import JournalEntry
from compliance.retention.models import (
    ArchivedLead,
    ArchiveKey,
    DestructionAct,
    RetentionNotice,
    RetentionRun,
    RunLead,
)
from compliance.retention.policy import hold_release, hold_set
from compliance.retention.run import run_begin, run_figures, run_preview, run_step
from tests.retention.conftest import ADMIN_USER, RECENTLY, Clinic

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
TODAY = date.today()


def run_to_end(clinic: Clinic, run_date: date = TODAY) -> RetentionRun:
    run = run_begin(portal=clinic.portal, run_date=run_date)
    assert run is not None
    while run_step(run_id=run.pk, budget=100).more:
        pass
    run.refresh_from_db()
    return run


def deleted_entries(clinic: Clinic, lead_id: int) -> int:
    return JournalEntry.objects.filter(
        portal=clinic.portal, action="retention.lead.deleted", subject=f"lead#{lead_id}"
    ).count()


def test_due_unconverted_leads_are_archived_deleted_confirmed_and_purged(clinic):
    due = clinic.leads(3, NAME="Анна", PHONE=[{"VALUE": "+79001234567"}])

    run = run_to_end(clinic)

    assert run.status == RetentionRun.Status.DONE
    assert not any(clinic.exists(lead_id) for lead_id in due)
    states = set(RunLead.objects.filter(run=run).values_list("state", flat=True))
    assert states == {RunLead.State.PURGED}
    assert ArchiveKey.objects.filter(portal=clinic.portal).count() == 0
    assert all(not a.payload for a in ArchivedLead.objects.filter(portal=clinic.portal))
    assert DestructionAct.objects.get(run=run).destroyed_count == 3
    assert all(deleted_entries(clinic, lead_id) == 1 for lead_id in due)


def test_recent_and_converted_leads_are_kept(clinic):
    recent = clinic.leads(2, when=RECENTLY)
    converted = clinic.leads(2, STATUS_ID="CONVERTED")

    run = run_to_end(clinic)

    assert all(clinic.exists(lead_id) for lead_id in recent + converted)
    assert not RunLead.objects.filter(run=run).exists()
    assert not DestructionAct.objects.filter(run=run).exists()


def test_a_lead_due_within_two_weeks_gets_a_notice_and_stays(clinic):
    clinic.policy.unconverted_months = 6
    clinic.policy.save()
    soon = (timezone.now() - timedelta(days=183 - 10)).isoformat(timespec="seconds")
    (lead_id,) = clinic.leads(1, when=soon)

    run_to_end(clinic)

    assert clinic.exists(lead_id)
    notice = RetentionNotice.objects.get(portal=clinic.portal, lead_id=lead_id)
    assert notice.kind == RetentionNotice.Kind.DUE_SOON
    assert TODAY < notice.due_date <= TODAY + timedelta(days=14)


def test_medical_records_are_never_deleted_only_flagged(clinic):
    by_source = clinic.leads(2, SOURCE_ID="CLINIC_CARD")
    ordinary = clinic.leads(1)

    run = run_to_end(clinic)

    assert all(clinic.exists(lead_id) for lead_id in by_source)
    assert not clinic.exists(ordinary[0])
    flagged = RetentionNotice.objects.filter(
        portal=clinic.portal, kind=RetentionNotice.Kind.MEDICAL
    )
    assert sorted(flagged.values_list("lead_id", flat=True)) == sorted(by_source)
    assert not RunLead.objects.filter(run=run, lead_id__in=by_source).exists()


def test_a_held_lead_survives_until_the_hold_is_released(clinic):
    held, other = clinic.leads(2)
    hold_set(
        portal=clinic.portal,
        lead_id=held,
        reason="dispute",
        user_id=ADMIN_USER,
        review_date=TODAY + timedelta(days=90),
    )

    run_to_end(clinic)
    assert clinic.exists(held)
    assert not clinic.exists(other)

    hold_release(portal=clinic.portal, lead_id=held, user_id=ADMIN_USER)
    run_to_end(clinic, TODAY + timedelta(days=1))
    assert not clinic.exists(held)


def test_a_hold_set_after_planning_still_stops_the_deletion(clinic):
    (lead_id,) = clinic.leads(1)
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    hold_set(
        portal=clinic.portal,
        lead_id=lead_id,
        reason="rkn_inquiry",
        user_id=ADMIN_USER,
        review_date=TODAY + timedelta(days=30),
    )

    while run_step(run_id=run.pk).more:
        pass

    assert clinic.exists(lead_id)
    row = RunLead.objects.get(run=run, lead_id=lead_id)
    assert (row.state, row.skip_reason) == (RunLead.State.SKIPPED, "legal_hold")


def test_a_hundred_and_twenty_leads_are_each_deleted_once_while_paging(clinic):
    ids = clinic.leads(120)

    run = run_to_end(clinic)

    assert clinic.sandbox.lead_count(clinic.ref) == 0
    assert RunLead.objects.filter(run=run, state=RunLead.State.PURGED).count() == 120
    figures = run_figures(run)
    assert figures["delete_commands"] == 120
    assert figures["sent_twice"] == 0
    assert all(deleted_entries(clinic, lead_id) == 1 for lead_id in ids[::17])


def test_two_schedulers_plan_one_run_and_two_workers_delete_each_lead_once(clinic):
    ids = clinic.leads(80)

    first = run_begin(portal=clinic.portal, run_date=TODAY)
    second = run_begin(portal=clinic.portal, run_date=TODAY)
    assert first is not None
    assert second is None

    def work() -> None:
        while run_step(run_id=first.pk, budget=49).more:
            pass

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert clinic.sandbox.lead_count(clinic.ref) == 0
    figures = run_figures(first)
    assert figures["delete_commands"] == 80
    assert all(deleted_entries(clinic, lead_id) == 1 for lead_id in ids)
    finished = JournalEntry.objects.filter(
        portal=clinic.portal, action="retention.run.finished"
    )
    assert finished.count() == 1


def test_the_dry_run_shows_what_would_happen_and_changes_nothing(clinic):
    due = clinic.leads(2)
    medical = clinic.leads(1, SOURCE_ID="CLINIC_CARD")
    clinic.leads(1, when=RECENTLY)

    preview = run_preview(portal=clinic.portal)

    assert sorted(v.lead_id for v in preview.destroy) == sorted(due)
    assert [v.lead_id for v in preview.flag] == medical
    assert all(v.reason == "retention_period_ended" for v in preview.destroy)
    assert clinic.sandbox.lead_count(clinic.ref) == 4
    assert not RetentionRun.objects.filter(portal=clinic.portal).exists()
