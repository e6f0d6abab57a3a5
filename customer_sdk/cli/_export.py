"""``customer-sdk export``: write every matching customer as CSV or JSONL that ``import`` reads.

The customers come from :meth:`Customers.list <customer_sdk.Customers.list>`, one page at a time,
and each is written as soon as its page arrives (:mod:`customer_sdk.cli._export_rows` makes the
record), so memory stays at one page however many customers there are. With ``--output`` the
records go to ``FILE.part`` first, renamed to ``FILE`` only once the listing ended: a failed or
interrupted export never leaves a file that looks complete. ``--sandbox`` reads from an embedded
sandbox instead of the account, filled first from ``--sandbox-data FILE``. Progress goes to
stderr.

Exit statuses: 0 every matching customer was written; 1 the listing failed part-way (after the
SDK's retries; with ``--output`` no file is left) or stdout was closed early; 2 usage or
configuration error; 3 the credentials were refused; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

from customer_sdk._bulk import RowOutcome
from customer_sdk._client import ChargeOverClient
from customer_sdk._listing import CustomerList
from customer_sdk._retry_policy import RetryPolicy
from customer_sdk._rows import read_rows
from customer_sdk.cli._common import EXIT_AUTH, EXIT_FAILED, EXIT_OK, fail, reason
from customer_sdk.cli._export_rows import COLUMNS, csv_cells, csv_loss, jsonl_line
from customer_sdk.errors import (
    AuthenticationError,
    ChargeOverError,
    ConfigurationError,
    PermissionDeniedError,
)

__all__ = ["cmd_export"]

# How many of the customers CSV cannot carry exactly are named one by one before the count.
_NAMED_LOSSES: Final = 5


async def cmd_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``customer-sdk export``.

    Args:
        args: The parsed ``export`` options.
        out: Where the records go without ``--output``.
        err: Where progress, warnings and the summary go.

    Returns:
        0 every matching customer written; 1 the listing failed part-way; 3 credentials
        refused.

    Raises:
        UsageError: A bad ``--where``/``--order``, ``--sandbox-data`` without ``--sandbox``,
            a bad ``--faults``, or missing ``CHARGEOVER_*`` variables.
    """
    if (args.sandbox_data is not None or args.faults is not None) and not args.sandbox:
        fail("--sandbox-data and --faults configure the embedded sandbox: add --sandbox")
    async with contextlib.AsyncExitStack() as stack:
        client = await _open_client(args, stack, err)
        try:
            listing = client.customers.list(
                where=args.where or None, order=args.order, page_size=args.page_size
            )
        except ConfigurationError as exc:
            fail(str(exc))
        try:
            return await _export(listing, args, out, err)
        except (AuthenticationError, PermissionDeniedError) as exc:
            err.write(f"error: {reason(exc)}\n")
            return EXIT_AUTH
        except ChargeOverError as exc:
            err.write(f"error: the listing failed part-way: {reason(exc)}\n")
            return EXIT_FAILED
    raise AssertionError("unreachable")  # pragma: no cover - the with-block always returns


async def _open_client(
    args: argparse.Namespace, stack: contextlib.AsyncExitStack, err: IO[str]
) -> ChargeOverClient:
    """The entered client: of the embedded sandbox (seeded), or from ``CHARGEOVER_*``."""
    if not args.sandbox:
        try:
            client = ChargeOverClient.from_env()
        except ConfigurationError as exc:
            fail(str(exc))
        return await stack.enter_async_context(client)
    from customer_sdk.sandbox import FaultSpecError, Sandbox  # only when asked for

    try:
        sb = Sandbox(faults=args.faults or None, seed=args.seed)
    except FaultSpecError as exc:
        fail(f"--faults: {exc}")
    await stack.enter_async_context(sb)
    client = ChargeOverClient(
        sb.base_url, username=sb.username, password=sb.password, retry=RetryPolicy()
    )
    await stack.enter_async_context(client)
    if args.sandbox_data is not None:
        await _seed(client, args.sandbox_data, err)
    return client


async def _seed(client: ChargeOverClient, path: Path, err: IO[str]) -> None:
    """Create the valid rows of ``path`` in the embedded sandbox (invalid ones are counted)."""
    skipped = 0

    def valid() -> Iterator[dict[str, Any]]:
        nonlocal skipped
        for row in read_rows(path):  # streamed: the file is never held in memory
            if row.wire is None:
                skipped += 1
            else:
                yield row.wire

    created = 0
    async with client.customers.create_many(valid()) as job:
        async for result in job:
            created += result.outcome in (RowOutcome.CREATED, RowOutcome.EXISTED)
    err.write(f"sandbox: {created} customers from {path} ({skipped} invalid rows left out)\n")


async def _export(
    listing: CustomerList, args: argparse.Namespace, out: IO[str], err: IO[str]
) -> int:
    """Write every customer of ``listing`` to ``--output`` (atomically) or ``out``."""
    target: Path | None = args.output
    started = time.monotonic()
    if target is None:
        try:
            count, losses = await _write(listing, args, out, _Progress(args, err))
        except BrokenPipeError:  # the reader left (``| head``): stop, without a traceback
            _silence(out)
            err.write("error: the output was closed before the export ended\n")
            return EXIT_FAILED
    else:
        part = target.with_name(target.name + ".part")
        try:
            with part.open("w", encoding="utf-8", newline="") as stream:
                count, losses = await _write(listing, args, stream, _Progress(args, err))
            os.replace(part, target)
        except OSError as exc:
            part.unlink(missing_ok=True)
            fail(f"cannot write {target}: {exc.strerror or exc}")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    where = f" to {target}" if target is not None else ""
    err.write(f"exported {count} customers{where} in {time.monotonic() - started:.1f}s\n")
    if losses:
        err.write(
            f"warning: {losses} customers have values a CSV cannot carry back exactly; "
            "use --format jsonl for a lossless export\n"
        )
    return EXIT_OK


def _silence(out: IO[str]) -> None:
    """Point ``out``'s descriptor at /dev/null, so the interpreter's last flush cannot fail too."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


async def _write(
    listing: CustomerList, args: argparse.Namespace, stream: IO[str], progress: _Progress
) -> tuple[int, int]:
    """Stream the listing into ``stream``; return how many were written and how many lossy."""
    count = losses = 0
    jsonl = args.format == "jsonl"
    writer = None if jsonl else csv.writer(stream, lineterminator="\n")
    if writer is not None:
        writer.writerow(COLUMNS)
    async for page in listing.pages():
        for customer in page.customers:
            if writer is None:
                stream.write(jsonl_line(customer).decode())
                continue
            writer.writerow(csv_cells(customer))
            loss = csv_loss(customer)
            if loss is not None:
                losses += 1
                if losses <= _NAMED_LOSSES:
                    progress.warn(f"customer {customer.customer_id}: {loss}")
        count += len(page)
        stream.flush()  # a page is out before the next is asked for
        progress.update(count)
    progress.done()
    return count, losses


class _Progress:
    """The ``exported N customers`` line on stderr: redrawn on a terminal, else every interval."""

    def __init__(self, args: argparse.Namespace, err: IO[str]) -> None:
        self._err = err
        self._quiet: bool = args.quiet
        self._tty = err.isatty()
        self._interval: float = args.progress_interval
        self._next = time.monotonic() + self._interval
        self._drawn = False
        self._clock: Callable[[], float] = time.monotonic

    def update(self, count: int) -> None:
        """Show the running count (at most once per interval when not on a terminal)."""
        if self._quiet:
            return
        if self._tty:
            self._err.write(f"\r\x1b[Kexported {count} customers")
            self._drawn = True
        elif self._clock() >= self._next:
            self._err.write(f"exported {count} customers so far\n")
            self._next = self._clock() + self._interval
        self._err.flush()

    def warn(self, message: str) -> None:
        """A warning on its own line (clearing the progress line first on a terminal)."""
        self._err.write(("\r\x1b[K" if self._drawn else "") + f"warning: {message}\n")

    def done(self) -> None:
        """End the progress line so the summary starts on a fresh one."""
        if self._drawn:
            self._err.write("\r\x1b[K")
