"""A real Celery worker killed with SIGKILL mid-run, then started again."""

from __future__ import annotations

import time
from datetime import date

import pytest

from compliance.models import JournalEntry
from compliance.retention.models import RetentionRun, RunLead
from compliance.retention.run import run_begin, run_figures
from compliance.retention.tasks import retention_run_step
from tests.retention.conftest import Clinic, Worker

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "sandbox"]),
    pytest.mark.worker,
]
LEADS = 300


def wait_for(predicate, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.1)


def progressed(run: RetentionRun) -> int:
    return RunLead.objects.filter(
        run=run, state__in=[RunLead.State.CONFIRMED, RunLead.State.PURGED]
    ).count()


def finished(run: RetentionRun) -> bool:
    run.refresh_from_db()
    return run.finished


def test_a_worker_killed_mid_run_ends_as_an_uninterrupted_run_would(
    clinic: Clinic, worker: Worker
):
    ids = clinic.leads(LEADS, NAME="Анна", PHONE=[{"VALUE": "+79001234567"}])
    # Each answer takes a while, so the kill lands inside the run.
    clinic.sandbox.set_faults(clinic.ref, slow_seconds=0.4)
    run = run_begin(portal=clinic.portal, run_date=date.today())
    assert run is not None
    worker.start()

    retention_run_step.delay(run.pk)
    wait_for(lambda: progressed(run) >= 49)
    worker.kill()
    assert progressed(run) < LEADS

    worker.start()
    # What the resume schedule does for a run nobody is working on.
    retention_run_step.delay(run.pk)
    wait_for(lambda: finished(run))

    assert run.status == RetentionRun.Status.DONE
    assert clinic.sandbox.lead_count(clinic.ref) == 0
    states = RunLead.objects.filter(run=run).values_list("state", flat=True)
    assert set(states) == {RunLead.State.PURGED}
    assert run.act.destroyed_count == LEADS
    deleted = JournalEntry.objects.filter(
        portal=clinic.portal, action="retention.lead.deleted"
    )
    assert sorted(int(e.subject.removeprefix("lead#")) for e in deleted) == ids
    assert run_figures(run)["deleted_twice"] == 0
    assert (
        JournalEntry.objects.filter(
            portal=clinic.portal, action="retention.run.finished"
        ).count()
        == 1
    )
