"""The entry point: parse the arguments, run the chosen command, map its ending to a status.

This is the only module that knows every command; it does no command's work itself.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO, Final

from customer_sdk._rows import RowFileError
from customer_sdk.cli._common import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, log_to
from customer_sdk.cli._create import cmd_create
from customer_sdk.cli._export import cmd_export
from customer_sdk.cli._import import cmd_import
from customer_sdk.cli._parser import build_parser
from customer_sdk.cli._sandbox import cmd_sandbox

__all__ = ["main"]

_Command = Callable[[argparse.Namespace, IO[str], IO[str]], Awaitable[int]]

_COMMANDS: Final[Mapping[str, _Command]] = {
    "import": cmd_import,
    "create": cmd_create,
    "sandbox": cmd_sandbox,
    "export": cmd_export,
}


async def _run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run the parsed command with the SDK's log routed to ``err`` (see ``-v``)."""
    with log_to(getattr(args, "verbose", 0), err):
        return await _COMMANDS[args.command](args, out, err)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``customer-sdk`` with ``argv`` (default: the process's arguments).

    Every expected failure becomes a status and a one-line message on stderr, never a
    traceback: a usage or configuration problem (:class:`UsageError`, an unreadable input file)
    is 2, and a Ctrl-C that arrives outside an import's loop (e.g. while the client starts) is
    130. Inside the loop SIGINT/SIGTERM are handled by the import itself, which stops resumably
    and prints its summary first (see :class:`~customer_sdk.cli._common.Stopper`).

    Args:
        argv: The arguments after the program name.

    Returns:
        The exit status: 0 success, 1 some row (or the create) failed, 2 usage or configuration
        error, 3 authentication failure, 130 interrupted. ``--help`` and ``--version`` return 0.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out, err = sys.stdout, sys.stderr
    try:
        return asyncio.run(_run(args, out, err))
    except (UsageError, RowFileError) as exc:
        err.write(f"customer-sdk {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # a Ctrl-C outside the import loop (e.g. while starting)
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
