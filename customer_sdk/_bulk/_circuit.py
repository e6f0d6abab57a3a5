"""A bulk job's outage circuit (docs/faults.md F26), its probe, and the observer that feeds it.

After a run of consecutive outage-like failures (5xx, connection refused or reset, timeouts)
across all workers, no worker sends anything: :class:`~._policy.JobLimiter` holds them at the
circuit. One probe (a harmless lookup) goes out at doubling intervals, and the first answer
that is not a 5xx releases every worker. Rows caught by the outage are reconciled by lookup by
their workers, never lost or resent blindly. :class:`Watch`, the job engine's observer, counts
requests and 429s and tells the circuit what each answer looked like.

The hold is bounded: once the circuit has been open for ``max_outage`` seconds (about 20 s,
:data:`NEVER_ANSWERED`, when the server has given no HTTP answer at all during the job: a
refused port, a name that does not resolve, a host that never replies), it gives up. Every
worker it holds is released with an :class:`~customer_sdk.errors.OutageError` (its row was
not sent), and the job is told to stop resumably.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._bulk._results import BulkStats
from customer_sdk._retry import Run, ran_for
from customer_sdk.errors import ChargeOverError, OutageError

if TYPE_CHECKING:
    from customer_sdk._engine import Engine

__all__ = [
    "CIRCUIT_THRESHOLD",
    "MAX_OUTAGE",
    "NEVER_ANSWERED",
    "PROBE_FIRST",
    "PROBE_MAX",
    "Circuit",
    "Watch",
]

logger: Final = logging.getLogger("customer_sdk")

# Consecutive outage-like failures (across all workers) that open the circuit. Five in a row
# happen by chance at a 5 % fault rate once in ~3 million requests; in an outage at once.
CIRCUIT_THRESHOLD: Final = 5
PROBE_FIRST: Final = 0.5  # seconds before the first probe; doubled after each failed one
PROBE_MAX: Final = 30.0  # the longest gap between probes
MAX_OUTAGE: Final = 600.0  # create_many's default max_outage: seconds the circuit may stay open
# Seconds the circuit stays open when the server never answered during the job: that is a
# wrong URL, a firewall or a host that is down, which waiting longer rarely mends.
NEVER_ANSWERED: Final = 20.0
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
        max_outage: Seconds it may stay open once the server has answered; None: no bound
            (a server that never answered is still given up on after :data:`NEVER_ANSWERED`).

    Attributes:
        answered: True once any HTTP answer (any status) was seen.
        cause: The last outage-like failure, as ``Type: message`` or ``HTTP 503``.
        failure: Set when it gave up: the job's error.
        on_give_up: Told of that error (the job stops its reader and ends its workers).
    """

    __slots__ = (
        "_failures",
        "_released",
        "answered",
        "cause",
        "closed",
        "failure",
        "max_outage",
        "on_give_up",
        "opened",
        "probe_task",
        "threshold",
    )

    def __init__(
        self, threshold: int = CIRCUIT_THRESHOLD, max_outage: float | None = MAX_OUTAGE
    ) -> None:
        self.threshold = threshold
        self.max_outage = max_outage
        self.closed = True
        self.opened = 0  # times opened: a row whose attempt saw one does not lose a round
        self.answered = False
        self.cause = ""
        self.failure: OutageError | None = None
        self.on_give_up: Callable[[OutageError], None] | None = None
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
        if self.failure is not None:
            return False  # given up: a late answer changes nothing
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
        """Wait until the circuit is closed.

        Raises:
            OutageError: It gave up: the request was not sent (a new error per caller).
        """
        await self._released.wait()
        failure = self.failure
        if failure is not None:
            raise OutageError(
                f"not sent: {failure}",
                host=failure.host,
                answered=failure.answered,
                held=failure.held,
                cause=failure.cause,
            )

    def limit(self) -> float:
        """Seconds the circuit may stay open now (it depends on whether anything answered).

        Returns:
            ``max_outage`` (infinite when None), at most :data:`NEVER_ANSWERED` while the
            server has not answered at all.
        """
        most = math.inf if self.max_outage is None else self.max_outage
        return most if self.answered else min(most, NEVER_ANSWERED)

    async def probe(self, engine: Engine) -> None:
        """While open, send one harmless lookup at doubling intervals; end once closed.

        Any answer below 500 closes the circuit, through the engine's observer (:class:`Watch`).
        Once the circuit has been open for :meth:`limit` seconds, it gives up instead. The
        loop is tenacity's, through :meth:`~customer_sdk._retry.Retrier.repeating`.

        Args:
            engine: The job's engine (its limiter lets this task past the open circuit).
        """
        request = proto.find_by_key_request(engine.base_url, _PROBE_KEY)
        released = self._released  # set once closed (by any answer below 500)

        async def attempt() -> None:
            if released.is_set():  # a worker's late answer ended the outage meanwhile
                return
            with contextlib.suppress(ChargeOverError):  # the observer has counted it
                await engine.send(request, Run(None))
            if not released.is_set():
                raise _StillDown

        await engine.retrier.sleep(PROBE_FIRST)
        loop = engine.retrier.repeating(
            _StillDown,
            first=2 * PROBE_FIRST,
            most=PROBE_MAX,
            within=lambda: self.limit() - PROBE_FIRST,  # the bound, less the first wait
        )
        try:
            await loop(attempt)
        except _StillDown:
            self._give_up(engine.base_url, PROBE_FIRST + ran_for(loop))

    def _give_up(self, base_url: str, held: float) -> None:
        """Stop holding: release every worker with an OutageError and tell the job."""
        host = urllib.parse.urlsplit(base_url).netloc
        cause = self.cause or "no answer"
        if cause.startswith("HTTP "):
            message = f"the server at {host} answered only with errors for {held:.0f} s ({cause})"
        elif self.answered:
            message = f"the server at {host} did not answer for {held:.0f} s ({cause})"
        else:
            message = f"cannot reach {host}: no answer in {held:.0f} s ({cause})"
        failure = OutageError(message, host=host, answered=self.answered, held=held, cause=cause)
        self.failure = failure
        logger.error("bulk job stopping: %s", message)
        self._released.set()
        if self.on_give_up is not None:
            self.on_give_up(failure)


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
        circuit = self.circuit
        if type(result) is int:
            circuit.answered = True
            if result == 429:
                self.stats.throttled += 1
            elif result >= 500:
                circuit.cause = f"HTTP {result}"
            self._observe(result < 500)
        elif isinstance(result, _OUTAGE_ERRORS):
            # The SDK's own text (type and OS error): it never holds a server's words.
            circuit.cause = f"{type(result).__name__}: {result}"
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
