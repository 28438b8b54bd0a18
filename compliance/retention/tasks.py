"""Celery tasks of retention: short, by id, each calling a plain function.

``retention.plan_all`` (daily) starts each enabled portal's run;
``retention.run_step`` does one chunk and enqueues the next;
``retention.resume_all`` (every 10 minutes) restarts runs whose worker died,
since a message taken by a killed worker may wait for the broker's
visibility timeout; ``retention.acts_purge`` (daily) deletes acts and
run rows three years after destruction.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from compliance.retention.models import DestructionAct, RetentionRun
from compliance.retention.run import lock_ttl, run_begin, run_step
from integrator import errors
from integrator.models import Portal

logger = logging.getLogger(__name__)

STEP_BUDGET = 500
STALLED = timedelta(minutes=5)


@shared_task(name="retention.plan_all")
def retention_plan_all() -> int:
    """Enqueue today's run of every active portal whose policy is enabled."""
    portals = Portal.objects.filter(
        status=Portal.Status.ACTIVE, retention_policy__enabled=True
    ).values_list("pk", flat=True)
    today = timezone.localdate().isoformat()
    for portal_id in portals:
        retention_run_begin.delay(portal_id, today)
    return len(portals)


@shared_task(name="retention.run_begin", acks_late=True)
def retention_run_begin(portal_id: int, run_date: str) -> int | None:
    """Plan the portal's run of that date (a no-op when it exists) and start it."""
    portal = Portal.objects.get(pk=portal_id)
    try:
        run = run_begin(portal=portal, run_date=date.fromisoformat(run_date))
    except errors.Transient as exc:
        logger.warning(
            "retention planning paused member_id=%s: %s", portal.member_id, exc.code
        )
        return None
    if run is None:
        return None
    step_enqueue(run.pk)
    return run.pk


@shared_task(name="retention.run_step", acks_late=True)
def retention_run_step(run_id: int) -> bool:
    """One chunk of a run; enqueues the next while work is left."""
    try:
        result = run_step(run_id=run_id, budget=STEP_BUDGET)
    except errors.Transient as exc:
        # Rate limits and blocked methods: wait as long as Bitrix24 asks.
        countdown = max(1.0, min(exc.countdown(), 900.0))
        logger.info("retention step %s waits %.0f s: %s", run_id, countdown, exc.code)
        step_enqueue(run_id, countdown=countdown)
        return True
    except (errors.PaymentRequired, errors.AuthError) as exc:
        logger.warning("retention step %s stopped: %s", run_id, exc.code)
        return False
    if result.more:
        step_enqueue(run_id, countdown=lock_ttl() / 4 if result.locked else 0)
    return result.more


def step_enqueue(run_id: int, *, countdown: float = 0) -> None:
    transaction.on_commit(
        lambda: retention_run_step.apply_async((run_id,), countdown=countdown)
    )


@shared_task(name="retention.resume_all")
def retention_resume_all() -> int:
    """Enqueue a step for each unfinished run nobody has touched for a while."""
    stale = timezone.now() - STALLED
    runs = RetentionRun.objects.filter(
        status__in=[RetentionRun.Status.PLANNING, RetentionRun.Status.RUNNING],
        touched_at__lt=stale,
        portal__status=Portal.Status.ACTIVE,
    ).values_list("pk", flat=True)
    for run_id in runs:
        step_enqueue(run_id)
    return len(runs)


@shared_task(name="retention.acts_purge")
def retention_acts_purge() -> int:
    """Delete acts, extracts and run rows three years after destruction."""
    today = timezone.localdate()
    expired = DestructionAct.objects.filter(keep_until__lt=today)
    run_ids = list(expired.values_list("run_id", flat=True))
    old_runs = RetentionRun.objects.filter(
        act__isnull=True, run_date__lt=today - DestructionAct.KEEP
    ).values_list("pk", flat=True)
    run_ids.extend(old_runs)
    _deleted, _ = RetentionRun.objects.filter(pk__in=run_ids).delete()
    logger.info("retention acts purged runs=%d", len(run_ids))
    return len(run_ids)
