"""Request limits of a portal: the leaky bucket and per-method operating time.

State lives in this process (the sandbox runs as one process with threads),
keyed by member_id so that a recreated portal starts clean.
"""

import threading
from dataclasses import dataclass, field

BASKET_SECONDS = 60
BASKETS = 10


@dataclass
class _Bucket:
    level: float = 0.0
    at: float = 0.0


@dataclass
class _Operating:
    baskets: dict[int, float] = field(default_factory=dict)


_lock = threading.Lock()
_buckets: dict[tuple[str, str], _Bucket] = {}
_operating: dict[tuple[str, str, str], _Operating] = {}
_counts: dict[str, dict[str, int]] = {}


def bucket_admit(
    *, member_id: str, ip: str, rate: float, burst: int, now: float
) -> bool:
    """Count one request; False when the bucket is full (the request is refused)."""
    with _lock:
        bucket = _buckets.setdefault((member_id, ip), _Bucket(at=now))
        bucket.level = max(0.0, bucket.level - max(0.0, now - bucket.at) * rate)
        bucket.at = now
        if bucket.level + 1 > burst:
            return False
        bucket.level += 1
        return True


def bucket_level(*, member_id: str, ip: str) -> float:
    with _lock:
        bucket = _buckets.get((member_id, ip))
        return bucket.level if bucket else 0.0


def _current(op: _Operating, now: float) -> dict[int, float]:
    first = int(now // BASKET_SECONDS) - BASKETS + 1
    op.baskets = {m: s for m, s in op.baskets.items() if m >= first}
    return op.baskets


def operating(*, member_id: str, caller: str, method: str, now: float) -> float:
    """Seconds the method ran in the last ten one-minute baskets."""
    with _lock:
        op = _operating.get((member_id, caller, method))
        return sum(_current(op, now).values()) if op else 0.0


def operating_reset_at(*, member_id: str, caller: str, method: str, now: float) -> int:
    """When the oldest basket of this method drops out of the window."""
    with _lock:
        op = _operating.get((member_id, caller, method))
        baskets = _current(op, now) if op else {}
        oldest = min(baskets) if baskets else int(now // BASKET_SECONDS)
        return (oldest + BASKETS) * BASKET_SECONDS


def operating_add(
    *, member_id: str, caller: str, method: str, now: float, seconds: float
) -> None:
    with _lock:
        op = _operating.setdefault((member_id, caller, method), _Operating())
        minute = int(now // BASKET_SECONDS)
        op.baskets[minute] = op.baskets.get(minute, 0.0) + seconds


def count(member_id: str, name: str, by: int = 1) -> None:
    with _lock:
        counts = _counts.setdefault(member_id, {})
        counts[name] = counts.get(name, 0) + by


def counts(member_id: str) -> dict[str, int]:
    with _lock:
        return dict(_counts.get(member_id, {}))


def count_reset(member_id: str) -> None:
    with _lock:
        _counts.pop(member_id, None)


def forget(member_id: str) -> None:
    """Drop all limit state of a portal (control API reset)."""
    with _lock:
        for key in [k for k in _buckets if k[0] == member_id]:
            del _buckets[key]
        for okey in [k for k in _operating if k[0] == member_id]:
            del _operating[okey]
