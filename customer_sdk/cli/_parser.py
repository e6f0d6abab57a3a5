"""The argument parser of ``customer-sdk``: every command, every option, each with a help text.

The option types (:mod:`._option_types`) check what a single option can check alone (a
positive number, ``i/n``, ``name=value``) so argparse reports them with status 2. The
``import`` and ``export`` commands' many options are added by :mod:`._import_options` and
:mod:`._export_options`; ``create`` and ``sandbox`` are here. Rules that involve several options
(``--burst`` needs ``--rate``, ``--faults`` needs ``--sandbox``...) are the commands' own
business, checked before they start. This module runs nothing and opens no file.
"""

from __future__ import annotations

import argparse
from typing import TypeAlias

from customer_sdk import __version__
from customer_sdk.cli._common import positive_float
from customer_sdk.cli._export_options import add_export
from customer_sdk.cli._import_options import add_import
from customer_sdk.cli._option_types import field_pair, positive_int

__all__ = ["build_parser"]


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
    add_import(sub, _HelpFormatter)
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
        type=field_pair,
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
        type=positive_int,
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
