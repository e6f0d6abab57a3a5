"""The argument parser of ``customer-sdk``: every command, every option, each with a help text.

The option types check what a single option can check alone (a positive number, ``i/n``,
``name=value``) so argparse reports them with status 2. Rules that involve several options
(``--burst`` needs ``--rate``, ``--faults`` needs ``--sandbox``...) are the commands' own
business, checked before they start. This module runs nothing and opens no file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from customer_sdk import __version__
from customer_sdk.cli._common import (
    PLAIN_INTERVAL,
    SANDBOX_CLIENT_SHARE,
    SANDBOX_RATE,
    positive_float,
)
from customer_sdk.cli._export_options import add_export
from customer_sdk.cli._import_setup import add_write_options

__all__ = ["build_parser"]


def _positive_int(text: str) -> int:
    """Parse a whole number >= 1 (``--concurrency``, ``--burst``, ``--batch-size``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _shard(text: str) -> tuple[int, int]:
    """Parse ``--shard i/n`` into ``(i, n)`` with ``0 <= i < n``."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise argparse.ArgumentTypeError(f"shard index must be in 0..n-1, got {text!r}")
    return i, n


def _field(text: str) -> tuple[str, str]:
    """Parse ``--field name=value`` into ``(name, value)``; the value may be empty."""
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``customer-sdk``.

    Returns:
        The parser, with the ``import``, ``create``, ``sandbox`` and ``export`` subcommands; the
        chosen one is in the parsed namespace's ``command``.
    """
    parser = argparse.ArgumentParser(
        prog="customer-sdk",
        description="ChargeOver customer imports and exports, one-off creates and a local sandbox.",
        epilog="Credentials: CHARGEOVER_BASE_URL (or CHARGEOVER_INSTANCE), CHARGEOVER_USERNAME,\n"
        "CHARGEOVER_PASSWORD, optionally CHARGEOVER_AUTH=basic|signature.\n\n" + _EXIT_STATUS,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="one of the commands below"
    )
    _add_import(sub)
    _add_create(sub)
    _add_sandbox(sub)
    add_export(sub, _HelpFormatter)
    return parser


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps a one-paragraph text as argparse does; keeps a text laid out in lines as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


# The exit statuses (cli/_common.py's EXIT_*) as each --help states them, one line each;
# tests/test_cli_help.py checks each status a command returns is listed in its epilog.
_EXIT_STATUS = """\
Exit status:
  0    success
  1    some row (or the customer) was not created, or an export failed part-way
  2    usage or configuration error; nothing was sent
  3    stopped on an authentication or permission failure
  130  interrupted (Ctrl-C)
Each command's --help says what they mean for it."""
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
_CREATE_EXIT_STATUS = """\
Exit status:
  0    created, or it already existed (found by its --external-key)
  1    not created: an invalid field, a refusal, an outcome that could not be
       verified, another API or network error
  2    usage or configuration error; nothing was sent
  3    the credentials were refused (401/403)
  130  interrupted by Ctrl-C"""
_SANDBOX_EXIT_STATUS = """\
Exit status:
  0    stopped by Ctrl-C or SIGTERM
  2    usage or configuration error: a bad option, a bad --faults, a port that
       cannot be listened on
  130  interrupted by Ctrl-C before it started serving"""


# The type of what add_subparsers() returns (a string: the class is generic only in typeshed).
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_import(sub: _Subparsers) -> None:
    """The ``import`` command's options."""
    imp = sub.add_parser(
        "import",
        formatter_class=_HelpFormatter,
        help="import customers from a CSV or JSONL file",
        description="Create one customer per row of FILE (CSV with wire field names as columns, "
        "or JSONL), safely retried, with progress and a summary.",
        epilog=_IMPORT_EXIT_STATUS,
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="the CSV or JSONL file to import")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    imp.add_argument(
        "--concurrency",
        type=_positive_int,
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
        "--burst", type=_positive_int, metavar="B", help="requests at once under --rate (1)"
    )
    imp.add_argument(
        "--adaptive", action="store_true", help="with --rate: start there, adapt to 429s"
    )
    imp.add_argument(
        "--batch-size",
        type=_positive_int,
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
        type=_shard,
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


def _add_create(sub: _Subparsers) -> None:
    """The ``create`` command's options."""
    create = sub.add_parser(
        "create",
        formatter_class=_HelpFormatter,
        help="create one customer",
        description="Create one customer with the CHARGEOVER_* credentials and print "
        "'created ID' or 'existed ID'.",
        epilog=_CREATE_EXIT_STATUS,
    )
    create.add_argument("--company", required=True, help="the customer's company name")
    create.add_argument("--external-key", help="makes retries safe (strongly recommended)")
    create.add_argument(
        "--field",
        type=_field,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another wire field, e.g. --field bill_country=US --field tags='a;b' (repeatable)",
    )
    create.add_argument("-v", "--verbose", action="count", default=0, help="log retries")


def _add_sandbox(sub: _Subparsers) -> None:
    """The ``sandbox`` command's options."""
    sbx = sub.add_parser(
        "sandbox",
        formatter_class=_HelpFormatter,
        help="run a local ChargeOver sandbox until Ctrl-C",
        description="Serve a local, fault-injecting ChargeOver on plain HTTP and print the "
        "CHARGEOVER_* exports that point the SDK at it; stop with Ctrl-C or SIGTERM.",
        epilog=_SANDBOX_EXIT_STATUS,
    )
    sbx.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sbx.add_argument("--port", type=int, default=0, help="default: a free port")
    sbx.add_argument("--username", help="the accepted username (default: random)")
    sbx.add_argument("--password", help="the accepted password (default: random)")
    sbx.add_argument(
        "--rate", type=positive_float, metavar="R", help="server limit in requests/s (none)"
    )
    sbx.add_argument(
        "--burst",
        type=_positive_int,
        metavar="B",
        help="requests at once under --rate (default: the rate, rounded up)",
    )
    sbx.add_argument(
        "--retry-after",
        choices=["seconds", "date", "none"],
        default="seconds",
        help="how a 429 states its Retry-After (default: seconds)",
    )
    sbx.add_argument("--faults", metavar="SPEC", help="the fault plan (default: none)")
    sbx.add_argument("--seed", type=int, default=0, help="the fault seed (default 0)")
