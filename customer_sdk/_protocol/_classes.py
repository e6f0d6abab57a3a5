"""Failure classes and ``Retry-After``: what the server may have done, and how long to wait.

``classify`` sorts a failed attempt into the classes of ``docs/faults.md``, from which every
retry decision of the SDK follows; ``parse_retry_after`` reads a 429's wait. Plain values only.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Final

from customer_sdk.errors import (
    AuthenticationError,
    ChargeOverError,
    ConnectError,
    MalformedResponseError,
    OutageError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TLSError,
    TransportError,
)


class Outcome(enum.Enum):
    """What the server may have done, per ``docs/faults.md``; the retry action follows from it."""

    NOT_SENT = "not sent"
    THROTTLED = "throttled"
    AMBIGUOUS = "ambiguous"
    CREATED_ID_UNKNOWN = "created, id unknown"
    REJECTED = "rejected"
    FATAL = "fatal"


# --- requests -------------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP-date).

    Invalid values (negative, inf, nan, junk) give None so the caller falls back to its backoff;
    a date in the past gives 0. No cap is applied here.

    Args:
        headers: Response headers.
        now: The current Unix time (for tests); defaults to ``time.time()``.

    Returns:
        Seconds, or None.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        value = _finite_non_negative(raw_ms)
        if value is not None:
            return value / 1000.0
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    value = _finite_non_negative(raw)
    if value is not None:
        return value
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means it lacked the zone
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delta)


def _finite_non_negative(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if math.isfinite(value) and value >= 0:
        return value
    return None


# Words of a message that says an external_key is taken. ChargeOver's duplicate-key text is
# recorded nowhere we know of (docs/chargeover-api.md, "Errors"), so the rule is deliberately
# loose on the verb and strict on the subject: the message must name the key.
_KEY_WORDS: Final = ("external_key", "external key", "externalkey")
_TAKEN_WORDS: Final = ("exist", "taken", "in use", "already", "duplicate", "unique", "reserved")


def says_key_taken(message: str) -> bool:
    """Whether a 400's message says that an ``external_key`` is already taken.

    Only a reason to *label* an error: the SDK still decides by looking the key up.

    Args:
        message: The server's message.

    Returns:
        True when it names the external key and says it exists, is taken, used or unique.
    """
    text = message.lower()
    return any(k in text for k in _KEY_WORDS) and any(w in text for w in _TAKEN_WORDS)


def classify(exc: ChargeOverError) -> Outcome:
    """The failure class of a create's failed attempt (docs/faults.md's table).

    Args:
        exc: The SDK exception of the attempt.

    Returns:
        Its class. A 400 is REJECTED here; whether it means "exists" is decided by a lookup.
    """
    if isinstance(exc, TLSError | OutageError):
        # OutageError: a bulk job gave up on its server; the request was held, never sent.
        return Outcome.FATAL
    if isinstance(exc, ConnectError):
        return Outcome.NOT_SENT
    if isinstance(exc, TransportError):
        # Status and headers arrived, then the body broke: a 2xx means the create happened.
        if exc.status is not None and 200 <= exc.status < 300:
            return Outcome.CREATED_ID_UNKNOWN
        return Outcome.AMBIGUOUS
    if isinstance(exc, MalformedResponseError):
        return Outcome.CREATED_ID_UNKNOWN if 200 <= exc.status < 300 else Outcome.AMBIGUOUS
    if isinstance(exc, RateLimitError):
        return Outcome.THROTTLED
    if isinstance(exc, ServerError):
        return Outcome.AMBIGUOUS
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return Outcome.FATAL
    return Outcome.REJECTED
