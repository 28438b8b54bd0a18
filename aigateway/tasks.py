"""Celery tasks of the AI gateway; each calls a plain function."""

from celery import shared_task

from aigateway.dialogs import dialogs_purge


@shared_task(name="aigateway.dialogs_purge")
def dialogs_purge_task() -> int:
    """Delete expired dialog mappings; safe to run twice at once (rows are locked)."""
    return dialogs_purge()
