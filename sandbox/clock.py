"""The sandbox's time: real time, shifted or frozen through the control API."""

import time
from datetime import UTC, datetime

from sandbox.models import Clock


def now() -> float:
    """Unix time as the sandbox sees it."""
    clock = Clock.objects.first()
    if clock is None:
        return time.time()
    if clock.frozen_at is not None:
        return clock.frozen_at + clock.offset_seconds
    return time.time() + clock.offset_seconds


def now_dt() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)


def advance(seconds: float) -> float:
    clock, _ = Clock.objects.get_or_create(pk=1)
    clock.offset_seconds += seconds
    clock.save()
    return now()


def freeze(at: float | None = None) -> float:
    clock, _ = Clock.objects.get_or_create(pk=1)
    clock.frozen_at = time.time() if at is None else at
    clock.offset_seconds = 0.0
    clock.save()
    return now()


def reset() -> None:
    Clock.objects.all().delete()
