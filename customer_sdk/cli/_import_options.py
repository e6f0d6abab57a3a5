"""The ``import`` command's options, added to the ``customer-sdk`` parser.

Kept beside :mod:`customer_sdk.cli._parser` (which calls :func:`add_import`) because ``import``
has more options than every other command together; like it, this module runs nothing and
opens no file. The write options (``--no-emails`` ... ``--no-events``, ``--update-existing``)
are added by :func:`customer_sdk.cli._import_setup.add_write_options`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from customer_sdk.cli._common import (
    PLAIN_INTERVAL,
    SANDBOX_CLIENT_SHARE,
    SANDBOX_RATE,
    positive_float,
)
from customer_sdk.cli._import_setup import add_write_options
from customer_sdk.cli._option_types import positive_int, shard

__all__ = ["add_import"]

# The type of what add_subparsers() returns (a string: the class is generic only in typeshed).
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# The exit statuses (cli/_common.py's EXIT_*) as import's --help states them;
# tests/test_cli_help.py checks each status the command returns is listed here.
_IMPORT_EXIT_STATUS = """\
Exit status:
  0    every row created or already existing (--dry-run: every row valid)
  1    some row rejected, unknown or failed (--report lists them), or the run
       stopped resumably: an outage outlasted --max-outage, Redis stalled
  2    usage or configuration error: a bad option, a missing CHARGEOVER_* variable,
       an unreadable file, an unknown CSV column, a journal in use or made for
       another input, Redis unreachable, a server that never answered (refused,
       DNS, TLS); nothing was sent
  3    stopped: the account refused the credentials (401/403) for several rows in a row
  130  interrupted by Ctrl-C or SIGTERM: the summary is still printed; re-run with
       the same --journal to resume"""


def add_import(sub: _Subparsers, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the ``import`` command and its options.

    Args:
        sub: The subparsers of ``customer-sdk``.
        formatter: The help formatter of the other commands (it keeps the exit-status list
            laid out in lines).
    """
    imp = sub.add_parser(
        "import",
        formatter_class=formatter,
        help="import customers from a CSV or JSONL file",
        description="Create one customer per row of FILE (CSV with wire field names as columns, "
        "or JSONL), safely retried, with progress and a summary.",
        epilog=_IMPORT_EXIT_STATUS,
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="the CSV or JSONL file to import")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    imp.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="requests in flight, fixed (default: adaptive, 16 to 256, from the round trip)",
    )
    imp.add_argument(
        "--rate",
        type=positive_float,
        metavar="R",
        help="requests/s to stay under (default: found adaptively from 429s; with --sandbox "
        f"{SANDBOX_CLIENT_SHARE:g} x its limit)",
    )
    imp.add_argument(
        "--burst", type=positive_int, metavar="B", help="requests at once under --rate (1)"
    )
    imp.add_argument(
        "--adaptive", action="store_true", help="with --rate: start there, adapt to 429s"
    )
    imp.add_argument(
        "--batch-size",
        type=positive_int,
        default=1,
        metavar="N",
        help="rows per POST /_bulk call, 1-25 (default 1: one POST per row)",
    )
    imp.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="SQLite journal making the import resumable (default: none); re-run with the same "
        "journal to skip finished rows and reconcile interrupted ones",
    )
    imp.add_argument(
        "--report",
        type=Path,
        metavar="CSV",
        help="write row, external_key, outcome, field, reason for every problem to this CSV",
    )
    imp.add_argument("--dry-run", action="store_true", help="validate every row, send nothing")
    imp.add_argument(
        "--ignore-unknown-columns",
        action="store_true",
        help="import without the CSV columns (JSONL keys) that are not ChargeOver fields, "
        "instead of refusing the file (CSV) or rejecting the rows that fill them (JSONL)",
    )
    imp.add_argument(
        "--redis", metavar="URL", help="share the rate limit through Redis (needs --rate)"
    )
    imp.add_argument(
        "--redis-patience",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds to wait for a Redis that fails mid-import before stopping, resumably (10)",
    )
    imp.add_argument(
        "--shard",
        type=shard,
        metavar="i/n",
        help="import only the rows of shard i of n (by a hash of external_key); "
        "each shard needs its own --journal",
    )
    imp.add_argument("--sandbox", action="store_true", help="import into an embedded sandbox")
    imp.add_argument(
        "--sandbox-rate",
        type=positive_float,
        metavar="R",
        help=f"the embedded sandbox's server limit (default {SANDBOX_RATE:g}/s)",
    )
    imp.add_argument(
        "--faults",
        metavar="SPEC",
        help="the embedded sandbox's fault plan (default: a few of each kind; '' for none)",
    )
    imp.add_argument(
        "--seed", type=int, default=0, help="the embedded sandbox's fault seed (default 0)"
    )
    imp.add_argument(
        "--max-outage",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="stop (resumably, exit 1) when the server has not answered for this long "
        "(default 600); a server that never answered stops the import after about 20 s (exit 2)",
    )
    imp.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="the most one request may take (default 30)",
    )
    imp.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    imp.add_argument(
        "--progress-interval",
        type=positive_float,
        default=PLAIN_INTERVAL,
        metavar="SECONDS",
        help=f"when not on a terminal, print progress this often (default {PLAIN_INTERVAL:g})",
    )
    imp.add_argument("-v", "--verbose", action="count", default=0, help="log retries (-vv: debug)")
    add_write_options(imp)  # --no-emails ... --no-events, --update-existing
