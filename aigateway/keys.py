"""Gateway API keys: issued once, stored as a digest, revocable."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from aigateway.models import ApiKey
from compliance.journal import Actor, journal_record
from integrator.models import Portal

KEY_PREFIX = "pdn_"
# A key used within this long is not written again: one UPDATE per request
# would serialise a busy integration on its own key row.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_issue(*, portal: Portal, label: str, actor: Actor) -> tuple[ApiKey, str]:
    """A new key for the portal; the plain key is returned once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        issued = ApiKey.objects.create(
            portal=portal,
            label=label,
            prefix=key[:12],
            key_hash=key_digest(key),
        )
        journal_record(
            portal=portal,
            action="ai.key.issued",
            actor=actor,
            details={"api_key": issued.pk},
        )
    return issued, key


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> bool:
    """Revoke a key; False if it already was."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            journal_record(
                portal=api_key.portal,
                action="ai.key.revoked",
                actor=actor,
                details={"api_key": api_key.pk},
            )
    return bool(revoked)


def api_key_holder(key: str) -> ApiKey | None:
    """The active key matching ``key``, with its portal; None if unknown or revoked."""
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    found = (
        ApiKey.objects.select_related("portal")
        .filter(key_hash=key_digest(key), revoked_at__isnull=True)
        .first()
    )
    if found is None:
        return None

    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=found.pk).update(last_used_at=now)
        found.last_used_at = now
    return found
