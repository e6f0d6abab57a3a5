r"""The adaptive limiter's measurements and curve: what is getting through, and where to go next.

Two small pieces of :class:`~customer_sdk._ratelimit.AdaptiveLimiter`, kept apart from its
control loop so that each can be read on its own:

- :class:`RateMeter`: an events-per-second rate, counted in buckets of 0.5 s and smoothed
  (each closed bucket weighs 0.8 against the history), as botocore's adaptive mode measures
  its send rate. Before the first bucket closes, :meth:`RateMeter.rate` estimates from the
  open one.
- :func:`rate_through`: the rate that was getting through when a 429 came (the next
  ``W_max``), from the paced rate and those meters.
- :class:`CubicCurve`: the state of CUBIC's window curve and its formula. After a cut at
  ``W_max`` the target rate at ``t`` seconds from the curve's start is

  .. math:: W(t) = C\,(t - K)^3 + W_{max}, \qquad K = \sqrt[3]{W_{max}\,(1 - \beta) / C}

  so ``W(0) = beta * W_max`` (the cut), the curve climbs fast, flattens as it nears ``W_max``
  at ``t = K``, then probes past it ever faster (the convex part). botocore's ``C = 0.4`` suits
  rates of about ten a second; at 300/s it would take 6 s to climb back and 8 s more to probe
  200/s past a ``W_max`` measured too low. So above 10/s ``C`` grows with ``W_max``
  (``C = 0.4 W_max / 10``): the curve keeps its shape in proportion, back at ``W_max`` in about
  2 s and 30 % past it 2 s later, whatever the rate. The one change to plain
  CUBIC is the hold: once two cuts in a row find nearly the same ``W_max`` (within 15 %), the
  curve stays at 0.9 ``W_max`` for ``hold`` seconds before probing, because each probe past a
  limit whose 429s carry ``Retry-After`` costs the whole job that pause (cuts by bare 429s
  never hold: there a probe costs only its own 429s, and two early cuts by random 429s would
  otherwise "confirm" a limit that is not there). The first cut from
  an unpaced start holds at once when its 429 carried ``Retry-After``: its ``W_max`` is the
  rate of answers that got through while the job sent faster than the limit, the limit
  itself, and confirming it by a second probe would cost a second pause.

Neither reads a clock, sleeps or paces: times are passed in, and the limiter applies the rate.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CubicCurve", "RateMeter", "rate_through"]

_BUCKET: Final = 0.5  # seconds per measurement bucket (botocore's)
_SMOOTH: Final = 0.8  # weight of the newest bucket in the smoothed rate (botocore's)
_PLATEAU: Final = 0.9  # a confirmed W_max is held at this fraction of it
_SAME_W: Final = 0.15  # two cuts whose W_max differ by at most this much confirm the limit
_REFERENCE: Final = 10.0  # requests/s: above this W_max, CUBIC's C grows in proportion


class RateMeter:
    """A smoothed rate of events per second, measured in 0.5 s buckets.

    Args:
        start: The clock time measuring starts at.

    Attributes:
        smoothed: The smoothed rate over the closed buckets (0 until the first one closes).
        start: When the open bucket began.
        count: Events in the open bucket.
    """

    __slots__ = ("count", "smoothed", "start")

    def __init__(self, start: float) -> None:
        self.smoothed = 0.0
        self.start = start
        self.count = 0

    def add(self, now: float) -> None:
        """Count one event; close the open bucket first when it is 0.5 s old.

        Args:
            now: The clock time of the event.
        """
        elapsed = now - self.start
        if elapsed >= _BUCKET:
            current = self.count / elapsed
            self.smoothed = _SMOOTH * current + (1 - _SMOOTH) * self.smoothed
            self.start = now
            self.count = 0
        self.count += 1

    def rate(self, now: float) -> float:
        """The smoothed rate, or before any bucket closed, the open bucket's.

        The open bucket is read over at least 0.1 s, so a handful of events in a millisecond
        is not read as thousands per second.

        Args:
            now: The clock time.

        Returns:
            Events per second.
        """
        if self.smoothed > 0:
            return self.smoothed
        return self.count / max(now - self.start, 0.1)

    def recent(self, now: float) -> float:
        """The smoothed rate, or the open bucket's when that is higher (a rate still rising).

        The smoothed rate lags a ramp by a bucket or two: a job whose concurrency grows from
        16 towards 50 measures 70/s while sending 300/s. The open bucket is believed once it
        has been open 0.1 s.

        Args:
            now: The clock time.

        Returns:
            Events per second.
        """
        elapsed = now - self.start
        current = self.count / elapsed if elapsed >= 0.1 else 0.0
        return max(self.rate(now), current)

    def restart(self, at: float) -> None:
        """Open a fresh bucket at ``at`` (the smoothed history is kept).

        Args:
            at: The clock time the new bucket starts (e.g. the end of a pause).
        """
        self.start = at
        self.count = 0


def rate_through(paced: float | None, sent: RateMeter, ok: RateMeter, now: float) -> float:
    """The rate that was getting through when a 429 came: the new curve's ``W_max``.

    Paced, the rate, or the measured send rate when lower (botocore's
    ``min(measured, fill rate)``). Unpaced, the rate of answers that were not 429 (the send
    rate only while none came back): a start that sent 300/s at a 50/s limit is cut from 50,
    not 300. Answers never outnumber sends, so when the send meter reads lower it lags a ramp
    (its bucket closed earlier): the answers are the fresher measurement either way.

    Args:
        paced: The limiter's current rate, or None while unpaced.
        sent: The meter of slots handed out.
        ok: The meter of answers that were not 429.
        now: The clock time of the 429.

    Returns:
        Requests per second (not yet floored at the limiter's ``min_rate``).
    """
    if paced is not None:
        measured = sent.smoothed
        return min(paced, measured) if measured > 0 else paced
    ok_rate = ok.recent(now)
    return ok_rate if ok_rate > 0 else sent.recent(now)


class CubicCurve:
    """The state of CUBIC's curve: its top, its start, and whether it holds below the top.

    The shape constants (``beta``, ``scale``, ``hold``) are the limiter's and are passed in,
    so that changing them on the limiter applies from the next cut or success.

    Args:
        w_max: The curve's top to start with (0 for none).
        start: The clock time the curve starts at.

    Attributes:
        w_max: The rate the last cut was made at (the curve's plateau).
        k: Seconds from the start until the curve is back at ``w_max``.
        c: CUBIC's C for this curve (the limiter's ``scale``, grown with ``w_max`` above 10/s).
        start: The clock time the curve starts at (the cut, or the end of its pause).
        holding: Whether the last two cuts confirmed ``w_max`` (then the curve holds).
    """

    __slots__ = ("_cut_w", "c", "holding", "k", "start", "w_max")

    def __init__(self, w_max: float, start: float) -> None:
        self.w_max = w_max
        self.c = 0.4
        self.k = 0.0
        self.start = start
        self.holding = False
        self._cut_w = 0.0  # W_max of the last cut (0 before any)

    def cut(
        self, through: float, start: float, beta: float, scale: float, *, told: bool, first: bool
    ) -> float:
        """Start a new curve topped at ``through``, the rate that was getting through.

        Args:
            through: The rate at the 429 (the new ``W_max``).
            start: When the new curve starts (the 429, or the end of its pause).
            beta: The multiplicative decrease factor.
            scale: CUBIC's scale constant C at ``_REFERENCE`` (10/s) and below.
            told: The 429 carried ``Retry-After``. Only then does the curve hold (a probe past
                a limit that answers without one costs only its own 429s).
            first: The first cut from an unpaced start: ``through`` is then a measurement of
                the limit itself, and a told cut holds under it at once.

        Returns:
            The rate to cut to: ``beta * through`` (not yet clamped by the limiter).
        """
        previous = self._cut_w
        # Two cuts at nearly the same W_max: the limit is found, so hold there before probing
        # past it again.
        same = previous > 0 and abs(through - previous) <= _SAME_W * previous
        self.holding = told and (first or same)
        self._cut_w = through
        self.w_max = through
        self.c = scale * max(1.0, through / _REFERENCE)
        self.k = (through * (1 - beta) / self.c) ** (1 / 3)
        self.start = start
        return through * beta

    def delay(self, start: float) -> None:
        """Start the curve no earlier than ``start`` (a pause began: nothing climbs during it).

        Args:
            start: The clock time the pause ends.
        """
        self.start = max(self.start, start)

    def target(self, now: float, hold: float) -> float:
        """The curve's rate at ``now`` (may be inf or nan far out: the caller checks).

        Args:
            now: The clock time.
            hold: Seconds a confirmed ``w_max`` is held before probing past it.

        Returns:
            The target rate, not yet capped or clamped.
        """
        # Seconds past W_max on the curve. Before its start (answers to requests sent before a
        # cut's pause) the curve is at its start, beta * W_max, not below it.
        past = max(now, self.start) - self.start - self.k
        c = self.c
        if not self.holding:
            return c * past**3 + self.w_max
        if past < hold:
            # W_max was measured as the 429 came, so it is a little above the limit: hold
            # just under it, then probe.
            return min(c * min(past, 0.0) ** 3 + self.w_max, _PLATEAU * self.w_max)
        return c * (past - hold) ** 3 + self.w_max
