"""How an import ends: why it stopped, the lines under its summary table, and its exit status.

Pure functions of what the run counted: nothing here reads rows, sends requests or handles
signals (see :mod:`customer_sdk.cli._import_run` for that), and the tables themselves are drawn by
:mod:`customer_sdk._progress`.
"""

from __future__ import annotations

import signal
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from customer_sdk._progress import Tally, format_problems, scrub
from customer_sdk.cli._common import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    reason,
)
from customer_sdk.cli._import_rows import RowLedger
from customer_sdk.errors import (
    AuthenticationError,
    LimiterUnavailableError,
    OutageError,
    PermissionDeniedError,
    TLSError,
)

if TYPE_CHECKING:  # the sandbox (aiohttp.web) is imported only when --sandbox asks for it
    from customer_sdk.sandbox import Sandbox

__all__ = ["Stop", "exit_status", "notes", "summary_extra"]


@attrs.frozen
class Stop:
    """Why an import stopped before every row of its input had a result.

    Attributes:
        message: One line for the user (scrubbed of secrets when shown).
        signal: The signal that stopped it (SIGINT, SIGTERM), or None when the job stopped on
            a failure of the account or the server.
        status: The exit status when it is not the default one (3 without a signal, 130 with
            one): 2 when the server cannot be reached, 1 after an outage.
    """

    message: str
    signal: int | None = None
    status: int | None = None  # the exit status when it is neither the auth nor a signal's

    @classmethod
    def by_signal(cls, signum: int, journal: Path | None) -> Stop:
        """A stop by SIGINT/SIGTERM; with a journal the message says how to resume.

        Args:
            signum: The signal received.
            journal: The ``--journal`` path, or None.

        Returns:
            The stop.
        """
        message = f"interrupted by {signal.Signals(signum).name}"
        if journal is not None:
            message += "; re-run with the same --journal to resume"
        return cls(message, signum)

    @classmethod
    def by_outage(cls, error: OutageError, journal: Path | None) -> Stop:
        """A stop because the server did not answer for too long (docs/faults.md F26).

        Never answered at all (a refused port, a name that does not resolve, a silent host) is
        a configuration problem, exit 2; an outage after the server had answered is exit 1.
        Either way the stop is resumable: held rows were not sent.

        Args:
            error: The job's error.
            journal: The ``--journal`` path, or None.

        Returns:
            The stop.
        """
        if journal is not None:
            how = "re-run with the same --journal to resume"
        else:
            how = (
                "rows listed as failed with 'not sent' were not sent: re-run them; rows "
                "listed as unknown may have been created (no --journal to reconcile them)"
            )
        if not error.answered:
            return cls(
                f"{error}; check CHARGEOVER_BASE_URL and the network; {how}", None, EXIT_USAGE
            )
        return cls(f"{error} (--max-outage); {how}", None, EXIT_FAILED)

    @classmethod
    def by_tls(cls, error: TLSError, base_url: str) -> Stop:
        """A stop because the server's TLS handshake failed: nothing can be sent to it.

        Args:
            error: The job's error (raised after ``max_auth_failures`` such rows in a row).
            base_url: The client's base URL, whose host is named.

        Returns:
            The stop (exit 2).
        """
        host = urllib.parse.urlsplit(base_url).netloc
        return cls(f"cannot reach {host}: {reason(error)}", None, EXIT_USAGE)

    @classmethod
    def by_auth(cls, error: AuthenticationError | PermissionDeniedError) -> Stop:
        """A stop because the account refused the credentials: every other row would fail too.

        Args:
            error: The job's error (raised after ``max_auth_failures`` refusals in a row).

        Returns:
            The stop.
        """
        return cls(f"{reason(error)} (check CHARGEOVER_USERNAME / CHARGEOVER_PASSWORD)")

    @classmethod
    def by_limiter(cls, error: LimiterUnavailableError, journal: Path | None) -> Stop:
        """A stop because the shared limiter's Redis stayed unavailable (docs/faults.md F27).

        Nothing was sent unmetered; the unfinished rows are not lost: exit status 1, and with a
        journal a re-run resumes.

        Args:
            error: The job's error.
            journal: The ``--journal`` path, or None.

        Returns:
            The stop.
        """
        message = reason(error)
        if journal is not None:
            message += "; re-run with the same --journal to resume"
        return cls(message, None, EXIT_FAILED)


def exit_status(tally: Tally, stop: Stop | None) -> int:
    """The import's exit status.

    The most severe fact wins: an authentication stop (3) means no row could have succeeded
    and the credentials need fixing; a server that cannot be reached (2) means the URL or the
    network needs fixing; an interruption (130) or an outage past ``--max-outage`` (1) means
    the run is incomplete whatever its rows did so far; otherwise 1 when any row was rejected,
    unknown or failed, else 0.

    Args:
        tally: The rows counted.
        stop: Why the run stopped early, or None when it read its whole input.

    Returns:
        :data:`EXIT_AUTH`, :data:`EXIT_USAGE`, :data:`EXIT_INTERRUPTED`, :data:`EXIT_FAILED`
        or :data:`EXIT_OK`.
    """
    if stop is not None:
        if stop.status is not None:
            return stop.status
        return EXIT_AUTH if stop.signal is None else EXIT_INTERRUPTED
    return EXIT_OK if tally.all_ok else EXIT_FAILED


def summary_extra(retries: Counter[str], sandbox: Sandbox | None) -> list[tuple[str, str]]:
    """The summary table's extra lines: retries by kind, and the embedded sandbox's counters.

    Args:
        retries: Retries counted by action (``resend``, ``lookup``, ``retry``).
        sandbox: The embedded sandbox, or None.

    Returns:
        ``(label, value)`` pairs; none for a run without retries or sandbox.
    """
    extra: list[tuple[str, str]] = []
    if retries:
        how = ", ".join(f"{n} {k}" for k, n in sorted(retries.items()))
        extra.append(("retries", f"{sum(retries.values()):,} ({how})"))
    if sandbox is not None:
        c = sandbox.counters
        extra.append(("sandbox: faults injected", f"{c['faulted']:,}"))
        extra.append(("sandbox: 429s sent", f"{c['throttled']:,}"))
        extra.append(("sandbox: customers stored", f"{len(sandbox.customers):,}"))
    return extra


def notes(ledger: RowLedger, stop: Stop | None, secrets: tuple[str, ...], not_sent: int = 0) -> str:
    """The lines printed under the summary: problems by reason, report, ignored columns, stop.

    Args:
        ledger: The run's rows (its problems, report and ignored columns, and its unfinished
            count after a stop).
        stop: Why the run stopped early, or None.
        secrets: Values to mask in the problems and the stop message.
        not_sent: Rows an outage held unsent (counted as failed; a re-run sends them).

    Returns:
        Zero or more lines, each ending with a newline.
    """
    report = ledger.report
    text = format_problems(
        ledger.problems, report=None if report is None else str(report.path), secrets=secrets
    )
    if report is not None:
        text += f"failures report: {report.path} ({report.lines} lines)\n"
    if ledger.ignored:
        names = ", ".join(repr(n) for n in sorted(ledger.ignored))
        text += f"ignored columns (--ignore-unknown-columns): {names}\n"
    if not_sent:
        text += (
            f"not sent: {not_sent:,} of the failed rows were never sent (the server was not "
            "answering); a re-run sends them\n"
        )
    if stop is not None:
        text += f"stopped: {scrub(stop.message, secrets)}\n"
        if ledger.unfinished:  # after an outage every row read has its result
            text += (
                f"unfinished: {ledger.unfinished:,} rows were read but have no result; "
                "rows after them were not read\n"
            )
    return text
