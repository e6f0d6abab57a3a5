"""Interleaved rounds of ``create_many`` settings against one server, and their summary.

P8-P10 compare client settings on a noisy shared machine: each round runs every setting once,
in an order that alternates between rounds, so slow spells of the machine fall on all of them
alike. A setting's figures come from the *server's* record of the requests it sent (the
sandbox's audit log, or nginx's access log), reduced by :func:`benchmarks.bench_ratelimit.figures`.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Callable
from typing import Any

import attrs

from benchmarks._jobs import rows_for, run_job
from benchmarks.bench_ratelimit import Figures
from customer_sdk import ChargeOverClient

# A round's audit: (requests recorded so far) before, and the records from a mark after.
Mark = Callable[[], int]
Audit = Callable[[int], list[list[Any]]]


@attrs.frozen
class Outcome:
    """One setting's runs, one per round.

    Attributes:
        figures: The server-side figures of each run.
        in_flight: The job's in-flight limit at its end, per run.
    """

    figures: list[Figures]
    in_flight: list[int]

    def mean(self, what: Callable[[Figures], float]) -> float:
        """The mean of one figure over the rounds."""
        return statistics.fmean(what(f) for f in self.figures)

    def spread(self, what: Callable[[Figures], float]) -> str:
        """Each round's value, for the table (``a / b``)."""
        return " / ".join(f"{what(f):.2f}" for f in self.figures)


async def interleave(
    url: str,
    credentials: tuple[str, str],
    settings: dict[str, dict[str, Any]],
    *,
    seconds: float,
    rounds: int,
    mark: Mark,
    audit: Audit,
    reduce: Callable[[list[list[Any]]], Figures],
    rest: float = 1.5,
    prepare: Callable[[str], None] | None = None,
) -> dict[str, Outcome]:
    """Run every setting once per round (order alternating) and reduce each run's records.

    Args:
        url: The server's base URL.
        credentials: Username and password.
        settings: Setting name -> ``create_many`` options.
        seconds: Seconds of input per run.
        rounds: Rounds.
        mark: Returns the server's record count (taken before a run).
        audit: Returns the records from a mark on.
        reduce: Records -> figures.
        rest: Seconds of rest after each run (the server's bucket refills).
        prepare: Called with the setting's name before its run (e.g. to set the server's
            faults for it).

    Returns:
        Setting name -> its outcome.
    """
    logging.getLogger("customer_sdk").addHandler(logging.NullHandler())
    got: dict[str, tuple[list[Figures], list[int]]] = {name: ([], []) for name in settings}
    names = list(settings)
    serial = 0
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if prepare is not None:
                prepare(name)
            # A fresh client per run: no limiter state carries over.
            async with ChargeOverClient(
                url, username=credentials[0], password=credentials[1]
            ) as client:
                start = mark()
                job_run = await run_job(client, rows_for(seconds, serial), **settings[name])
                serial += job_run.rows + 1
                records = audit(start)
            got[name][0].append(reduce(records))
            got[name][1].append(job_run.in_flight)
            await asyncio.sleep(rest)
    return {name: Outcome(f, n) for name, (f, n) in got.items()}
