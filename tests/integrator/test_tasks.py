"""Event tasks: idempotent processing, lost tasks enqueued again, health checks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrator import tasks
from integrator.models import EventDelivery, Portal

pytestmark = pytest.mark.django_db


def delivery(portal: Portal, *, age: timedelta, processed: bool = False, n: int = 1):
    now = timezone.now()
    return EventDelivery.objects.create(
        portal=portal,
        event="ONCRMLEADUPDATE",
        entity_id=1000 + n,
        ts=1_717_000_000 + n,
        key=f"key-{n}",
        received_at=now - age,
        processed_at=now if processed else None,
        outcome=EventDelivery.Outcome.DONE if processed else "",
    )


def lead_tasks(published):
    return [p.kwargs for p in published if p.task.endswith("process_lead_event")]


def test_a_delivery_whose_task_was_lost_is_enqueued_again(example_portal, published):
    lost = delivery(example_portal, age=timedelta(minutes=45), n=1)
    delivery(example_portal, age=timedelta(minutes=2), n=2)
    delivery(example_portal, age=timedelta(minutes=45), processed=True, n=3)
    delivery(example_portal, age=timedelta(days=3), n=4)

    assert tasks.stale_deliveries_requeue() == 1

    assert lead_tasks(published) == [
        {"delivery_id": lost.pk, "portal_id": example_portal.pk, "lead_id": 1001}
    ]


def test_a_processed_delivery_is_not_processed_again(example_portal):
    done = delivery(example_portal, age=timedelta(minutes=1), processed=True)

    # Processing would call example-portal.bitrix24.ru, which does not
    # resolve here; returning quietly shows no call was made.
    result = tasks.delivery_process(delivery_id=done.pk)

    assert result is not None
    assert result.processed_at == done.processed_at
    assert result.attempts == 0


def test_an_event_for_an_uninstalled_portal_ends_failed_without_retrying(
    example_portal,
):
    pending = delivery(example_portal, age=timedelta(seconds=1))
    Portal.objects.filter(pk=example_portal.pk).update(status=Portal.Status.UNINSTALLED)

    tasks.process_lead_event.apply(
        kwargs={
            "delivery_id": pending.pk,
            "portal_id": example_portal.pk,
            "lead_id": pending.entity_id,
        }
    )

    pending.refresh_from_db()
    assert pending.outcome == EventDelivery.Outcome.FAILED
    assert pending.processed_at is not None


def test_the_health_sweep_checks_every_installed_portal(example_portal, published):
    Portal.objects.create(
        member_id="m-gone",
        domain="gone.bitrix24.ru",
        client_endpoint="https://gone.bitrix24.ru/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        application_token="x",
        status=Portal.Status.UNINSTALLED,
    )

    assert tasks.check_all_install_health() == 1

    checks = [p.kwargs for p in published if p.task.endswith("check_install_health")]
    assert checks == [{"portal_id": example_portal.pk}]
