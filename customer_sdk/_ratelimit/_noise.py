"""Telling a rate limit's 429s from background ones: :class:`NoiseFloor`.

Why. A 429 means "over the limit" only if sending slower would have avoided it. When another
client shares the account (or a proxy sheds a little load at random), a steady 2-3 % of answers
are 429s whatever the rate — no ``Retry-After``, no pattern. Cutting the rate at each of them
(CUBIC's rule) halves the rate every second or two until the job crawls at a few requests per
second, while the 429s keep coming at the same share.

How. The two differ in how the share of 429s depends on the rate. Under a limit ``L`` the share
is ~0 below ``L`` and ``1 - L/r`` above it; background 429s are the same share ``p`` at every
rate. So the floor keeps ``background``, an estimate of the share of 429s that come anyway,
learned window by window (a window is at least 1 s and 50 answers; each window's share counts
at most :data:`NOISE_CAP`, so a run over a real limit never teaches "this is normal"), and a
429 is judged a sign of the limit only when the current window holds clearly more 429s than
that background explains: ``k >= n p + 3 sqrt(n p (1 - p)) + 2`` for ``k`` 429s among ``n``
answers (three binomial standard deviations, plus two so that a lone 429 never cuts). With no
background a limit is acted on at its second 429 in a window; with 2.5 % background about 7 %
of a window's answers must be 429s. Shares above ``NOISE_CAP`` are always a limit. Until a
window has closed the background is unknown and taken as ``NOISE_CAP`` (5 %): a job's first
second of random 429s then cuts nothing, while an unpaced start far over a limit (half its
answers 429s) is still cut within a few dozen answers.

Pure arithmetic on passed-in times: no clock, no sleep.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["NOISE_CAP", "NoiseFloor"]

NOISE_CAP: Final = 0.05  # the most background 429 share believed: above it, a limit
_WINDOW: Final = 1.0  # seconds: a window closes after this long ...
_WINDOW_ANSWERS: Final = 50  # ... and at least this many answers
_WEIGHT: Final = 0.5  # a full window's weight in the background estimate
_SIGMAS: Final = 3.0  # how far above the background a window's 429 count must be
_SLACK: Final = 2.0  # and by how many 429s at least


class NoiseFloor:
    """The share of 429s that come whatever the rate, and whether a window exceeds it.

    Args:
        start: The clock time the first window opens.
        prior: The background believed before any window closed. Default :data:`NOISE_CAP`:
            the most noise believed, so that a job's first second of random 429s is not taken
            for a limit (a limit's overshoot from an unpaced start is far above it); each
            window then moves it halfway to what it saw.

    Attributes:
        background: The estimated background share of 429s, 0 to :data:`NOISE_CAP`.
        answers: Answers in the open window.
        throttled: 429s among them.
    """

    __slots__ = ("_start", "answers", "background", "throttled")

    def __init__(self, start: float, prior: float = NOISE_CAP) -> None:
        self.background = prior
        self._start = start
        self.answers = 0
        self.throttled = 0

    def add(self, throttled: bool, now: float) -> None:
        """Count one answer; close the window first when it is old and full enough.

        Args:
            throttled: Whether it was a 429.
            now: The clock time of the answer.
        """
        if now - self._start >= _WINDOW and self.answers >= _WINDOW_ANSWERS:
            self.close(now)
        self.answers += 1
        self.throttled += throttled

    def close(self, now: float) -> None:
        """Fold the open window into the background and open a new one at ``now``.

        A window is weighed by how full it is (a window cut short by a decrease after ten
        answers counts a fifth of a full one), and its share is capped at :data:`NOISE_CAP`.

        Args:
            now: The clock time the next window opens.
        """
        n = self.answers
        if n:
            share = min(self.throttled / n, NOISE_CAP)
            weight = _WEIGHT * min(1.0, n / _WINDOW_ANSWERS)
            self.background += weight * (share - self.background)
        self._start = now
        self.answers = self.throttled = 0

    def exceeded(self) -> bool:
        """Whether the open window holds more 429s than the background explains.

        Returns:
            True when the 429s so far in this window are a sign of a limit, not noise.
        """
        n, p = self.answers, self.background
        expected = n * p
        return self.throttled >= expected + _SIGMAS * math.sqrt(expected * (1 - p)) + _SLACK
