"""Limiter maths on an injected clock: token bucket pacing, shared pause, adaptive CUBIC, noise."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from typing import Any

import pytest

from customer_sdk import AdaptiveLimiter, Limiter, PauseGate, TokenBucket
from customer_sdk._ratelimit import no_wait_check
from customer_sdk._ratelimit._noise import NOISE_CAP, NoiseFloor
from tests._helpers import FakeTime


class SharedTime(FakeTime):
    """Sleepers wake in order of their wake-up time, as on a real clock (for concurrent tests)."""

    def __init__(self) -> None:
        super().__init__()
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._n = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        fut = asyncio.get_running_loop().create_future()
        self._n += 1
        self._waiters.append((self.now + seconds, self._n, fut))
        await fut

    async def run(self) -> None:
        """Advance to the next wake-up whenever everyone is asleep."""
        while True:
            for _ in range(5):
                await asyncio.sleep(0)
            if not self._waiters:
                return
            self._waiters.sort()
            when, _, fut = self._waiters.pop(0)
            self.now = max(self.now, when)
            fut.set_result(None)


# CUBIC's K above 10/s: C grows with W_max (0.4 W_max / 10), so K = (10 * 0.3 / 0.4) ** (1/3)
# seconds at any W_max (the climb back keeps its shape in proportion).
_K = (10.0 * 0.3 / 0.4) ** (1 / 3)


def test_every_limiter_satisfies_the_protocol() -> None:
    """PauseGate, TokenBucket and AdaptiveLimiter are all Limiters."""
    for limiter in (PauseGate(), TokenBucket(5.0), AdaptiveLimiter()):
        assert isinstance(limiter, Limiter)


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": 0}, {"rate": -1}, {"rate": float("inf")}, {"rate": 1, "burst": 0}],
)
def test_token_bucket_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    """A non-positive or infinite rate, or a burst below 1, is a ValueError."""
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(**kwargs)  # type: ignore[arg-type]


async def test_token_bucket_paces_at_its_rate() -> None:
    """Ten acquires at 5/s with burst 1 take 9 * 0.2 s: the first is free."""
    t = FakeTime()
    bucket = TokenBucket(5.0, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(10):
        await bucket.acquire()
    assert t.now - start == pytest.approx(1.8)
    assert t.sleeps == pytest.approx([0.2] * 9)


async def test_token_bucket_allows_its_burst_then_paces() -> None:
    """After idling, ``burst`` requests go at once; the next waits one interval."""
    t = FakeTime()
    bucket = TokenBucket(10.0, burst=4, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        await bucket.acquire()
    assert t.sleeps == []
    await bucket.acquire()
    assert t.sleeps == pytest.approx([0.1])
    t.now += 10  # a long idle spell refills the burst, never more
    for _ in range(4):
        await bucket.acquire()
    assert len(t.sleeps) == 1
    await bucket.acquire()
    assert len(t.sleeps) == 2


async def test_concurrent_callers_get_distinct_evenly_spaced_slots() -> None:
    """Twenty tasks at 10/s: grant times are 0.1 s apart, never two in the same slot."""
    t = SharedTime()
    bucket = TokenBucket(10.0, clock=t.clock, sleep=t.sleep)
    granted: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        granted.append(t.now)

    tasks = [asyncio.create_task(one()) for _ in range(20)]
    await t.run()
    await asyncio.gather(*tasks)
    granted.sort()
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert gaps == pytest.approx([0.1] * 19)


async def test_a_pause_holds_everyone_and_the_rate_resumes_paced() -> None:
    """A 429's Retry-After holds every caller; afterwards slots are spaced from its end."""
    t = SharedTime()
    bucket = TokenBucket(10.0, burst=5, clock=t.clock, sleep=t.sleep)
    start = t.now
    bucket.on_throttled(2.0)
    bucket.on_throttled(0.5)  # a shorter pause never shortens it
    bucket.on_throttled(None)
    assert bucket.paused_until == start + 2.0
    granted: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        granted.append(t.now)

    tasks = [asyncio.create_task(one()) for _ in range(6)]
    await t.run()
    await asyncio.gather(*tasks)
    granted.sort()
    assert granted[0] >= start + 2.0
    # no burst after a pause, whatever the burst: grants at least one interval apart
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(granted))


async def test_a_pause_arriving_while_waiting_sends_the_waiter_after_it() -> None:
    """A caller asleep for its slot when a pause starts does not send inside the pause."""
    t = SharedTime()
    bucket = TokenBucket(1.0, clock=t.clock, sleep=t.sleep)
    await bucket.acquire()  # uses the free slot
    granted: list[float] = []

    async def late() -> None:
        await bucket.acquire()  # would be granted at +1 s
        granted.append(t.now)

    task = asyncio.create_task(late())
    for _ in range(3):
        await asyncio.sleep(0)
    start = t.now
    bucket.on_throttled(5.0)
    await t.run()
    await task
    assert granted[0] >= start + 5.0


def test_adaptive_limiter_refuses_bad_settings() -> None:
    """Rates must be positive, beta in (0, 1), max_rate >= min_rate."""
    cases: tuple[dict[str, Any], ...] = (
        {"min_rate": 0.0},
        {"beta": 1.0},
        {"beta": 0.0},
        {"min_rate": 5.0, "max_rate": 1.0},
        {"initial_rate": -1.0},
        {"decrease_guard": -1.0},
    )
    for kwargs in cases:
        with pytest.raises(ValueError, match="must be"):
            AdaptiveLimiter(**kwargs)


async def test_adaptive_starts_unpaced_and_measures_the_send_rate() -> None:
    """Before any 429 nothing waits; the measured rate follows what is sent."""
    t = FakeTime()
    lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep)
    for _ in range(50):  # 50 requests per second for 3 s
        for _ in range(5):
            await lim.acquire()
            lim.on_success()
        t.now += 0.1
    assert t.sleeps == []
    assert lim.rate is None
    assert lim.measured_rate == pytest.approx(50.0, rel=0.1)


async def test_a_429_cuts_the_rate_by_beta_once_per_guard_window() -> None:
    """A 429 cuts the rate to beta times the measured rate, at most once per guard window.

    429s inside the guard window still pause but do not cut again; one after it does.
    """
    t = FakeTime()
    lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep, decrease_guard=0.5)
    for _ in range(20):
        for _ in range(10):
            await lim.acquire()
        t.now += 0.1  # 100 per second
    lim.on_throttled(0.0)
    # 100/s in the open bucket (the smoothed rate lags a little behind: the higher counts)
    assert lim.rate == pytest.approx(0.7 * 100.0)
    lim.on_throttled(0.0)
    lim.on_throttled(1.0)  # still pauses
    assert lim.rate == pytest.approx(0.7 * 100.0)
    assert lim.paused_until == pytest.approx(t.now + 1.0)
    t.now += 0.6
    lim.on_throttled(0.0)
    assert lim.rate == pytest.approx(0.49 * 100.0)
    assert lim.throttles == 4


async def test_the_rate_climbs_back_along_the_cubic_curve() -> None:
    """After a cut from W_max the rate is back at W_max at t = K and above it afterwards."""
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=100.0, hold=0.0, clock=t.clock, sleep=t.sleep)
    lim.on_throttled(0.0)
    start = t.now
    assert lim.rate == pytest.approx(70.0)
    k = _K
    rates: dict[float, float] = {}
    for frac in (0.25, 0.5, 0.75, 1.0, 1.5):
        t.now = start + k * frac
        lim.on_success()
        assert lim.rate is not None
        rates[frac] = lim.rate
    assert 70.0 < rates[0.25] < rates[0.5] < rates[0.75] < rates[1.0]
    assert rates[1.0] == pytest.approx(100.0)
    assert rates[1.5] > 100.0
    # concave below W_max: most of the gap is closed in the first half of K
    assert rates[0.5] - 70.0 > (100.0 - 70.0) * 0.8


async def test_the_climb_is_capped_by_twice_the_measured_rate_and_max_rate() -> None:
    """A job that sends slowly does not bank a huge allowance; max_rate is a ceiling."""
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=100.0, max_rate=120.0, clock=t.clock, sleep=t.sleep)
    for _ in range(10):
        await lim.acquire()
        t.now += 0.1  # about 10 per second actually sent
    lim.on_throttled(0.0)
    t.now += 60
    lim.on_success()
    assert lim.rate is not None
    assert lim.rate <= 2 * lim.measured_rate + 1e-9
    lim2 = AdaptiveLimiter(initial_rate=100.0, max_rate=120.0, clock=t.clock, sleep=t.sleep)
    lim2.on_throttled(0.0)
    t.now += 600
    lim2.on_success()
    assert lim2.rate == 120.0


async def test_the_rate_never_goes_below_min_rate() -> None:
    """Repeated 429s stop cutting at min_rate."""
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=10.0, min_rate=2.0, clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        lim.on_throttled(0.0)
        t.now += 1
    assert lim.rate == 2.0


async def test_adaptive_paces_at_its_current_rate() -> None:
    """After a cut to 7/s, acquires are 1/7 s apart."""
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=10.0, clock=t.clock, sleep=t.sleep)
    lim.on_throttled(0.0)
    for _ in range(4):
        await lim.acquire()
    assert t.sleeps == pytest.approx([1 / 7] * 3)


async def test_a_given_start_rate_holds_then_climbs_and_the_first_429_cuts_at_once() -> None:
    """With initial_rate R: successes keep about R at first, climb slowly; a 429 cuts at once."""
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=200.0, clock=t.clock, sleep=t.sleep)
    lim.on_success()
    assert lim.rate == pytest.approx(200.0)
    t.now += 2.0
    lim.on_success()
    assert lim.rate == pytest.approx(200.0 + 0.4 * 8)
    fresh = AdaptiveLimiter(initial_rate=200.0, clock=t.clock, sleep=t.sleep)
    fresh.on_throttled(0.0)  # no guard before the first cut
    assert fresh.rate == pytest.approx(140.0)
    fresh.on_success()
    assert fresh.rate == pytest.approx(140.0)


async def test_a_confirmed_limit_is_held_just_under_before_probing() -> None:
    """Once two cuts find nearly the same W_max, the rate holds at 0.9 W_max, then probes.

    It climbs to 0.9 W_max, stays there for ``hold`` seconds, and only then probes past
    W_max; a first cut alone does not hold.
    """
    t = FakeTime()
    lim = AdaptiveLimiter(initial_rate=100.0, hold=10.0, clock=t.clock, sleep=t.sleep)
    lim.on_throttled(0.0)  # W_max 100, not yet confirmed
    k = _K
    t.now += k + 1.0  # 4 % past W_max
    lim.on_success()
    assert lim.rate is not None
    assert lim.rate > 100.0  # no hold after a first cut: probing
    lim.on_throttled(0.0)  # W_max about 104: within 15 % of 100, confirmed
    w = lim._w_max
    start = t.now
    k = _K
    for after in (0.0, 5.0, 9.5):
        t.now = start + k + after
        lim.on_success()
        assert lim.rate == pytest.approx(0.9 * w)
    t.now = start + k + 12.0
    lim.on_success()
    assert lim.rate == pytest.approx(w + 0.4 * (w / 10) * 8)  # C scaled with W_max


async def test_an_unpaced_start_cuts_to_the_rate_that_got_through() -> None:
    """Sending 300/s while only 50/s are answered without 429: W_max is 50, not 300."""
    t = FakeTime()
    lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep)
    for _ in range(20):  # 2 s: 30 sends per 0.1 s, 5 of them answered without a 429
        for n in range(30):
            await lim.acquire()
            if n < 5:
                lim.on_success()
        t.now += 0.1
    lim.on_throttled(0.0)
    assert lim.rate == pytest.approx(0.7 * 50.0, rel=0.1)


async def test_pause_gate_holds_every_caller_and_only_extends() -> None:
    """A 429 pause makes every acquire wait it out; a shorter one never shortens it."""
    t = FakeTime()
    gate = PauseGate(clock=t.clock, sleep=t.sleep)
    await gate.acquire()
    assert t.sleeps == []
    gate.on_throttled(2.0)
    gate.on_throttled(0.5)
    gate.on_throttled(None)
    await gate.acquire()
    await gate.acquire()
    assert t.sleeps == [2.0]


async def test_pause_gate_does_not_spin_with_a_sleep_that_does_not_wait() -> None:
    """With waits switched off the gate returns after one yield instead of busy-looping."""
    calls = []

    async def no_sleep(seconds: float) -> None:
        calls.append(seconds)

    gate = PauseGate(clock=lambda: 0.0, sleep=no_sleep)
    gate.on_throttled(5.0)
    await gate.acquire()
    assert calls == [5.0]


# --- noise vs a real limit (bare 429s, no Retry-After) -------------------------------------


def feed(floor: NoiseFloor, t: FakeTime, answers: int, every: int) -> None:
    """One second of ``answers`` answers, every ``every``-th a 429 (0: none)."""
    for n in range(answers):
        t.now += 1.0 / answers
        floor.add(every > 0 and n % every == every - 1, t.now)


def test_the_noise_floor_learns_a_steady_background_share() -> None:
    """Windows with 3 % of 429s teach a background near 3 %; such a window is not a limit."""
    t = FakeTime()
    floor = NoiseFloor(t.now)
    for _ in range(20):
        feed(floor, t, 100, 33)
    assert floor.background == pytest.approx(0.03, abs=0.005)
    assert not floor.exceeded()


def test_a_window_well_above_the_background_is_a_limit() -> None:
    """With a 3 % background, a window of 100 answers holding 15 429s is exceeded."""
    t = FakeTime()
    floor = NoiseFloor(t.now)
    for _ in range(20):
        feed(floor, t, 100, 33)
    floor.close(t.now)
    for n in range(100):
        floor.add(n % 7 == 0, t.now)
    assert floor.exceeded()


def test_without_background_the_second_429_of_a_window_is_a_limit() -> None:
    """A lone 429 never counts as a limit; two in one window (no background) do."""
    t = FakeTime()
    floor = NoiseFloor(t.now, prior=0.0)
    for _ in range(30):
        floor.add(False, t.now)
    floor.add(True, t.now)
    assert not floor.exceeded()
    floor.add(True, t.now)
    assert floor.exceeded()


def test_before_any_window_the_background_is_taken_as_the_cap() -> None:
    """A fresh floor believes 5 % noise: 3 429s in 100 answers are not a limit, 20 are."""
    t = FakeTime()
    floor = NoiseFloor(t.now)
    assert floor.background == NOISE_CAP
    for n in range(100):
        floor.add(n % 33 == 0, t.now)
    assert not floor.exceeded()
    for _ in range(17):
        floor.add(True, t.now)
    assert floor.exceeded()


def test_a_run_over_a_limit_never_teaches_more_than_the_cap() -> None:
    """Windows of 50 % 429s are learned as at most NOISE_CAP of background."""
    t = FakeTime()
    floor = NoiseFloor(t.now)
    for _ in range(30):
        feed(floor, t, 100, 2)
    assert NOISE_CAP - 0.001 < floor.background <= NOISE_CAP


def simulate(
    lim: AdaptiveLimiter, t: FakeTime, seconds: float, limit: float | None, noise: float
) -> list[tuple[float, bool]]:
    """Send as fast as the limiter lets (at most 1000/s) to a fake server; answers at once.

    The server has a token bucket of ``limit``/s (burst limit/10) when given, and answers a
    share ``noise`` of the rest 429 at random (seeded): every 429 is bare (no Retry-After).

    Returns:
        (send time, throttled) per request.
    """
    rng = random.Random(5)
    tokens, last = (limit or 0) / 10, t.now
    end = t.now + seconds
    sent: list[tuple[float, bool]] = []
    while t.now < end:
        t.now += 0.001
        # the limiter's acquire is awaited synchronously here: no other task runs
        coro = lim.acquire()
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:  # it wanted to sleep: FakeTime's sleep advanced the clock; finish it
            with contextlib.suppress(StopIteration):
                while True:
                    coro.send(None)
        throttled = False
        if limit is not None:
            tokens = min(limit / 10, tokens + (t.now - last) * limit)
            last = t.now
            if tokens >= 1:
                tokens -= 1
            else:
                throttled = True
        throttled = throttled or rng.random() < noise
        sent.append((t.now, throttled))
        if throttled:
            lim.on_throttled(None)
        else:
            lim.on_success()
    return sent


def test_random_429s_do_not_collapse_the_rate() -> None:
    """2.5 % random bare 429s at ~1000/s: after 60 s the rate is not cut to a crawl."""
    t = FakeTime()
    lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep)
    sent = simulate(lim, t, 60.0, None, 0.025)
    last = [s for s in sent if s[0] > t.now - 20]
    assert len(last) / 20 > 0.7 * 1000
    assert lim.background > 0.01


def test_a_real_limit_is_still_found_under_random_429s() -> None:
    """A 100/s bucket plus 2.5 % noise: the last 30 s run near L with few 429s beyond noise."""
    t = FakeTime()
    lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep)
    sent = simulate(lim, t, 60.0, 100.0, 0.025)
    last = [s for s in sent if s[0] > t.now - 30]
    rate = len(last) / 30
    assert 80.0 <= rate <= 110.0
    assert sum(th for _, th in last) / len(last) <= 0.025 + 0.05


async def test_an_unpaced_start_told_by_retry_after_holds_under_the_rate_it_measured() -> None:
    """The first cut from unpaced with Retry-After holds at 0.9 W_max; a bare 429's does not."""
    for retry_after, holds in ((0.0, True), (None, False)):
        t = FakeTime()
        lim = AdaptiveLimiter(clock=t.clock, sleep=t.sleep, hold=10.0)
        for _ in range(10):
            for _ in range(10):
                await lim.acquire()
                lim.on_success()
            t.now += 0.1  # 100 per second, all answered
        lim.on_throttled(retry_after)
        while retry_after is None and lim.rate is None:
            lim.on_throttled(None)  # bare 429s cut once clearly above the 5 % prior
        w = lim._w_max
        assert w == pytest.approx(100.0, rel=0.05)
        t.now += _K + 5.0
        lim.on_success()
        assert lim.rate is not None
        if holds:
            assert lim.rate == pytest.approx(0.9 * w)
        else:
            assert lim.rate > w  # probing past W_max


async def test_a_paced_slot_that_is_due_is_taken_without_a_coroutine() -> None:
    """no_wait_check on a TokenBucket: due slots are taken at once; an early one is refused."""
    t = FakeTime()
    bucket = TokenBucket(10.0, burst=2, clock=t.clock, sleep=t.sleep)
    now = no_wait_check(bucket)
    assert now()
    assert now()  # the burst of 2
    assert not now()  # the third is 0.1 s early: acquire() must wait for it
    t.now += 0.1
    assert now()
    bucket.on_throttled(1.0)
    t.now += 0.5
    assert not now()  # paused


async def test_a_paced_slot_is_not_taken_past_a_queue() -> None:
    """While a caller waits in acquire(), the no-wait check never jumps the queue."""
    t = SharedTime()
    bucket = TokenBucket(10.0, clock=t.clock, sleep=t.sleep)
    now = no_wait_check(bucket)
    assert now()
    waiter = asyncio.ensure_future(bucket.acquire())
    await asyncio.sleep(0)
    t.now += 0.2  # the waiter's slot is due, but it holds the queue
    assert not now()
    await t.run()
    await waiter
