"""Client-side rate limiting: the limiter interface, the shared 429 pause, and two rates.

Every request a client sends first asks its limiter for a slot. The interface is small on
purpose so that an in-process bucket, an adaptive rate and a Redis-shared limiter
(:mod:`customer_sdk.contrib.redis`) are interchangeable. A 429's ``Retry-After`` pauses *every*
caller of the limiter, not only the one that was told: the account's limit is shared, so the
others would only collect more 429s. Every limiter here includes that pause.

- :class:`PauseGate`: no rate of its own, only the shared pause (the client's default).
- :class:`TokenBucket`: a known rate and burst, paced without bursts beyond ``burst``.
- :class:`AdaptiveLimiter`: for an unknown limit (ChargeOver documents none,
  ``docs/chargeover-api.md`` "Rate limits"): botocore-style CUBIC — a multiplicative decrease on
  each 429, then a cubic climb back to the rate that was throttled and, slowly, past it; a
  429 without ``Retry-After`` counts only above the background share of them (noise).
- :func:`no_wait_check`: the per-request fast path, a slot taken without a coroutine.

The package makes no HTTP requests and knows nothing of retries: the engine asks for a slot,
sends, and reports the answer (:meth:`Limiter.on_throttled`, :meth:`Limiter.on_success`). Its
modules, each depending only on those after it::

    _nowait     no_wait_check: which limiters have an exact no-wait fast path
    _adaptive   AdaptiveLimiter: the CUBIC control loop (what a 429 and a success do)
    _noise      NoiseFloor: a limit's 429s told from background ones
    _cubic      RateMeter (smoothed rates) and CubicCurve (the curve's state and formula)
    _pacing     TokenBucket, and Pacer: GCRA slots in arrival order (shared with _adaptive)
    _pause      PauseGate: the shared Retry-After pause
    _interface  the Limiter protocol, the Clock and Sleep types, check_rate
"""

from customer_sdk._ratelimit._adaptive import AdaptiveLimiter
from customer_sdk._ratelimit._interface import Clock, Limiter, Sleep
from customer_sdk._ratelimit._nowait import no_wait_check
from customer_sdk._ratelimit._pacing import TokenBucket
from customer_sdk._ratelimit._pause import PauseGate

__all__ = [
    "AdaptiveLimiter",
    "Clock",
    "Limiter",
    "PauseGate",
    "Sleep",
    "TokenBucket",
    "no_wait_check",
]
