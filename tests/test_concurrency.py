"""The latency-aware concurrency of bulk jobs: its control law on fake time, its gate, its wiring.

The law (``customer_sdk._bulk._concurrency``) is fed round-trip samples on an injected clock and
must move the limit exactly as designed; no test here measures a speed.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from benchmarks._latency_proxy import start_proxy
from customer_sdk import AdaptiveLimiter, ChargeOverClient, PauseGate, RowOutcome
from customer_sdk._bulk._circuit import Circuit
from customer_sdk._bulk._concurrency import (
    GROW,
    HEADROOM,
    SHRINK,
    SPARE,
    ConcurrencyLimit,
    WorkerGate,
)
from customer_sdk._bulk._policy import JobLimiter, paced_rate
from customer_sdk.errors import ConfigurationError
from customer_sdk.sandbox import Sandbox
from tests._helpers import FakeTime


def window(control: ConcurrencyLimit, t: FakeTime, rtt: float, *, saturated: bool) -> None:
    """Feed exactly one window: its length passes, then eight identical round trips."""
    control.saturated = saturated
    t.now += 1.01 * max(0.1, 2 * (control.rtt or 0.0))  # a hair over: float sums
    for _ in range(8):
        control.sample(rtt)


def test_paced_limit_is_littles_law_with_headroom() -> None:
    """Paced at 300/s with a 100 ms round trip: 1.5 * 300 * 0.1 + 4 = 49 in flight."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: 300.0, clock=t.clock)
    window(control, t, 0.1, saturated=False)
    assert control.limit == math.ceil(HEADROOM * 300.0 * 0.1 + SPARE) == 49
    assert control.rtt == pytest.approx(0.1)


def test_paced_limit_follows_the_rate_and_stays_between_floor_and_ceiling() -> None:
    """A lower rate lowers the limit to the floor; a huge one is capped by the ceiling."""
    t = FakeTime()
    rate = [300.0]
    control = ConcurrencyLimit(16, 256, lambda: rate[0], clock=t.clock)
    window(control, t, 0.1, saturated=False)
    rate[0] = 20.0  # 1.5 * 20 * 0.1 + 4 = 7: below the floor
    window(control, t, 0.1, saturated=False)
    assert control.limit == 16
    rate[0] = 10_000.0
    window(control, t, 0.1, saturated=False)
    assert control.limit == 256


def test_paced_below_its_rate_the_gradient_may_add_more_than_littles_law() -> None:
    """Paced at 10,000/s but answering 80/s at 1 ms round trips: the limit grows by the gradient."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: 10_000.0, clock=t.clock)
    window(control, t, 0.001, saturated=True)  # Little's law: 1.5 * 10,000 * 0.001 + 4 = 19
    assert control.limit == math.ceil(16 * GROW + 1) == 21
    window(control, t, 0.001, saturated=True)
    assert control.limit == math.ceil(21 * GROW + 1)


def test_paced_and_reaching_its_rate_the_limit_is_littles_law_alone() -> None:
    """Answering at the paced rate, a saturated gate does not grow past Little's law."""
    t = FakeTime()
    control = ConcurrencyLimit(4, 256, lambda: 40.0, clock=t.clock)
    for _ in range(3):
        window(control, t, 0.1, saturated=True)  # 8 answers per 0.2 s window: 40/s >= 0.8 * 40
    assert control.limit == math.ceil(HEADROOM * 40.0 * 0.1 + SPARE) == 10


def test_unpaced_limit_grows_only_while_saturated_and_round_trips_stay_flat() -> None:
    """No rate, flat 100 ms round trips, every slot busy: *1.2 + 1 per window; idle: holds."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: None, clock=t.clock)
    window(control, t, 0.1, saturated=True)
    assert control.limit == math.ceil(16 * GROW + 1) == 21
    window(control, t, 0.1, saturated=True)
    assert control.limit == math.ceil(21 * GROW + 1) == 27
    window(control, t, 0.1, saturated=False)  # the input, not the limit, held the job
    assert control.limit == 27


def test_unpaced_limit_shrinks_when_round_trips_double_but_not_below_the_floor() -> None:
    """Round trips at 4x the least seen (queueing) shrink the limit by a fifth, to the floor."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: None, clock=t.clock)
    for _ in range(10):
        window(control, t, 0.1, saturated=True)
    grown = control.limit
    assert grown > 100
    window(control, t, 0.4, saturated=True)
    assert control.limit == math.ceil(grown * SHRINK)
    for _ in range(15):
        window(control, t, 0.4, saturated=True)
    assert control.limit == 16


def test_between_clear_and_queueing_the_limit_holds() -> None:
    """Round trips at 1.5 times the least seen: neither growth nor shrinking."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: None, clock=t.clock)
    window(control, t, 0.1, saturated=True)
    before = control.limit
    window(control, t, 0.15, saturated=True)
    assert control.limit == before


def test_a_window_needs_eight_samples_and_a_tenth_of_a_second() -> None:
    """Seven samples, or eight within 0.1 s, do not move the limit."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: 300.0, clock=t.clock)
    for _ in range(7):
        t.now += 0.05
        control.sample(0.1)
    assert control.limit == 16
    assert control.rtt is None
    control2 = ConcurrencyLimit(16, 256, lambda: 300.0, clock=t.clock)
    for _ in range(20):
        control2.sample(0.1)  # no time passes
    assert control2.limit == 16
    assert control2.rtt is None


def test_the_floor_never_exceeds_the_ceiling() -> None:
    """A ceiling below 16 is the floor too."""
    control = ConcurrencyLimit(16, 4, lambda: None)
    assert control.floor == control.limit == 4


async def test_gate_admits_up_to_the_limit_and_hands_slots_on_in_order() -> None:
    """With limit 2 a third worker waits; a leave hands it the slot; growth wakes several."""
    control = ConcurrencyLimit(2, 8, lambda: None)
    gate = WorkerGate(control)
    assert gate.enter() is None
    assert gate.enter() is None
    assert control.saturated
    third, fourth, fifth = gate.enter(), gate.enter(), gate.enter()
    assert third is not None
    assert fourth is not None
    assert fifth is not None
    gate.leave()
    assert third.done()
    assert not fourth.done()
    control.limit = 4
    gate.leave()
    assert fourth.done()
    assert fifth.done()
    assert gate.active == 3


async def test_gate_skips_a_cancelled_waiter() -> None:
    """A worker cancelled while waiting does not take the slot it would have got."""
    control = ConcurrencyLimit(1, 8, lambda: None)
    gate = WorkerGate(control)
    assert gate.enter() is None
    gone, next_ = gate.enter(), gate.enter()
    assert gone is not None
    assert next_ is not None
    gone.cancel()
    gate.leave()
    assert next_.done()
    assert not next_.cancelled()
    assert gate.active == 1


async def test_job_limiter_times_each_request_from_its_slot_to_its_answer() -> None:
    """Each acquire() then answer 0.1 s later (a success or a 429) is a 0.1 s round trip."""
    t = FakeTime()
    control = ConcurrencyLimit(16, 256, lambda: 300.0, clock=t.clock)
    limiter = JobLimiter(Circuit(), None, PauseGate(clock=t.clock), control, clock=t.clock)
    for n in range(8):
        await limiter.acquire()
        t.now += 0.1
        if n % 2:
            limiter.on_throttled(None)
        else:
            limiter.on_success()
    limiter.on_success()  # no slot of this task is open: no sample
    assert control.rtt == pytest.approx(0.1)
    assert control.limit == 49  # 1.5 * 300 * 0.1 + 4


def test_paced_rate_reads_the_job_limiter() -> None:
    """An adaptive limiter's rate (None before its first 429) is what the law sees."""
    lim = AdaptiveLimiter(initial_rate=50.0)
    assert paced_rate(lim)() == 50.0
    assert paced_rate(AdaptiveLimiter())() is None
    assert paced_rate(None)() is None


async def test_concurrency_must_be_none_or_a_positive_int() -> None:
    """concurrency=0 is refused, naming the option; None is the adaptive default."""
    async with (
        Sandbox() as sb,
        ChargeOverClient(sb.base_url, username=sb.username, password=sb.password) as client,
    ):
        with pytest.raises(ConfigurationError, match="concurrency must be None or an int"):
            client.customers.create_many([], concurrency=0)
        job = client.customers.create_many([])
        assert job.concurrency is None
        assert job.in_flight_limit == 16
        fixed = client.customers.create_many([], concurrency=5)
        assert fixed.in_flight_limit == 5


async def test_default_job_against_the_sandbox_limiter_creates_every_row_once() -> None:
    """Default flags under a sandbox limit without Retry-After plus random 429s: all created."""
    rows = [{"company": f"C {i}", "external_key": f"k{i}"} for i in range(600)]
    async with (
        Sandbox(
            rate=150.0, burst=15, retry_after="none", faults="create:429@none=0.03", seed=7
        ) as sb,
        ChargeOverClient(sb.base_url, username=sb.username, password=sb.password) as client,
    ):
        async with client.customers.create_many(rows) as job:
            outcomes = [r.outcome async for r in job]
        assert outcomes.count(RowOutcome.CREATED) == 600
        keys = [c.get("external_key") for c in sb.customers.values()]
        assert len(keys) == len(set(keys)) == 600
        assert job.stats.throttled > 0  # the limit and the noise were both met
        limiter = job.limiter
        assert isinstance(limiter, AdaptiveLimiter)
        assert limiter.rate is not None
        assert 16 <= job.in_flight_limit <= 256


async def test_a_far_server_gets_more_rows_in_flight_than_the_floor() -> None:
    """Behind a 60 ms proxy with no limit, the default job's in-flight limit grows past 16."""
    rows = [{"company": f"C {i}", "external_key": f"f{i}"} for i in range(800)]
    async with Sandbox() as sb:
        proxy = await start_proxy(sb.base_url, 0.06)
        try:
            url = f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
            async with (
                ChargeOverClient(url, username=sb.username, password=sb.password) as client,
                client.customers.create_many(rows) as job,
            ):
                outcomes = [r.outcome async for r in job]
        finally:
            proxy.close()
            await proxy.wait_closed()
        assert outcomes.count(RowOutcome.CREATED) == 800
        assert job.in_flight_limit > 16


async def test_a_request_without_an_answer_frees_its_slot_at_its_tasks_next_acquire() -> None:
    """Limit 1: a request that got no answer (a transport error) does not hold the slot forever."""
    t = FakeTime()
    control = ConcurrencyLimit(1, 1, lambda: None, clock=t.clock)
    limiter = JobLimiter(Circuit(), None, PauseGate(clock=t.clock), control, clock=t.clock)
    await limiter.acquire()  # sent; the transport failed: the limiter is never told
    async with asyncio.timeout(1.0):  # the same task again (no new task): not stuck
        await limiter.acquire()
    limiter.on_success()
    other = asyncio.ensure_future(limiter.acquire())
    await asyncio.wait_for(other, 1.0)  # and the slot went back for others


class _Recording(ConcurrencyLimit):
    """A concurrency limit that also keeps every round trip it is told."""

    samples: list[float]

    def sample(self, rtt: float) -> None:
        """Keep the round trip, then take it as usual."""
        self.samples.append(rtt)
        super().sample(rtt)


async def test_a_slot_held_ahead_lets_the_next_request_through_at_once() -> None:
    """hold(): the task's next acquire() takes no second slot; others wait for the one held."""
    t = FakeTime()
    control = _Recording(1, 1, lambda: None, clock=t.clock)
    control.samples = []
    limiter = JobLimiter(Circuit(), None, PauseGate(clock=t.clock), control, clock=t.clock)
    await limiter.acquire()
    limiter.hold()  # a worker acquired before taking its row
    t.now += 5.0  # it waited for a row

    async def another_task() -> None:
        await limiter.acquire()

    other = asyncio.ensure_future(another_task())
    await asyncio.sleep(0)
    assert not other.done()  # the one slot is held ahead
    async with asyncio.timeout(1.0):
        await limiter.acquire()  # the row's request: through at once, on the held slot
    t.now += 0.1
    limiter.on_success()
    await asyncio.wait_for(other, 1.0)
    assert control.samples == [pytest.approx(0.1)]  # timed from the request, not the hold


async def test_a_slot_held_ahead_and_never_used_goes_back() -> None:
    """release_ahead(): the input ended before a row came, and the slot is free for others."""
    t = FakeTime()
    control = ConcurrencyLimit(1, 1, lambda: None, clock=t.clock)
    limiter = JobLimiter(Circuit(), None, PauseGate(clock=t.clock), control, clock=t.clock)
    await limiter.acquire()
    limiter.hold()
    limiter.release_ahead()
    limiter.release_ahead()  # idempotent: nothing held any more

    async def another_task() -> None:
        await limiter.acquire()

    await asyncio.wait_for(another_task(), 1.0)
