"""Celery tasks of the compliance domain; each calls a plain function."""

from __future__ import annotations

import logging

from celery import shared_task

from compliance.journal import checkpoint_make
from compliance.models import JournalHead
from integrator.models import Portal

logger = logging.getLogger(__name__)


@shared_task(name="compliance.journal_checkpoint_all")
def journal_checkpoint_all() -> int:
    """Sign the head of every journal that grew since its last checkpoint.

    Safe to run twice at once (two schedulers): a head is signed once.
    """
    signed = 0
    portal_ids = JournalHead.objects.filter(last_seq__gt=0).values_list(
        "portal_id", flat=True
    )
    for portal in Portal.objects.filter(pk__in=list(portal_ids)).iterator():
        try:
            if checkpoint_make(portal=portal) is not None:
                signed += 1
        except Exception:
            # One portal's failure must not leave the others unsigned.
            logger.exception("journal checkpoint failed member_id=%s", portal.member_id)
    logger.info("journal checkpoints signed=%d", signed)
    return signed
