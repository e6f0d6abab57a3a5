"""A bulk job's outage circuit (docs/faults.md F26), its probe, and the observer that feeds it.

After a run of consecutive outage-like failures (5xx, connection refused or reset, timeouts)
across all workers, no worker sends anything: :class:`~._policy.JobLimiter` holds them at the
circuit. One probe (a harmless lookup) goes out at doubling intervals through tenacity's loop,
and the first answer that is not a 5xx releases every worker. Rows caught by the outage are
reconciled by lookup by their workers, never lost or resent blindly. :class:`Watch`, the job
engine's observer, counts requests and 429s and tells the circuit what each answer looked like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._bulk._results import BulkStats
from customer_sdk._retry import Run
from customer_sdk.errors import ChargeOverError

if TYPE_CHECKING:
    from customer_sdk._engine import Engine

__all__ = ["CIRCUIT_THRESHOLD", "PROBE_FIRST", "PROBE_MAX", "Circuit", "Watch"]

logger: Final = logging.getLogger("customer_sdk")

# Consecutive outage-like failures (across all workers) that open the circuit. Five in a row
# happen by chance at a 5 % fault rate once in ~3 million requests; in an outage at once.
CIRCUIT_THRESHOLD: Final = 5
PROBE_FIRST: Final = 0.5  # seconds before the first probe; doubled after each failed one
PROBE_MAX: Final = 30.0  # the longest gap between probes
_PROBE_KEY: Final = "customer-sdk-health-probe"
# Transport failures that, repeated, mean an outage (a 5xx does too); a TLS failure does not.
_OUTAGE_ERRORS: Final = (
    errors.ConnectError,
    errors.RequestTimeoutError,
    errors.ConnectionLostError,
)


class Circuit:
    """Holds every worker during an outage; the probe decides when it is over (F26).

    Args:
        threshold: Consecutive outage-like failures that open it.
    """

    __slots__ = ("_failures", "_released", "closed", "opened", "probe_task", "threshold")

    def __init__(self, threshold: int = CIRCUIT_THRESHOLD) -> None:
        self.threshold = threshold
        self.closed = True
        self.opened = 0  # times opened: a row whose attempt saw one does not lose a round
        self._failures = 0
        self._released = asyncio.Event()
        self._released.set()
        self.probe_task: asyncio.Task[None] | None = None

    def record(self, ok: bool) -> bool:
        """Count one answer.

        Args:
            ok: False for an outage-like failure.

        Returns:
            True when this failure just opened the circuit.
        """
        if ok:
            self._failures = 0
            if not self.closed:
                self.closed = True
                self._released.set()
                logger.warning("bulk job: the server answers again; resuming every worker")
            return False
        self._failures += 1
        if self.closed and self._failures >= self.threshold:
            self.closed = False
            self.opened += 1
            self._released.clear()
            return True
        return False

    async def wait(self) -> None:
        """Wait until the circuit is closed."""
        await self._released.wait()

    async def probe(self, engine: Engine) -> None:
        """While open, send one harmless lookup at doubling intervals; end once closed.

        Any answer below 500 closes the circuit, through the engine's observer (:class:`Watch`).

        Args:
            engine: The job's engine (its limiter lets this task past the open circuit).
        """
        request = proto.find_by_key_request(engine.base_url, _PROBE_KEY)
        retrier = engine.retrier

        async def attempt() -> None:
            if self.closed:
                return
            with contextlib.suppress(ChargeOverError):
                await engine.send(request, Run(None))
            if not self.closed:
                raise _StillDown

        await retrier.sleep(PROBE_FIRST)
        await retrier.repeating(_StillDown, first=2 * PROBE_FIRST, most=PROBE_MAX)(attempt)


class _StillDown(Exception):
    """The probe got no answer below 500: the outage goes on."""


class Watch:
    """The job engine's observer: counters, outage signs for the circuit, and the probe.

    Args:
        stats: The job's counters.
        circuit: The job's circuit.
    """

    __slots__ = ("circuit", "closed", "engine", "stats")

    def __init__(self, stats: BulkStats, circuit: Circuit) -> None:
        self.stats = stats
        self.circuit = circuit
        self.engine: Engine | None = None  # the job's engine, once built (it holds this watch)
        self.closed = False  # set by the job's aclose(): no new probe after that

    def on_send(self) -> None:
        """Count a request."""
        self.stats.http_requests += 1

    def on_answer(self, result: int | ChargeOverError) -> None:
        """Count a 429, and tell the circuit whether this looked like an outage.

        Args:
            result: The HTTP status, or the transport's error.
        """
        if type(result) is int:
            if result == 429:
                self.stats.throttled += 1
            self._observe(result < 500)
        elif isinstance(result, _OUTAGE_ERRORS):
            self._observe(False)

    def _observe(self, ok: bool) -> None:
        circuit = self.circuit
        if not circuit.record(ok):
            return
        self.stats.circuit_opened += 1
        logger.warning(
            "bulk job: %d outage-like failures in a row; holding every worker and probing",
            circuit.threshold,
        )
        task = circuit.probe_task
        if not self.closed and self.engine is not None and (task is None or task.done()):
            circuit.probe_task = asyncio.get_running_loop().create_task(
                circuit.probe(self.engine), name="customer-sdk-bulk-probe"
            )
