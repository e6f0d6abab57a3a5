"""One live run of ``customer-sdk import``: the client opened, ``create_many`` driven to its end.

:class:`ImportRun` takes the journal's lock, opens the client (or the embedded sandbox) through
:mod:`._import_setup`, runs :meth:`Customers.create_many <customer_sdk.Customers.create_many>`
over the ledger's rows while the progress line is redrawn, turns every way the job can stop
(a signal, a refusal, an outage, an unusable journal) into a :class:`~._import_summary.Stop`,
and prints the summary. Kept apart from :mod:`._import` (the command's entry point, its option
checks and the dry run) because only this part talks to a server and handles signals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
from collections import Counter
from typing import IO

from customer_sdk._bulk import BulkJob
from customer_sdk._progress import Progress, format_summary, scrub
from customer_sdk._retry_policy import RetryEvent
from customer_sdk.cli._common import TTY_REDRAW, Stopper, fail, journal_lock
from customer_sdk.cli._import_rows import RowLedger, job_fingerprint
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

__all__ = ["ImportRun"]


class ImportRun:
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
