"""Background work on Bitrix24 events: tasks take ids and call plain functions.

Every task here may run twice (late acknowledgement redelivers the task of
a killed worker), so each checks what is already done before acting.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from compliance.lead_phones import lead_phones_protect
from compliance.phones.reveal import reveal_notes_forget
from integrator import errors, install, setup
from integrator.models import EventDelivery, Portal
from integrator.rest import portal_client

logger = logging.getLogger(__name__)

# Transient failures (rate limits, a portal briefly down) are retried for
# about an hour and a half in total; then the delivery is marked failed.
MAX_RETRIES = 8


@dataclass(frozen=True)
class LeadSeen:
    """What processing learned about a lead; carries no personal data."""

    lead_id: int
    exists: bool
    phone_count: int = 0


def lead_changed(portal_id: int, lead_id: int) -> LeadSeen:
    """A lead was added or edited: protect its phones as the lead is now.

    The event names the lead only, and may be stale or repeated, so the
    lead is re-read. Whatever extends this function must stay idempotent:
    it runs for the app's own writes coming back as events, and phone
    protection writes nothing to a lead that is already protected.
    """
    portal = Portal.objects.get(pk=portal_id)
    phones = lead_phones_protect(portal=portal, lead_id=lead_id)
    return LeadSeen(
        lead_id=lead_id, exists=phones.exists, phone_count=phones.phone_items
    )


def lead_deleted(portal_id: int, lead_id: int) -> LeadSeen:
    """A lead was deleted in the portal: what the app keeps about it goes too."""
    reveal_notes_forget(portal_id=portal_id, lead_id=lead_id)
    return LeadSeen(lead_id=lead_id, exists=False)


LEAD_HANDLERS = {
    "ONCRMLEADADD": lead_changed,
    "ONCRMLEADUPDATE": lead_changed,
    "ONCRMLEADDELETE": lead_deleted,
}


def delivery_process(*, delivery_id: int) -> EventDelivery | None:
    """Process one recorded lead event unless it already was; None if gone."""
    delivery = (
        EventDelivery.objects.filter(pk=delivery_id).select_related("portal").first()
    )
    if delivery is None or delivery.processed_at is not None:
        return delivery
    if delivery.entity_id is None or delivery.event not in LEAD_HANDLERS:
        return _finish(delivery, EventDelivery.Outcome.FAILED)

    EventDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    seen = LEAD_HANDLERS[delivery.event](delivery.portal_id, delivery.entity_id)
    outcome = EventDelivery.Outcome.DONE if seen.exists else EventDelivery.Outcome.GONE
    return _finish(delivery, outcome)


def _finish(delivery: EventDelivery, outcome: str) -> EventDelivery:
    now = timezone.now()
    # Conditional: of two workers finishing the same delivery, one writes.
    EventDelivery.objects.filter(pk=delivery.pk, processed_at__isnull=True).update(
        processed_at=now, outcome=outcome
    )
    delivery.refresh_from_db()
    return delivery


@shared_task(bind=True, max_retries=MAX_RETRIES)
def process_lead_event(
    self: Task[Any, Any], *, delivery_id: int, portal_id: int, lead_id: int
) -> None:
    """Process a lead event; ``portal_id`` and ``lead_id`` name it in logs."""
    try:
        delivery_process(delivery_id=delivery_id)
    except errors.Transient as exc:
        if self.request.retries >= MAX_RETRIES:
            _give_up(delivery_id, exc)
            return
        raise self.retry(countdown=exc.countdown(self.request.retries)) from None
    except errors.B24Error as exc:
        # A permanent answer (revoked portal, payment, no rights): stop here.
        _give_up(delivery_id, exc)


# A delivery still unprocessed this long after it arrived lost its task (the
# broker was down when it was enqueued, or the message was lost): enqueue it
# again. Longer than the retries' longest wait, so a retrying task is not
# doubled; a doubled one would do no harm, as processing is idempotent.
STALE_AFTER = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(days=2)
REQUEUE_BATCH = 500


def stale_deliveries_requeue(*, now: datetime | None = None) -> int:
    """Enqueue lead deliveries whose task never ran; how many were enqueued."""
    now = now or timezone.now()
    stale = (
        EventDelivery.objects.filter(
            processed_at__isnull=True,
            event__in=list(LEAD_HANDLERS),
            received_at__lt=now - STALE_AFTER,
            received_at__gt=now - GIVE_UP_AFTER,
        )
        .order_by("received_at")
        .values_list("pk", "portal_id", "entity_id")[:REQUEUE_BATCH]
    )
    count = 0
    for delivery_id, portal_id, lead_id in stale:
        if lead_id is None:
            continue
        process_lead_event.delay(
            delivery_id=delivery_id, portal_id=portal_id, lead_id=lead_id
        )
        count += 1
    if count:
        logger.warning("re-enqueued %d event deliveries that lost their task", count)
    return count


@shared_task
def requeue_stale_deliveries() -> int:
    """Beat: give lost event tasks another run."""
    return stale_deliveries_requeue()


def _give_up(delivery_id: int, exc: errors.B24Error) -> None:
    logger.warning("delivery %s failed for good: %s", delivery_id, exc.code)
    EventDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=EventDelivery.Outcome.FAILED
    )


@shared_task(bind=True, max_retries=5)
def run_setup(
    self: Task[Any, Any], *, portal_id: int, delivery_id: int | None = None
) -> None:
    """Bring the portal's bindings and fields up to date (install, update)."""
    try:
        report = setup.portal_setup(portal_id=portal_id)
    except errors.Transient as exc:
        raise self.retry(countdown=exc.countdown(self.request.retries)) from None
    except errors.B24Error as exc:
        logger.warning("setup of portal %s stopped: %s", portal_id, exc.code)
        return
    if delivery_id is not None:
        outcome = (
            EventDelivery.Outcome.DONE if report.ok else EventDelivery.Outcome.FAILED
        )
        EventDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True).update(
            processed_at=timezone.now(), outcome=outcome
        )


@shared_task
def purge_portal(*, portal_id: int) -> None:
    """Delete an uninstalled portal's local data (CLEAN=1 on uninstall)."""
    install.portal_purge(portal_id=portal_id)


# Stored as the portal's status reason, which the admin page shows.
NOT_FINISHED = (
    "install: мастер установки не вызвал BX24.installFinish(), "
    "события и вкладка не работают"
)


def install_health_check(*, portal_id: int) -> bool | None:
    """Ask the portal (app.info) whether the install was finished; alert if not."""
    portal = Portal.objects.get(pk=portal_id)
    info = portal_client(portal).call("app.info")
    installed = info.get("INSTALLED") if isinstance(info, dict) else None
    confirmed = installed in (True, "Y", "true", 1, "1")

    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal_id)
        portal.install_confirmed = confirmed
        portal.health_checked_at = timezone.now()
        if not confirmed:
            portal.status_reason = NOT_FINISHED
            logger.warning(
                "portal %s: app.info says INSTALLED is false", portal.member_id
            )
        elif portal.status_reason.startswith("install:"):
            portal.status_reason = ""
        portal.save(
            update_fields=["install_confirmed", "health_checked_at", "status_reason"]
        )
    return confirmed


@shared_task(bind=True, max_retries=3)
def check_install_health(self: Task[Any, Any], *, portal_id: int) -> None:
    try:
        install_health_check(portal_id=portal_id)
    except errors.Transient as exc:
        raise self.retry(countdown=exc.countdown(self.request.retries)) from None
    except errors.B24Error as exc:
        logger.warning("health check of portal %s stopped: %s", portal_id, exc.code)


@shared_task
def check_all_install_health() -> int:
    """Beat: one health check per installed portal."""
    ids = list(
        Portal.objects.exclude(status=Portal.Status.UNINSTALLED).values_list(
            "pk", flat=True
        )
    )
    for portal_id in ids:
        check_install_health.delay(portal_id=portal_id)
    return len(ids)
