"""The Redis-shared limiter: GCRA on Redis' clock, a shared 429 pause, no unmetered fallback."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from customer_sdk.contrib.redis import LimiterUnavailableError, RedisLimiter
from tests._helpers import REDIS_SERVER, free_port, redis_server

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (.ci/run installs it with apt-get)"
)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client on a flushed database."""
    r = aioredis.Redis.from_url(redis_url)
    await r.flushdb()
    yield r
    await r.aclose()


async def _grant_times(limiter: RedisLimiter, n: int, workers: int) -> list[float]:
    times: list[float] = []

    async def worker() -> None:
        while len(times) < n:
            await limiter.acquire()
            times.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return times


async def test_burst_is_granted_at_once_then_the_rate_holds(client: aioredis.Redis) -> None:
    """A burst of B goes immediately; after it, grants follow the configured rate."""
    limiter = RedisLimiter(client, rate=50, burst=10, name="t1")
    start = time.monotonic()
    times = await _grant_times(limiter, 40, workers=8)
    burst_done = sorted(times)[9] - start
    total = max(times) - start
    assert burst_done < 0.15
    # 30 more grants at 50/s take ~0.6 s; allow scheduling noise but not double speed.
    assert 0.5 <= total <= 1.2


async def test_two_limiters_share_one_budget(client: aioredis.Redis) -> None:
    """Two limiters with the same name together stay at the one shared rate."""
    a = RedisLimiter(client, rate=40, burst=1, name="shared")
    b = RedisLimiter(client, rate=40, burst=1, name="shared")
    start = time.monotonic()
    ta, tb = await asyncio.gather(_grant_times(a, 20, 4), _grant_times(b, 20, 4))
    elapsed = max(ta + tb) - start
    # 40 grants at 40/s with burst 1 need ~0.975 s; two independent budgets would need half.
    assert elapsed >= 0.9


async def test_a_429_pause_holds_every_limiter(client: aioredis.Redis) -> None:
    """on_throttled on one worker pauses the others for the Retry-After period."""
    a = RedisLimiter(client, rate=1000, burst=5, name="paused")
    b = RedisLimiter(client, rate=1000, burst=5, name="paused")
    await b.acquire()
    a.on_throttled(0.4)
    await a.aclose()  # waits for the pause write to land in Redis
    start = time.monotonic()
    await b.acquire()
    assert time.monotonic() - start >= 0.35


async def test_a_pause_is_extended_never_shortened(client: aioredis.Redis) -> None:
    """A shorter Retry-After does not cut a longer pause that is already in force."""
    a = RedisLimiter(client, rate=1000, name="extend")
    a.on_throttled(1.0)
    a.on_throttled(0.1)
    await a.aclose()
    assert await client.pttl("extend:pause") > 800


async def test_redis_down_raises_instead_of_sending_unmetered() -> None:
    """With Redis unreachable, acquire raises LimiterUnavailableError (never grants)."""
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", rate=10, name="down")
    with pytest.raises(LimiterUnavailableError, match="not sending unmetered"):
        await limiter.acquire()
    await limiter.aclose()


def test_repr_hides_the_redis_url_password() -> None:
    """The limiter's repr never shows the Redis URL (it may hold a password)."""
    limiter = RedisLimiter("redis://:s3cret-canary@127.0.0.1:1/0", rate=5, name="acct")
    assert "s3cret-canary" not in repr(limiter)
    assert "acct" in repr(limiter)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (5, 0)])
def test_invalid_settings_are_refused(rate: float, burst: int) -> None:
    """A non-positive or infinite rate and a burst below 1 raise ValueError."""
    with pytest.raises(ValueError, match="must be"):
        RedisLimiter("redis://127.0.0.1:1/0", rate=rate, burst=burst)


class _CountingRedis(aioredis.Redis):
    """Counts the limiter's script calls and the most that were in flight at once."""

    calls = 0
    in_flight = 0
    peak = 0
    gate: asyncio.Event | None = None  # when set up, a script call waits for it (a slow Redis)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] != "EVALSHA":
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        finally:
            self.in_flight -= 1


@pytest.fixture
async def counting(redis_url: str) -> AsyncIterator[_CountingRedis]:
    """A script-call-counting Redis client on a flushed database."""
    r = _CountingRedis.from_url(redis_url)
    assert isinstance(r, _CountingRedis)
    await r.flushdb()
    yield r
    await r.aclose()


async def test_one_process_makes_one_redis_call_at_a_time(counting: _CountingRedis) -> None:
    """16 concurrent acquirers: never two script calls in flight, and one call per slot."""
    limiter = RedisLimiter(counting, rate=200, burst=1, name="herd")
    times = await _grant_times(limiter, 60, workers=16)
    assert counting.peak == 1
    # The slot is booked, not polled: no waiter asks again after its wait.
    assert counting.calls == len(times)


async def test_waiters_are_granted_in_arrival_order(client: aioredis.Redis) -> None:
    """Callers queued on one limiter get their slots first come, first served."""
    limiter = RedisLimiter(client, rate=100, burst=1, name="fifo")
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    tasks = []
    for i in range(12):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)  # let it join the queue before the next one arrives
    await asyncio.gather(*tasks)
    assert order == list(range(12))


async def test_a_cancelled_head_passes_its_booked_slot_on(counting: _CountingRedis) -> None:
    """Cancelling the sleeping head and a queued waiter: the next waiter sends in the slot."""
    sleeping = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeping.set()
        await asyncio.sleep(seconds)

    limiter = RedisLimiter(counting, rate=5, burst=1, name="cancel", sleep=sleep)
    await limiter.acquire()  # the next slot is 0.2 s away
    head = asyncio.create_task(limiter.acquire())
    await sleeping.wait()  # the head has booked that slot and sleeps until it
    queued = asyncio.create_task(limiter.acquire())
    last = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert counting.calls == 2
    head.cancel()
    queued.cancel()
    await asyncio.wait_for(last, 5)
    assert head.cancelled()
    assert queued.cancelled()
    assert counting.calls == 2, "the last waiter used the head's booking, no new call"
    # The queue still works after the cancellations: the next caller books the next slot.
    await asyncio.wait_for(limiter.acquire(), 5)
    assert counting.calls == 3


async def test_a_head_cancelled_in_its_redis_call_does_not_stall_the_queue(
    counting: _CountingRedis,
) -> None:
    """The head cancelled while its script call hangs: the waiters behind it still get slots."""
    limiter = RedisLimiter(counting, rate=1000, burst=1, name="stuck")
    counting.gate = asyncio.Event()
    head = asyncio.create_task(limiter.acquire())
    others = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
    while counting.in_flight == 0:
        await asyncio.sleep(0)
    head.cancel()
    with pytest.raises(asyncio.CancelledError):
        await head
    counting.gate.set()
    await asyncio.wait_for(asyncio.gather(*others), 5)
    assert counting.peak == 1


async def test_burst_1_keeps_the_full_rate(client: aioredis.Redis) -> None:
    """With burst 1 at 100/s, 16 workers of one process get 0.9-1.05 of the rate."""
    rate = 100.0
    limiter = RedisLimiter(client, rate=rate, burst=1, name="full")
    times = sorted(await _grant_times(limiter, 250, workers=16))
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert 0.9 * rate <= achieved <= 1.05 * rate, achieved


async def test_after_a_pause_slots_resume_at_the_rate_not_as_a_burst(
    client: aioredis.Redis,
) -> None:
    """A 429 pause empties the shared budget: the burst is not granted again at its end."""
    rate = 20.0
    limiter = RedisLimiter(client, rate=rate, burst=5, name="afterpause")
    limiter.on_throttled(0.2)
    await limiter.aclose()  # the pause is in Redis
    loop = asyncio.get_running_loop()

    async def one() -> float:
        await limiter.acquire()
        return loop.time()

    times = sorted(await asyncio.gather(*(one() for _ in range(5))))
    # Unpaused, these 5 would go at once (the burst); now they are 4 intervals (0.2 s) apart.
    assert times[-1] - times[0] >= 0.75 * 4 / rate


def _process_grants(url: str, rate: float, seconds: float, out: Path) -> None:
    async def run() -> None:
        limiter = RedisLimiter(url, rate=rate, burst=1, name="multi")
        stamps: list[float] = []
        end = time.time() + seconds

        async def worker() -> None:
            while time.time() < end:
                await limiter.acquire()
                stamps.append(time.time())

        await asyncio.gather(*(worker() for _ in range(16)))
        await limiter.aclose()
        out.write_text("\n".join(f"{s:.6f}" for s in stamps))

    asyncio.run(run())


def test_four_processes_together_keep_the_shared_rate(redis_url: str, tmp_path: Path) -> None:
    """4 processes x 16 workers, burst 1, together get 0.9-1.05 of the shared rate."""
    rate, seconds = 200.0, 3.0
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"p{i}.txt" for i in range(4)]
    procs = [ctx.Process(target=_process_grants, args=(redis_url, rate, seconds, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stamps = sorted(float(x) for o in outs for x in o.read_text().split())
    assert all(len(o.read_text().split()) > 0 for o in outs), "every process got slots"
    # Measure over the steady middle: skip the first and last half second (start-up skew).
    lo, hi = stamps[0] + 0.5, stamps[-1] - 0.5
    window = [s for s in stamps if lo <= s <= hi]
    achieved = len(window) / (hi - lo)
    assert 0.9 * rate <= achieved <= 1.05 * rate, achieved


async def test_a_stalled_redis_stops_sending_within_the_timeout(tmp_path: Path) -> None:
    """A SIGSTOPped redis-server, patience 0: acquire() raises LimiterUnavailableError."""
    with redis_server(tmp_path) as (proc, url):
        limiter = RedisLimiter(url, rate=100, name="stalled", timeout=0.5, patience=0)
        try:
            await limiter.acquire()  # connected and working
            proc.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(LimiterUnavailableError):
                await asyncio.wait_for(limiter.acquire(), timeout=10)
            assert time.monotonic() - started < 5  # the 0.5 s timeout, not the 10 s guard
        finally:
            proc.send_signal(signal.SIGCONT)
            await limiter.aclose()


def test_the_redis_timeout_must_be_positive() -> None:
    """timeout=0 (or inf) is refused: it would mean waiting forever or failing every call."""
    for bad in (0, -1, float("inf")):
        with pytest.raises(ValueError, match="timeout"):
            RedisLimiter("redis://127.0.0.1:1/0", rate=1, timeout=bad)
