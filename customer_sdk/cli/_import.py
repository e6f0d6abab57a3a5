"""``customer-sdk import FILE``: stream a CSV or JSONL file through ``create_many``.

The command checks its options, opens the failures report, then either validates every row
(``--dry-run``, here) or hands the run to :class:`~._import_run.ImportRun`, which opens the
client (:mod:`._import_setup`) and drives
:meth:`Customers.create_many <customer_sdk.Customers.create_many>` over the rows
(:mod:`._import_rows`) under a live progress line, until the input ends, a signal stops it or
the account refuses the credentials; then it prints the summary and returns the exit status
(:mod:`._import_summary`). It never sends a request of its own and never decides a retry: the
SDK does both. It never prints a credential of the account it imports into.
"""

from __future__ import annotations

import argparse
import time
from typing import IO

from customer_sdk._progress import FailureReport, format_table
from customer_sdk.cli._common import EXIT_FAILED, EXIT_OK, fail
from customer_sdk.cli._import_rows import RowLedger, check_columns
from customer_sdk.cli._import_run import ImportRun
from customer_sdk.cli._import_summary import notes

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
        return await ImportRun(args, ledger, out, err).run()
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
