"""``customer-sdk import FILE``: stream a CSV or JSONL file through ``create_many``.

The command checks its options, opens the failures report, then either validates every row
(``--dry-run``) or opens the client (:mod:`._import_setup`) and drives
:meth:`Customers.create_many <customer_sdk.Customers.create_many>` over the rows
(:mod:`._import_rows`) under a live progress line, until the input ends, a signal stops it or
the account refuses the credentials; then it prints the summary and returns the exit status
(:mod:`._import_summary`). It never sends a request of its own and never decides a retry: the
SDK does both. It never prints a credential of the account it imports into.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from typing import IO

from customer_sdk._bulk import BulkJob
from customer_sdk._progress import FailureReport, Progress, format_summary, format_table, scrub
from customer_sdk._retry_policy import RetryEvent
from customer_sdk.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    TTY_REDRAW,
    Stopper,
    fail,
    journal_lock,
)
from customer_sdk.cli._import_rows import RowLedger, check_columns, job_fingerprint
from customer_sdk.cli._import_setup import (
    Connection,
    client_rate,
    import_flags,
    on_existing,
    open_client,
)
from customer_sdk.cli._import_summary import Stop, exit_status, notes, summary_extra
from customer_sdk.errors import (
    AuthenticationError,
    JournalMismatchError,
    LimiterUnavailableError,
    OutageError,
    PermissionDeniedError,
    TLSError,
)

__all__ = ["check_import_args", "cmd_import"]


async def cmd_import(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``customer-sdk import``.

    Args:
        args: The parsed ``import`` options.
        out: Where the summary goes (stdout).
        err: Where the progress line, banner and errors go (stderr).

    Returns:
        0 every row created or existed; 1 some row rejected, unknown or failed, or an outage
        outlasted ``--max-outage``; 2 the server could not be reached at all; 3 stopped on an
        authentication or permission failure; 130 stopped by SIGINT or SIGTERM.

    Raises:
        UsageError: A bad option, an unknown CSV column, an unusable journal or report,
            missing credentials.
        RowFileError: The input cannot be read.
    """
    # Before the report is created: a --report naming the input must not truncate it.
    check_import_args(args)
    check_columns(args.file, args.format, ignore_unknown=args.ignore_unknown_columns)
    report = None
    if args.report is not None:
        try:
            report = FailureReport(args.report)
        except OSError as exc:
            fail(f"cannot write the report {args.report}: {exc.strerror or exc}")
    try:
        ledger = RowLedger(
            args.file, args.format, args.shard, report, ignore_unknown=args.ignore_unknown_columns
        )
        if args.dry_run:
            return _dry_run(ledger, out)
        return await _ImportRun(args, ledger, out, err).run()
    finally:
        if report is not None:
            report.close()


def check_import_args(args: argparse.Namespace) -> None:
    """Refuse contradictory options before anything is created or sent.

    Args:
        args: The parsed ``import`` options.

    Raises:
        UsageError: Naming the first problem (exit status 2).
    """
    a = args
    if not a.file.is_file():
        fail(f"no such file: {a.file}")
    if a.burst is not None and a.rate is None:
        fail("--burst needs --rate")
    if a.redis is not None and a.rate is None:
        fail("--redis needs --rate: the shared limit of the whole account, in requests/s")
    if a.batch_size > 25:
        fail("--batch-size is at most 25 (ChargeOver's _bulk limit)")
    if (a.faults is not None or a.sandbox_rate is not None) and not a.sandbox:
        fail("--faults and --sandbox-rate configure the embedded sandbox: add --sandbox")
    if a.sandbox and a.redis is not None:
        fail("--sandbox runs inside this process; --redis is for several processes")
    outputs = [p.resolve() for p in (a.journal, a.report) if p is not None]
    if a.file.resolve() in outputs:
        fail("--journal and --report must not be the input file")
    if len(set(outputs)) < len(outputs):
        fail("--journal and --report must be different files")


def _dry_run(ledger: RowLedger, out: IO[str]) -> int:
    """Validate every row and report the invalid ones; nothing is sent, no client is opened.

    Args:
        ledger: The rows to validate (and the report to write).
        out: Where the dry run's table goes.

    Returns:
        0 when every row is valid, else 1.
    """
    started = time.monotonic()
    valid = 0
    for row in ledger.rows():
        if row.wire is None:
            ledger.reject(row)
        else:
            valid += 1
    rejected = ledger.tally.counts["rejected"]
    table = [
        ("rows read", f"{valid + rejected:,}"),
        ("valid", f"{valid:,}"),
        ("rejected", f"{rejected:,}"),
        ("elapsed", f"{time.monotonic() - started:.1f} s"),
    ]
    out.write(format_table("Dry run: nothing was sent", table) + notes(ledger, None, ()))
    return EXIT_OK if ledger.tally.all_ok else EXIT_FAILED


class _ImportRun:
    """One run of ``customer-sdk import`` after its options were checked.

    Args:
        args: The ``import`` options.
        ledger: The run's rows, tally and report.
        out: Where the summary goes.
        err: Where progress and errors go.
    """

    def __init__(
        self, args: argparse.Namespace, ledger: RowLedger, out: IO[str], err: IO[str]
    ) -> None:
        self.args = args
        self.ledger = ledger
        self.out = out
        self.err = err
        self.retries: Counter[str] = Counter()
        self.not_sent = 0  # rows an outage held unsent (failed with an OutageError)

    def on_retry(self, event: RetryEvent) -> None:
        """Count retries by what they do (resend, lookup, retry) for the summary."""
        self.retries[event.action] += 1

    async def run(self) -> int:
        """Lock the journal, open the client and import.

        Returns:
            The exit status (see :func:`~customer_sdk.cli._import_summary.exit_status`).

        Raises:
            UsageError: The journal is locked, belongs to another input or is not a journal;
                the client cannot be configured.
        """
        a = self.args
        job_id, total = job_fingerprint(a.file, a.format, a.shard)
        async with contextlib.AsyncExitStack() as stack:
            if a.journal is not None:
                stack.enter_context(journal_lock(a.journal))
            conn = await open_client(a, stack, on_retry=self.on_retry, err=self.err)
            if self.ledger.report is not None:
                # The report was opened before the credentials were known (a --report naming
                # the input is refused first); from here on every cell is masked with them.
                self.ledger.report.secrets = conn.secrets
            return await self._drive(conn, job_id, total)
        raise AssertionError("unreachable")  # pragma: no cover - the stack never swallows

    async def _drive(self, conn: Connection, job_id: str, total: int) -> int:
        """Run create_many over the rows with progress, then print the summary.

        Args:
            conn: The open client (and sandbox).
            job_id: The journal's job id (:func:`job_fingerprint`).
            total: The estimated row count, for the progress line.

        Returns:
            The exit status.
        """
        a = self.args
        ledger = self.ledger
        progress = Progress(
            self.err,
            total,
            tty=self.err.isatty(),
            interval=a.progress_interval,
            secrets=conn.secrets,
        )
        job = conn.client.customers.create_many(
            ledger.feed(),
            concurrency=a.concurrency,
            batch_size=a.batch_size,
            journal=a.journal,
            job_id=job_id,
            rate=client_rate(a),
            burst=None if a.redis else a.burst,
            adaptive=a.adaptive,
            flags=import_flags(a),
            on_existing=on_existing(a),
            max_outage=a.max_outage,
        )
        stop = await self._consume(job, progress, conn.client.base_url)
        if stop is None:
            progress.total = ledger.tally.done  # the line count was an estimate
        else:
            ledger.close_unfinished()
        if not a.quiet:
            progress.finish(ledger.tally, **_counters(job))
        if stop is not None and stop.signal is None:
            self.err.write(f"error: the import stopped: {scrub(stop.message, conn.secrets)}\n")
        stats = job.stats
        summary = format_summary(
            ledger.tally,
            elapsed=progress.elapsed,
            requests=stats.http_requests,
            throttled=stats.throttled,
            extra=summary_extra(self.retries, conn.sandbox),
        )
        self.out.write(summary + notes(ledger, stop, conn.secrets, self.not_sent))
        self.out.flush()
        return exit_status(ledger.tally, stop)

    async def _consume(self, job: BulkJob, progress: Progress, base_url: str) -> Stop | None:
        """Record every result of ``job`` while redrawing progress, until it ends or is stopped.

        The results are consumed in a task of their own so that :class:`Stopper` can cancel
        exactly that task on SIGINT/SIGTERM: the cancellation leaves ``async with job``, which
        closes the job resumably (see :class:`Stopper`), and is caught here rather than
        propagated, so the summary is still printed. A cancellation that did not come from a
        signal (the caller's own) is re-raised.

        Args:
            job: The create_many job, not yet started.
            progress: The progress line to redraw (not with ``--quiet``).
            base_url: The server's URL, named when it cannot be reached.

        Returns:
            None when every row has a result; else why the job stopped (a signal, the
            account refusing the credentials, a server that cannot be reached or an outage
            past ``--max-outage``).

        Raises:
            UsageError: The journal belongs to another input (or shard), or is not a journal.
        """
        a = self.args
        tally = self.ledger.tally

        async def consume() -> None:
            """Record every result; leaving ``async with`` closes the job however it ends."""
            async with job:
                async for result in job:
                    self.ledger.record(result)
                    self.not_sent += isinstance(result.error, OutageError)

        async def redraw() -> None:
            """Redraw the line until cancelled (``tick`` decides when a plain line is due)."""
            pause = TTY_REDRAW if progress.tty else min(a.progress_interval / 4, 0.5)
            while True:
                await asyncio.sleep(pause)
                progress.tick(tally, **_counters(job))

        task = asyncio.ensure_future(consume())
        stopper = Stopper()
        stopper.install(task)
        drawer = None if a.quiet else asyncio.ensure_future(redraw())
        try:
            await task
        except asyncio.CancelledError:
            if stopper.signalled is None:
                raise
            return Stop.by_signal(stopper.signalled, a.journal)
        except (AuthenticationError, PermissionDeniedError) as exc:
            return Stop.by_auth(exc)
        except LimiterUnavailableError as exc:
            return Stop.by_limiter(exc, a.journal)
        except OutageError as exc:
            return Stop.by_outage(exc, a.journal)
        except TLSError as exc:
            return Stop.by_tls(exc, base_url)
        except JournalMismatchError as exc:
            fail(f"--journal {a.journal}: {exc}")
        except sqlite3.Error as exc:
            # Raised by the journal only (the SDK itself uses no SQLite), e.g. not a database.
            fail(f"--journal {a.journal}: not a usable journal ({exc})")
        finally:
            stopper.remove()
            if drawer is not None:
                drawer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawer
        return None


def _counters(job: BulkJob) -> dict[str, int]:
    """The job's counters the progress line shows besides the tally."""
    return {"throttled": job.stats.throttled, "requests": job.stats.http_requests}
