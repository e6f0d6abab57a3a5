"""What a bulk job hands out, and the rules that turn a row's last failure into an outcome.

A row's outcome and result, and the job's counters.

Pure values and pure functions: no I/O, no tasks. The journal's view of an outcome (final or
to be retried by a re-run) is decided here too, so the worker and the intake agree on it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final

import attrs

from customer_sdk import errors
from customer_sdk._secrets import NO_SECRETS, Secrets
from customer_sdk.errors import ChargeOverError, OutcomeUnknownError, ValidationError

if TYPE_CHECKING:
    from customer_sdk._journal import JournalEntry

__all__ = ["BulkStats", "Row", "RowOutcome", "RowResult"]


class RowOutcome(enum.StrEnum):
    """What happened to one input row."""

    CREATED = "created"
    """This job created the customer."""
    EXISTED = "existed"
    """A customer with the row's ``external_key`` already existed (or an earlier, unconfirmed
    attempt made it); its id is given."""
    UPDATED = "updated"
    """Upsert (``on_existing="update"``): a customer had the row's ``external_key`` and the
    row's fields were PUT to it; its id is given."""
    REJECTED = "rejected"
    """The row is invalid (locally or per the server); nothing was created."""
    UNKNOWN = "unknown"
    """The create may have happened and cannot be checked (no ``external_key``); not resent."""
    FAILED = "failed"
    """Nothing is known to have been created, and the row could not be sent (e.g. 401, or a
    failure that retries did not overcome). A re-run with the journal tries it again."""


@attrs.frozen
class RowResult:
    """The result of one input row.

    Attributes:
        index: The row's 0-based position in the input.
        key: The row's ``external_key``, if it had one.
        outcome: What happened.
        customer_id: The customer's id when created or found.
        error: Why the row was rejected, unknown or failed (None on success).
        resumed: True when taken from the journal of an earlier run (nothing sent this run).
        recovered: For EXISTED: True when the customer was found by key after an attempt of
            this job (or of an earlier run) may have created it, its answer lost; False when
            the key was already taken.
    """

    index: int
    key: str | None
    outcome: RowOutcome
    customer_id: int | None
    error: ChargeOverError | None
    resumed: bool = False
    recovered: bool = False


@attrs.define
class BulkStats:
    """Live counters of a job, for progress displays. Updated as results are produced.

    Attributes:
        rows_read: Input rows read so far.
        created: Rows created.
        existed: Rows that already existed.
        updated: Rows whose existing customer was updated (upsert).
        rejected: Rows rejected.
        unknown: Rows whose outcome is unknown.
        failed: Rows that failed.
        resumed: Results taken from the journal (also counted under their outcome).
        recovered: EXISTED rows whose create was ours, its answer lost (also under existed).
        http_requests: HTTP requests sent (creates, ``_bulk`` calls, lookups, probes).
        throttled: 429 answers received.
        circuit_opened: Times an outage stopped every worker.
    """

    rows_read: int = 0
    created: int = 0
    existed: int = 0
    updated: int = 0
    rejected: int = 0
    unknown: int = 0
    failed: int = 0
    resumed: int = 0
    recovered: int = 0
    http_requests: int = 0
    throttled: int = 0
    circuit_opened: int = 0

    @property
    def done(self) -> int:
        """Rows with a result."""
        return (
            self.created + self.existed + self.updated + self.rejected + self.unknown + self.failed
        )

    def count(self, result: RowResult) -> None:
        """Count one result under its outcome.

        Args:
            result: The result handed out.
        """
        name = result.outcome.value  # each outcome's value names its counter
        setattr(self, name, getattr(self, name) + 1)
        if result.resumed:
            self.resumed += 1
        if result.recovered:
            self.recovered += 1

    def line(self) -> str:
        """The counters as one log line.

        Returns:
            ``N read, N created, ...``.
        """
        return (
            f"{self.rows_read} read, {self.created} created, {self.existed} existed, "
            f"{self.updated} updated, "
            f"{self.rejected} rejected, {self.unknown} unknown, {self.failed} failed, "
            f"{self.http_requests} requests, {self.throttled} throttled"
        )


class Row:
    """One valid row on its way through the workers.

    Args:
        index: Its 0-based position in the input.
        key: Its ``external_key``, if any.
        wire: Its validated wire dict.
        content_hash: Its fingerprint in the journal ("" without one).
    """

    __slots__ = ("hash", "index", "key", "new", "prior", "wire")

    def __init__(self, index: int, key: str | None, wire: dict[str, Any], content_hash: str):
        self.index = index
        self.key = key
        self.wire = wire
        self.hash = content_hash
        # With a journal: the row has no record in it, so the send window covers it when a
        # worker takes it (Journal.cover); else it is marked on its own (mark_in_flight).
        self.new = False
        # A failure to carry on from: set when an earlier attempt (this run or a previous one)
        # may have created the customer, so the next attempt starts with a lookup.
        self.prior: ChargeOverError | None = None


def created_error() -> ChargeOverError:
    """A stand-in failure meaning "answered 2xx, id never confirmed".

    Returns:
        An error of class CREATED_ID_UNKNOWN: the create machine looks the key up and never
        sends again.
    """
    return errors.MalformedResponseError(
        "an earlier attempt was answered 2xx but its id was never confirmed", status=201
    )


def resumed_error() -> ChargeOverError:
    """A stand-in failure meaning "in flight when an earlier attempt stopped".

    Returns:
        An error of class AMBIGUOUS: the create machine looks the key up before sending.
    """
    return errors.ConnectionLostError("the row was in flight when an earlier attempt stopped")


# The refusals that stop a job after a few rows in a row (docs/faults.md F18), and a TLS failure.
FATAL_TYPES = (errors.AuthenticationError, errors.PermissionDeniedError, errors.TLSError)


def judge(row: Row, exc: ChargeOverError) -> tuple[RowOutcome, bool, ChargeOverError | None]:
    """A row's failed round: its outcome if final, whether to try again, and from where.

    Args:
        row: The row.
        exc: The round's final error.

    Returns:
        ``(outcome, retry, prior)``: the outcome to report if not retried; whether another
        round may settle it; the failure the next round starts from (None: keep the row's).
    """
    if isinstance(exc, errors.BadRequestError | ValidationError):
        return RowOutcome.REJECTED, False, None
    if isinstance(exc, (*FATAL_TYPES, errors.RedirectError, errors.NotFoundError)):
        # Nothing stored, and nothing said against the row itself (a 404 is a wrong base path,
        # say): FAILED, so a re-run with the journal sends it again; REJECTED would be final.
        return RowOutcome.FAILED, False, None
    if isinstance(exc, errors.RateLimitError | errors.ConnectError):
        return RowOutcome.FAILED, True, None  # nothing was stored
    if isinstance(
        exc,
        OutcomeUnknownError
        | errors.TransportError
        | errors.ServerError
        | errors.MalformedResponseError,
    ):
        if row.key is None:
            return RowOutcome.UNKNOWN, False, None
        if isinstance(exc, OutcomeUnknownError) and exc.created:
            # A 2xx proved it was created (docs/faults.md CREATED_ID_UNKNOWN): the next round only
            # looks it up, it never POSTs again.
            return RowOutcome.UNKNOWN, True, created_error()
        # It may exist: the next round looks the key up before sending anything.
        return RowOutcome.UNKNOWN, True, resumed_error()
    return RowOutcome.FAILED, False, None  # e.g. the client was closed


def is_final(result: RowResult) -> bool:
    """Whether a result is final in the journal (a re-run skips it) or retried.

    Args:
        result: A row's result.

    Returns:
        False for FAILED rows and keyed UNKNOWN rows (a lookup may still settle them).
    """
    if result.outcome is RowOutcome.FAILED:
        return False
    return not (result.outcome is RowOutcome.UNKNOWN and result.key is not None)


def error_text(exc: BaseException, secrets: Secrets = NO_SECRETS) -> str:
    """An error as the journal keeps it.

    Args:
        exc: The error.
        secrets: Masked again before the text is written (defence in depth: the SDK's errors
            are scrubbed when they are built, docs/faults.md "Secrets and hostile input").

    Returns:
        ``Type: message``.
    """
    return secrets.scrub(f"{type(exc).__name__}: {exc}")


def from_journal(
    index: int, key: str | None, entry: JournalEntry, secrets: Secrets = NO_SECRETS
) -> RowResult:
    """A done row's result as the journal recorded it (its error kept as text only).

    Args:
        index: The row's position.
        key: Its ``external_key``.
        entry: The journal's record.
        secrets: Masked in the recorded error (a journal written before errors were
            scrubbed may hold an echoed credential).

    Returns:
        The result, marked ``resumed``.
    """
    error = ChargeOverError(secrets.scrub(entry.error)) if entry.error else None
    name, _, mark = (entry.outcome or "unknown").partition(":")
    return RowResult(
        index,
        key,
        RowOutcome(name),
        entry.customer_id,
        error,
        resumed=True,
        recovered=mark == _RECOVERED,
    )


_RECOVERED: Final = "recovered"


def outcome_text(result: RowResult) -> str:
    """The outcome as the journal stores it: its name, ``:recovered`` when :attr:`recovered`.

    So a resumed run tells a customer found after our own lost create from one that already
    existed, as the first run did (:func:`from_journal` reads it back).

    Args:
        result: The row's result.

    Returns:
        E.g. ``"created"``, ``"existed"``, ``"existed:recovered"``.
    """
    name = result.outcome.value
    return f"{name}:{_RECOVERED}" if result.recovered else name
