"""The ``export`` command's options, added to the ``customer-sdk`` parser.

Kept beside :mod:`customer_sdk.cli._parser` (which calls :func:`add_export`) so that each
module stays small; like it, this module runs nothing and opens no file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from customer_sdk._protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from customer_sdk.cli._common import PLAIN_INTERVAL, positive_float

__all__ = ["add_export"]

# The type of what add_subparsers() returns (a string: the class is generic only in typeshed).
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _page_size(text: str) -> int:
    """Parse ``--page-size``: a whole number from 1 to the SDK's largest page."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_PAGE_SIZE}, got {value}")
    return value


# tests/test_cli_help.py checks that every status export returns is listed here.
_EXPORT_EXIT_STATUS = """\
Exit status:
  0    every matching customer written
  1    the listing failed part-way (with --output, no file is left)
  2    usage or configuration error; nothing was read
  3    the credentials were refused (401/403)
  130  interrupted by Ctrl-C"""


def add_export(sub: _Subparsers, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the ``export`` command and its options.

    Args:
        sub: The subparsers of ``customer-sdk``.
        formatter: The help formatter of the other commands (it keeps the exit-status list
            laid out in lines).
    """
    exp = sub.add_parser(
        "export",
        help="export customers to CSV or JSONL (what import reads)",
        description="Write every customer (or those matching --where) with exactly the columns "
        "'customer-sdk import' reads: the writable fields, no ids or balances. Streams page by "
        "page (flat memory); progress and the summary go to stderr.",
        epilog=_EXPORT_EXIT_STATUS,
        formatter_class=formatter,
    )
    exp.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="csv (default; flags true/false, tags ';'-separated) or jsonl (one JSON object a "
        "line, lossless: CSV cells are trimmed on import)",
    )
    exp.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write here (via FILE.part, renamed when complete); default: stdout",
    )
    exp.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="CLAUSE",
        help="a ChargeOver filter, field:OP:value with OP one of EQUALS NOTEQUALS GT LT GTE "
        "LTE CONTAINS, or field:IS:NULL / field:ISNOT:NULL; escape ',' and ':' in a value with "
        "'\\'; repeatable, all must hold (e.g. --where bill_state:EQUALS:MN)",
    )
    exp.add_argument(
        "--order",
        metavar="FIELD:ASC|DESC",
        help="sort order, e.g. company:ASC (default customer_id:ASC; customer_id is always the "
        "tie-breaker)",
    )
    exp.add_argument(
        "--page-size",
        type=_page_size,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"customers per request, 1-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    )
    exp.add_argument(
        "--sandbox", action="store_true", help="export from an embedded sandbox, not the account"
    )
    exp.add_argument(
        "--sandbox-data",
        type=Path,
        metavar="FILE",
        help="with --sandbox: first create the valid rows of this CSV/JSONL file in it",
    )
    exp.add_argument(
        "--faults", metavar="SPEC", help="the embedded sandbox's fault plan (default: none)"
    )
    exp.add_argument(
        "--seed", type=int, default=0, help="the embedded sandbox's fault seed (default 0)"
    )
    exp.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    exp.add_argument(
        "--progress-interval",
        type=positive_float,
        default=PLAIN_INTERVAL,
        metavar="SECONDS",
        help=f"when not on a terminal, print progress this often (default {PLAIN_INTERVAL:g})",
    )
    exp.add_argument("-v", "--verbose", action="count", default=0, help="log retries (-vv: debug)")
