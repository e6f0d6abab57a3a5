"""Where the SDK stops on purpose rather than risk a duplicate, a wrong resume or an unmetered send.

None of these maps one answer: each is the SDK's own verdict over a call or a job (an outcome
it cannot settle, an outage, a journal made for another input, a limiter that gave no slot),
so they live apart from the answer-shaped errors of :mod:`._api` and :mod:`._transport`.
"""

from __future__ import annotations

from customer_sdk._errors._base import ChargeOverError

__all__ = [
    "JournalMismatchError",
    "LimiterUnavailableError",
    "OutageError",
    "OutcomeUnknownError",
]


class OutcomeUnknownError(ChargeOverError):
    """A create may or may not have happened, and the SDK cannot find out which.

    Raised instead of a blind resend when a create without ``external_key`` failed ambiguously,
    or when the retry budget ran out before a keyed create could be reconciled.

    Args:
        message: What happened.
        external_key: The create's key, if it had one (look it up later to settle the outcome).
        last_error: The last error seen, as its type name and message.
        created: True when the server is known to have created the customer (it answered 2xx,
            but the id could neither be read nor found by lookup in time): look it up later,
            never send it again.

    Attributes:
        external_key: The create's key, or None.
        last_error: Description of the last underlying failure.
        created: Whether the create is known to have happened.
    """

    def __init__(
        self, message: str, *, external_key: str | None, last_error: str, created: bool = False
    ) -> None:
        super().__init__(f"{message} (last error: {last_error})")
        self.external_key = external_key
        self.last_error = last_error
        self.created = created


class OutageError(ChargeOverError):
    """A bulk job stopped because its server did not answer (or answered only 5xx) too long.

    Raised by ``create_many``'s job after the results so far, and given as the error of every
    row it held unsent (``failed``: nothing of those rows was sent, a re-run sends them).
    ``docs/faults.md`` F26 says how long a job waits: ``max_outage`` once the server has
    answered, about 20 s when it never answered at all (refused, DNS, a silent host).

    Args:
        message: What happened, naming the host and the last failure.
        host: ``host[:port]`` of the base URL.
        answered: Whether the server gave any HTTP answer during the job.
        held: Seconds the job waited for it.
        cause: The last failure seen, e.g. ``ConnectError: cannot connect: ...`` or
            ``HTTP 503``.

    Attributes:
        host: As given.
        answered: As given.
        held: As given.
        cause: As given.
    """

    def __init__(self, message: str, *, host: str, answered: bool, held: float, cause: str) -> None:
        super().__init__(message)
        self.host = host
        self.answered = answered
        self.held = held
        self.cause = cause


class JournalMismatchError(ChargeOverError):
    """A bulk job's journal was made for another input, so resuming from it is refused.

    Raised before anything is sent when the journal's ``job_id`` differs from the job's, and
    when a row's content differs from what the journal recorded for that row index.
    """


class LimiterUnavailableError(ChargeOverError):
    """A shared rate limiter's store (Redis) could not grant a request slot: nothing was sent.

    Raised by :class:`customer_sdk.contrib.redis.RedisLimiter` (which re-exports it) rather
    than ever sending unmetered. A bulk job stops on it, resumably (docs/faults.md F27).
    """
