"""The one place Celery is wired: reliability settings and the beat schedule."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b24app.settings")

app = Celery("pdnguard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # A task is acknowledged only when it finished, so a killed worker's task
    # is delivered again; every task is therefore idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=300,
    task_soft_time_limit=240,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    timezone="Europe/Moscow",
    beat_schedule={
        # Retention: each portal's run planned once a day (a second beat is a
        # no-op: one run per portal and date), runs whose worker died resumed,
        # acts deleted three years after destruction.
        "retention-runs-daily": {
            "task": "retention.plan_all",
            "schedule": crontab(hour=3, minute=20),
        },
        "retention-resume-every-10-minutes": {
            "task": "retention.resume_all",
            "schedule": crontab(minute="*/10"),
        },
        "retention-acts-purge-daily": {
            "task": "retention.acts_purge",
            "schedule": crontab(hour=4, minute=40),
        },
        "install-health-every-6-hours": {
            "task": "integrator.tasks.check_all_install_health",
            "schedule": crontab(minute=23, hour="*/6"),
        },
        "lost-event-tasks-every-10-minutes": {
            "task": "integrator.tasks.requeue_stale_deliveries",
            "schedule": crontab(minute="*/10"),
        },
        "journal-checkpoints-hourly": {
            "task": "compliance.journal_checkpoint_all",
            "schedule": crontab(minute=7),
        },
        "ai-dialog-mappings-purge-every-15-minutes": {
            "task": "aigateway.dialogs_purge",
            "schedule": crontab(minute="*/15"),
        },
    },
)
app.autodiscover_tasks()
