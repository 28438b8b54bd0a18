"""The client's copy of the portal's leaky bucket and method budgets, in Redis."""

import itertools
import threading
import uuid

import pytest
import redis

from integrator.errors import MethodBlocked, RateLimited, Transient
from integrator.pacing import (
    Pacer,
    PacingConfig,
    RedisStore,
    default_store,
    is_enterprise,
)


def _pacer(config: PacingConfig, waits: list[float]) -> Pacer:
    return Pacer(f"test-{uuid.uuid4().hex}", config=config, sleep=waits.append)


def test_it_lets_a_burst_through_and_then_spaces_requests_at_the_drain_rate():
    waits: list[float] = []
    pacer = _pacer(PacingConfig(rate=2.0, burst=10, headroom=1), waits)

    for _ in range(15):
        pacer.acquire()

    assert len(waits) == 6
    # Each request beyond the burst waits half a second more than the one before
    # (less the little time the loop itself took).
    for earlier, later in itertools.pairwise(waits):
        assert 0.3 < later - earlier <= 0.5


def test_it_shares_the_bucket_between_workers_of_one_portal():
    waits: list[float] = []
    key = f"test-{uuid.uuid4().hex}"
    config = PacingConfig(rate=1.0, burst=5, headroom=0)
    lock = threading.Lock()

    def worker() -> None:
        pacer = Pacer(key, config=config, sleep=lambda s: None)
        for _ in range(5):
            wait = pacer.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 20 requests against a burst of 5: exactly 15 had to queue, one second apart.
    queued = sorted(w for w in waits if w > 0)
    assert len(queued) == 15
    assert queued[-1] == pytest.approx(15.0, abs=1.0)


def test_it_keeps_portals_apart():
    waits: list[float] = []
    config = PacingConfig(rate=1.0, burst=3, headroom=0)
    first, second = _pacer(config, waits), _pacer(config, waits)

    for _ in range(3):
        first.acquire()
        second.acquire()

    assert waits == []


def test_it_refuses_to_queue_longer_than_the_configured_maximum():
    waits: list[float] = []
    pacer = _pacer(PacingConfig(rate=1.0, burst=2, headroom=0, max_wait=3.0), waits)

    for _ in range(5):
        pacer.acquire()
    with pytest.raises(RateLimited):
        pacer.acquire()

    assert waits == pytest.approx([1.0, 2.0, 3.0], abs=0.2)


def test_a_refused_request_makes_every_worker_treat_the_bucket_as_full():
    waits: list[float] = []
    pacer = _pacer(PacingConfig(rate=2.0, burst=10, headroom=0), waits)

    pacer.saturate()
    pacer.acquire()

    assert waits == [pytest.approx(0.5, abs=0.05)]


def test_a_blocked_method_is_refused_before_sending_while_others_go_on():
    pacer = _pacer(PacingConfig(), [])
    until = pacer.store.now() + 300

    pacer.block("crm.lead.delete", until=until)

    with pytest.raises(MethodBlocked) as blocked:
        pacer.before("crm.lead.delete")
    assert blocked.value.reset_at == pytest.approx(until)
    assert blocked.value.countdown(now=until - 300) >= 300
    assert pacer.before("crm.lead.get") == 0.0


def test_a_method_near_its_time_budget_is_slowed_then_paused():
    waits: list[float] = []
    pacer = _pacer(PacingConfig(slow_from=300, pause_from=470, slow_delay=1.0), waits)
    reset_at = pacer.store.now() + 120

    pacer.record("crm.item.list", {"operating": 200.0, "operating_reset_at": reset_at})
    assert pacer.before("crm.item.list") == 0.0

    pacer.record("crm.item.list", {"operating": 400.0, "operating_reset_at": reset_at})
    assert pacer.before("crm.item.list") > 1.0

    pacer.record("crm.item.list", {"operating": 479.2, "operating_reset_at": reset_at})
    with pytest.raises(MethodBlocked) as paused:
        pacer.before("crm.item.list")
    assert paused.value.reset_at == pytest.approx(reset_at)
    assert pacer.last_reset_at("crm.item.list") == pytest.approx(reset_at)


def test_a_budget_whose_reset_has_passed_no_longer_slows_the_method():
    pacer = _pacer(PacingConfig(slow_from=300, pause_from=470), [])
    past = pacer.store.now() - 1

    pacer.record("crm.item.list", {"operating": 479.0, "operating_reset_at": past})

    assert pacer.before("crm.item.list") == 0.0


def test_enterprise_plans_get_the_larger_bucket():
    config = PacingConfig()

    assert config.for_plan("ent").rate == 5.0
    assert config.for_plan("de_ent10000").burst == 250
    assert config.for_plan("ent250").burst == 250
    assert config.for_plan("ru_std").burst == 50
    assert config.for_plan("").rate == 2.0
    assert not is_enterprise("project")


def test_the_bucket_lives_in_redis_when_configured(settings):
    assert settings.REDIS_URL
    assert type(default_store()).__name__ == "RedisStore"


def test_without_redis_a_job_is_told_to_come_back_later():
    store = RedisStore(redis.Redis(host="127.0.0.1", port=9, socket_timeout=0.5))
    pacer = Pacer("unreachable", config=PacingConfig(), store=store)

    with pytest.raises(Transient) as down:
        pacer.acquire()

    assert down.value.code == "redis_unavailable"
