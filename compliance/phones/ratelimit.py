"""How many numbers one user may reveal, and the alert when someone asks for more.

A sliding window per portal and user, kept in Redis so every web process
counts the same attempts. Going over the limit refuses the reveal and, once
per window, leaves an alert for the portal's admin: a manager opening many
numbers in a row is how a client base leaves a company.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from compliance.phones.models import RevealAlert
from integrator.models import Portal
from integrator.pacing import redis_client, redis_down_is_transient

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 600  # seconds


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    attempts: int  # in the window, this one included
    limit: int
    window: int
    alert: RevealAlert | None = None


def reveal_limit() -> tuple[int, int]:
    """``(reveals, seconds)`` from settings.PDN_REVEAL_LIMIT, or 10 per 10 minutes."""
    limit = getattr(settings, "PDN_REVEAL_LIMIT", DEFAULT_LIMIT)
    window = getattr(settings, "PDN_REVEAL_WINDOW", DEFAULT_WINDOW)
    return int(limit), int(window)


def reveal_attempt(*, portal: Portal, b24_user_id: int) -> RateVerdict:
    """Count one attempt to reveal; refused when it goes over the limit."""
    limit, window = reveal_limit()
    key = f"pdn:reveal:{portal.member_id}:{int(b24_user_id)}"
    now = time.time()
    client = redis_client(settings.REDIS_URL)
    with redis_down_is_transient():
        pipe = client.pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - window)
        pipe.zadd(key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
        pipe.zcard(key)
        pipe.expire(key, window)
        attempts = int(pipe.execute()[2])
    if attempts <= limit:
        return RateVerdict(True, attempts, limit, window)

    # One alert per user and window, however long the burst goes on.
    with redis_down_is_transient():
        first = client.set(f"{key}:alerted", "1", nx=True, ex=window)
    alert = None
    if first:
        alert = RevealAlert.objects.create(
            portal=portal,
            b24_user_id=b24_user_id,
            attempts=attempts,
            window_seconds=window,
        )
        logger.warning(
            "portal %s: user %s asked for %d numbers in %d s",
            portal.member_id,
            b24_user_id,
            attempts,
            window,
        )
    return RateVerdict(False, attempts, limit, window, alert)


def reveal_alerts(portal: Portal, *, unseen_only: bool = False) -> list[RevealAlert]:
    alerts = RevealAlert.objects.filter(portal=portal).order_by("-at")
    if unseen_only:
        alerts = alerts.filter(seen_at__isnull=True)
    return list(alerts[:50])
