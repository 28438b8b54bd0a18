"""Schedules, locks, the command line and the three-year keeping of acts."""

from __future__ import annotations

import io
import threading
import time
from datetime import date, timedelta

import pytest
from celery.signals import after_task_publish
from django.core.management import call_command
from django.utils import timezone

from compliance.retention.models import DestructionAct, RetentionRun
from compliance.retention.run import RunLock, run_begin
from compliance.retention.tasks import retention_acts_purge, retention_plan_all
from tests.integrator.rest_support import installed_portal
from tests.retention.conftest import RECENTLY, Clinic

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
TODAY = date.today()


def test_a_crashed_holders_lock_expires_and_the_next_one_gets_it():
    name = f"test:{time.monotonic_ns()}"
    crashed = RunLock(name, ttl=1)
    assert crashed.acquire()

    assert not RunLock(name, ttl=1).acquire()
    time.sleep(1.2)
    successor = RunLock(name, ttl=1)
    assert successor.acquire()
    successor.release()


def test_two_schedulers_at_the_same_moment_make_one_run(clinic: Clinic):
    clinic.leads(3)
    results: list[RetentionRun | None] = []

    def schedule() -> None:
        results.append(run_begin(portal=clinic.portal, run_date=TODAY))

    threads = [threading.Thread(target=schedule) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r is not None for r in results) == 1
    assert RetentionRun.objects.filter(portal=clinic.portal).count() == 1


def test_the_daily_schedule_starts_only_portals_that_enabled_retention(
    clinic: Clinic, sandbox_server
):
    other = installed_portal(sandbox_server.url)
    sent: list[tuple[str, tuple[int, str]]] = []

    def record(sender=None, headers=None, body=None, **_):
        sent.append((headers["task"], tuple(body[0])))

    after_task_publish.connect(record, weak=False)
    try:
        assert retention_plan_all() == 1
    finally:
        after_task_publish.disconnect(record)  # type: ignore[attr-defined]

    assert sent == [("retention.run_begin", (clinic.portal.pk, TODAY.isoformat()))]
    assert other.portal.pk not in {args[0] for _task, args in sent}


def test_the_dry_run_command_lists_each_lead_with_its_reason(clinic: Clinic):
    due = clinic.leads(1)
    clinic.leads(1, when=RECENTLY)
    out = io.StringIO()

    call_command("retention_run", clinic.portal.member_id, "--dry-run", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"lead#{due[0]} destroy class=unconverted")
    assert "why=retention_period_ended" in lines[0]
    assert lines[-1] == "dry run: destroy=1 notice=0 medical=0 held=0 purge=0"
    assert clinic.exists(due[0])


def test_the_run_command_refuses_an_unknown_portal():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no portal"):
        call_command("retention_run", "no-such-member", "--dry-run")


def test_the_policy_command_keeps_the_unconverted_period_within_6_to_12_months(
    clinic: Clinic,
):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command(
            "retention_policy", clinic.portal.member_id, "--unconverted-months", "3"
        )
    clinic.policy.refresh_from_db()
    assert clinic.policy.unconverted_months == 6


def test_acts_are_kept_three_years_then_purged(clinic: Clinic):
    clinic.leads(1)
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    from compliance.retention.run import run_step

    while run_step(run_id=run.pk).more:
        pass
    act = DestructionAct.objects.get(run=run)
    assert act.keep_until >= TODAY + timedelta(days=3 * 365)

    assert retention_acts_purge() == 0
    DestructionAct.objects.filter(pk=act.pk).update(
        keep_until=timezone.localdate() - timedelta(days=1)
    )
    assert retention_acts_purge() == 1
    assert not RetentionRun.objects.filter(pk=run.pk).exists()


def test_the_resume_schedule_restarts_a_run_nobody_touched_for_minutes(
    clinic: Clinic,
):
    import time_machine

    from compliance.retention.tasks import retention_resume_all

    clinic.leads(2)
    run = run_begin(portal=clinic.portal, run_date=TODAY)
    assert run is not None
    sent: list[tuple[str, tuple[int, ...]]] = []

    def record(sender=None, headers=None, body=None, **_):
        sent.append((headers["task"], tuple(body[0])))

    after_task_publish.connect(record, weak=False)
    try:
        assert retention_resume_all() == 0  # just planned: someone is on it
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            assert retention_resume_all() == 1
    finally:
        after_task_publish.disconnect(record)  # type: ignore[attr-defined]

    assert sent == [("retention.run_step", (run.pk,))]


def test_the_run_command_destroys_what_is_due_and_says_so_in_one_line(
    clinic: Clinic,
):
    (lead_id,) = clinic.leads(1)
    out = io.StringIO()

    call_command("retention_run", clinic.portal.member_id, stdout=out)
    call_command("retention_run", clinic.portal.member_id, stdout=out)

    first, second = out.getvalue().splitlines()
    assert first.endswith("done: purged=1")
    assert second == "skipped (already running/done)"
    assert not clinic.exists(lead_id)
