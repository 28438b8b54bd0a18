"""Where a dialog's mapping lives between requests, and when it is forgotten."""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from aigateway.models import DialogMapping
from compliance.journal import Actor, journal_record
from integrator.models import Portal
from pii import Mapping

logger = logging.getLogger(__name__)

DEFAULT_TTL_HOURS = 24


def dialog_ttl() -> timedelta:
    """How long a quiet dialog keeps its mapping (``AIGATEWAY_DIALOG_TTL_HOURS``)."""
    hours = getattr(settings, "AIGATEWAY_DIALOG_TTL_HOURS", DEFAULT_TTL_HOURS)
    return timedelta(hours=float(hours))


def dialog_lock(*, portal: Portal, dialog_id: str) -> DialogMapping:
    """The dialog's row, created if new, locked until the transaction ends.

    Two requests of one dialog at once would otherwise both read the same
    mapping, number their new values alike and the later save would drop
    the earlier one's placeholders. Call inside ``transaction.atomic``.
    """
    now = timezone.now()
    row, _ = DialogMapping.objects.get_or_create(
        portal=portal,
        dialog_id=dialog_id,
        defaults={"expires_at": now + dialog_ttl(), "last_used_at": now},
    )
    # Only this row: locking the joined portal row too would queue every
    # journal entry of the portal (its foreign key) behind this dialog.
    return (
        DialogMapping.objects.select_for_update(of=("self",))
        .select_related("portal")
        .get(pk=row.pk)
    )


def mapping_load(row: DialogMapping) -> Mapping:
    """The row's mapping; a fresh one if the row is new or its dialog expired."""
    if not row.mapping_sealed or row.is_expired():
        return Mapping()
    return Mapping.from_json(row.mapping_json())


def mapping_store(row: DialogMapping, mapping: Mapping, *, client_ref: str) -> None:
    """Seal the mapping into the row and push its expiry forward."""
    if row.is_expired():
        # The old dialog ended; its client binding ends with it.
        row.client_ref = ""
        row.created_at = timezone.now()
    if client_ref:
        row.client_ref = client_ref
    row.seal_mapping(mapping.to_json())
    row.touch(dialog_ttl())
    row.save()


def dialogs_purge(
    *, now: datetime | None = None, batch: int = 500, dry_run: bool = False
) -> int:
    """Delete mappings of dialogs that expired; journal the count per portal."""
    now = now or timezone.now()
    expired = DialogMapping.objects.filter(expires_at__lte=now)
    if dry_run:
        return expired.count()

    total = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a dialog in use right now is being extended, not
            # purged; the next run looks at it again.
            rows = list(
                expired.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "portal_id")[:batch]
            )
            if not rows:
                break
            DialogMapping.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
            per_portal = Counter(portal_id for _, portal_id in rows)
            for portal in Portal.objects.filter(pk__in=per_portal):
                journal_record(
                    portal=portal,
                    action="ai.dialog.purged",
                    actor=Actor.system(),
                    details={"mappings_deleted": per_portal[portal.pk]},
                )
        total += len(rows)
    logger.info("ai dialog mappings purged=%d", total)
    return total
