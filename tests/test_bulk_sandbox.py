"""create_many against the sandbox over loopback: outages, rate limits, _bulk, resume.

Timing assertions are ratios with wide margins (the machine is small and shared); waits are on
events or audit entries, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from customer_sdk import (
    ChargeOverClient,
    ExternalKeyReservedError,
    OutcomeUnknownError,
    RetryPolicy,
    RowOutcome,
    RowResult,
)
from customer_sdk._bulk import _circuit as bulk
from customer_sdk.sandbox import AuditEntry, Sandbox
from tests._helpers import client_for, keyed


def endless(prefix: str = "e") -> Iterator[dict[str, Any]]:
    """Rows without end."""
    for i in itertools.count():
        yield {"company": f"E {i}", "external_key": f"{prefix}{i}"}


def keys_stored(sb: Sandbox) -> collections.Counter[str]:
    """How many stored customers carry each external_key."""
    return collections.Counter(str(c.get("external_key")) for c in sb.customers.values())


def is_probe(entry: AuditEntry) -> bool:
    """Whether an audit entry is the circuit's health probe."""
    return bulk._PROBE_KEY in entry.query


async def test_an_outage_costs_bounded_requests_and_the_job_resumes_by_itself(
    chargeover_sandbox: Sandbox,
) -> None:
    """F26: a 3 s total outage mid-job costs few requests; the job resumes by itself.

    Only a bounded number of requests meet the outage, every row is created exactly once and
    the job finishes without any help.

    The bound: each of the 16 workers has at most one request in flight when the outage
    begins and at most one more (a retry or reconciling lookup) started before the circuit
    opens after 5 failures in a row; after that only the probe goes out, at 0.5, 1, 2, 4 s...
    so a 3 s outage sees at most 2 x 16 row requests and 4 probes. Without the circuit every
    worker would keep retrying with backoff for the whole outage.
    """
    sb = chargeover_sandbox
    concurrency, total, outage = 16, 600, 3.0
    results: list[RowResult] = []
    async with client_for(sb) as client, asyncio.timeout(90):
        job = client.customers.create_many(keyed(total), concurrency=concurrency)
        async with job:
            async for r in job:
                results.append(r)
                if len(results) == 150:
                    sb.start_outage(outage)
    hit = [e for e in sb.audit if e.fault == "outage"]
    assert hit, "the outage must have been met"
    row_requests = [e for e in hit if not is_probe(e)]
    probes = [e for e in hit if is_probe(e)]
    assert len(row_requests) <= 2 * concurrency
    assert 1 <= len(probes) <= math.ceil(math.log2(outage / bulk.PROBE_FIRST)) + 1
    assert job.stats.circuit_opened >= 1
    # nothing lost, nothing duplicated
    assert sorted(r.index for r in results) == list(range(total))
    assert {r.outcome for r in results} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    stored = keys_stored(sb)
    assert len(stored) == total
    assert set(stored.values()) == {1}


async def test_a_rate_at_the_servers_limit_draws_almost_no_429s() -> None:
    """rate=L against a server limit of L: 429s are at most 1 % of requests."""
    limit = 100.0
    async with (
        Sandbox(rate=limit, burst=5) as sb,
        client_for(sb) as client,
        asyncio.timeout(60),
    ):
        job = client.customers.create_many(keyed(300), concurrency=16, rate=limit)
        async with job:
            outcomes = collections.Counter([r.outcome async for r in job])
    assert outcomes == {RowOutcome.CREATED: 300}
    requests = sb.counters["requests"]
    assert sb.counters["throttled"] <= 0.01 * requests
    assert job.stats.throttled == sb.counters["throttled"]


async def test_the_adaptive_limiter_finds_an_unknown_limit() -> None:
    """With no rate given, the job settles at >= 80 % of an unknown 100/s limit within 30 s.

    Measured over 3 s windows that start after the first 3 s (so the unpaced start, which
    runs into the limit at once, does not count), with 429s at most 10 % of the requests.
    """
    limit = 100.0
    window = 3.0
    async with (
        Sandbox(rate=limit, burst=10, retry_after="none") as sb,
        client_for(sb) as client,
        asyncio.timeout(45),
    ):
        job = client.customers.create_many(endless(), concurrency=16)
        start = time.monotonic()
        best = (0.0, 1.0)
        async with job:
            checked = start
            async for _ in job:
                now = time.monotonic()
                if now - checked < 0.5 or now - start < 2 * window:
                    continue
                checked = now
                recent = [e for e in sb.audit if e.time >= now - window]
                created = sum(1 for e in recent if e.kind == "create" and e.status == 201)
                throttled = sum(1 for e in recent if e.status == 429)
                rate = created / window
                if rate > best[0]:
                    best = (rate, throttled / max(1, len(recent)))
                if rate >= 0.8 * limit or now - start > 30:
                    break
    assert best[0] >= 0.8 * limit, best
    assert best[1] <= 0.1, best


async def test_a_retry_after_pauses_every_worker_for_that_long() -> None:
    """The 20th create gets a 429 with Retry-After 2: no worker sends anything for 2 s.

    Requests already on the wire when the 429 left the server may still arrive just after it
    (at most one per other worker); none arrives later inside the 2 s.
    """
    concurrency, retry_after = 8, 2.0
    script = "|".join(["ok"] * 19 + ["429@2"])
    async with (
        Sandbox(faults=f"create:script={script}") as sb,
        client_for(sb) as client,
        asyncio.timeout(60),
    ):
        job = client.customers.create_many(keyed(60), concurrency=concurrency)
        async with job:
            outcomes = collections.Counter([r.outcome async for r in job])
    assert outcomes == {RowOutcome.CREATED: 60}
    (throttle,) = [e for e in sb.audit if e.status == 429]
    after = [e.time - throttle.time for e in sb.audit if e.time > throttle.time]
    inside = [t for t in after if t < retry_after]
    assert len(inside) <= concurrency - 1
    # only requests already in flight (1 s of slack for a loaded machine), then silence
    assert all(t < 1.0 for t in inside), inside
    assert min(t for t in after if t >= 1.0) >= retry_after


async def test_bulk_sends_ceil_n_over_25_requests_and_reports_items_per_row(
    chargeover_sandbox: Sandbox,
) -> None:
    """103 rows with batch_size=25 take 5 _bulk calls; item failures stay on their rows.

    An existing key is EXISTED and a deleted customer's reserved key is REJECTED.
    """
    sb = chargeover_sandbox
    rows = keyed(103, "b")
    async with client_for(sb) as client:
        existing = await client.customers.create(rows[10])
        gone = await client.customers.create(rows[50])
        sb.delete(gone.customer_id)
        before = sb.counters.copy()
        job = client.customers.create_many(rows, concurrency=1, batch_size=25)
        async with job:
            results = {r.index: r async for r in job}
    bulk_calls = sb.counters["bulk"] - before["bulk"]
    assert bulk_calls == math.ceil(103 / 25)
    assert sb.counters["create"] == before["create"]  # no single create at all
    assert sb.counters["lookup"] - before["lookup"] == 2  # one per failed item
    assert (results[10].outcome, results[10].customer_id) == (
        RowOutcome.EXISTED,
        existing.customer_id,
    )
    assert results[50].outcome is RowOutcome.REJECTED
    assert isinstance(results[50].error, ExternalKeyReservedError)
    others = [r for i, r in results.items() if i not in (10, 50)]
    assert len(others) == 101
    assert all(r.outcome is RowOutcome.CREATED for r in others)
    assert job.stats.http_requests == bulk_calls + 2


async def test_a_journaled_job_cancelled_midway_resumes_to_exactly_once(
    tmp_path: Path,
) -> None:
    """A journaled job under faults is cut off mid-flight, then re-run: every row exists once.

    Rows in flight when it stopped (some of them stored by the server) are reconciled by
    lookup; done rows are not sent again.
    """
    path = tmp_path / "import.journal"
    rows = keyed(400, "j")
    faults = "create:reset_after_commit=0.05,503_after_commit=0.05,500_before_commit=0.03"
    async with Sandbox(faults=faults, seed=3) as sb, client_for(sb) as client:
        first: list[RowResult] = []
        async with asyncio.timeout(60):
            job = client.customers.create_many(rows, concurrency=8, journal=path, job_id="f1")
            async with job:
                async for r in job:
                    first.append(r)
                    if len(first) == 150:
                        break
        assert len(first) == 150
        assert len(sb.customers) > 150  # rows in flight at the cut were stored too
        sent_before = sb.counters["create"]
        async with asyncio.timeout(60):
            job = client.customers.create_many(rows, concurrency=8, journal=path, job_id="f1")
            async with job:
                second = [r async for r in job]
    assert sorted(r.index for r in second) == list(range(400))
    # Every row the first run reported is taken from the journal, and so are rows it finished
    # but had not handed out at the cut: at most a results queue (64) plus one per worker.
    resumed = {r.index for r in second if r.resumed}
    assert {r.index for r in first} <= resumed
    assert len(resumed) <= 150 + 64 + 8
    assert {r.outcome for r in second} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    stored = keys_stored(sb)
    assert len(stored) == 400
    assert set(stored.values()) == {1}
    # the second run sent no create for a row the first run finished
    assert sb.counters["create"] - sent_before < 400 - 150 + 60


async def test_a_cut_201_never_seen_by_lookups_is_never_posted_again() -> None:
    """A row answered 201 with a cut body stays lookup-only across rounds: one POST, unknown.

    faults.md CREATED_ID_UNKNOWN: the server created it, so even when every lookup lags the
    write past the row's budgets the job never POSTs it again (that second POST would rely on
    the server refusing the key to avoid a duplicate).
    """
    faults = "create:script=truncated_201;lookup:lag=1.0"
    async with Sandbox(faults=faults, lookup_lag=3600.0) as sb:
        async with ChargeOverClient(
            sb.base_url,
            username=sb.username,
            password=sb.password,
            retry=RetryPolicy.no_wait(attempts=3),
        ) as client:
            job = client.customers.create_many(keyed(1), concurrency=1)
            async with job:
                results = [r async for r in job]
        posts = [e for e in sb.audit if e.kind == "create"]
        lookups = [e for e in sb.audit if e.kind == "lookup"]
        assert len(posts) == 1
        assert len(lookups) >= 2  # every round looked it up
        assert keys_stored(sb) == {"k0": 1}
    [result] = results
    assert result.outcome is RowOutcome.UNKNOWN
    assert isinstance(result.error, OutcomeUnknownError)
    assert result.error.created
