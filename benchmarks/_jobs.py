"""Shared pieces of the bulk benchmarks: row generators and one timed ``create_many`` job."""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Iterator
from typing import Any

import attrs

from benchmarks.bench_create import payload
from customer_sdk import ChargeOverClient


def rows_for(seconds: float, start: int, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Distinct customers numbered from ``start``, generated until ``seconds`` have passed.

    Bounding the input by time rather than count gives every variant the same duration whatever
    its rate; the job then drains what its bounded queue already holds. ``limit`` caps the count.
    """
    deadline = time.monotonic() + seconds
    for i in itertools.count(start) if limit is None else range(start, start + limit):
        if time.monotonic() >= deadline:
            return
        yield payload(i)


@attrs.frozen
class JobRun:
    """One finished job as the client saw it.

    Attributes:
        wall: Seconds from ``create_many`` to the last result.
        rows: Results received.
        outcomes: Count per :class:`customer_sdk.RowOutcome` value.
        http_requests: Requests the job sent (its ``stats``).
        throttled: 429s the job saw (its ``stats``).
        in_flight: The job's in-flight limit at its end (its ``in_flight_limit``).
    """

    wall: float
    rows: int
    outcomes: dict[str, int]
    http_requests: int
    throttled: int
    in_flight: int = 0


async def run_job(
    client: ChargeOverClient, rows: Iterator[dict[str, Any]], **options: Any
) -> JobRun:
    """Run ``client.customers.create_many(rows, **options)`` to the end and time it."""
    outcomes: collections.Counter[str] = collections.Counter()
    start = time.perf_counter()
    async with client.customers.create_many(rows, **options) as job:
        async for result in job:
            outcomes[str(result.outcome)] += 1
    wall = time.perf_counter() - start
    return JobRun(
        wall=wall,
        rows=sum(outcomes.values()),
        outcomes=dict(outcomes),
        http_requests=job.stats.http_requests,
        throttled=job.stats.throttled,
        in_flight=job.in_flight_limit,
    )
