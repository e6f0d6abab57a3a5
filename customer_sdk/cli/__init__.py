"""The ``customer-sdk`` command line: ``import``, ``export``, ``create`` and ``sandbox``.

``customer-sdk import FILE`` streams a CSV or JSONL file through
:meth:`Customers.create_many <customer_sdk.Customers.create_many>` with a live progress line, a
summary table and an optional failures CSV; ``export`` writes customers back out as a CSV or
JSONL file ``import`` reads (:meth:`Customers.list <customer_sdk.Customers.list>`, page by
page); ``create`` makes one customer; ``sandbox`` runs the
local fault-injecting ChargeOver until Ctrl-C. Credentials come from ``CHARGEOVER_*``
(:meth:`ChargeOverClient.from_env`) unless ``--sandbox`` starts an embedded server.

Exit status: 0 every row was created or already existed; 1 some row was rejected, unknown or
failed (or a ``create`` did not succeed); 2 a usage or configuration error; 3 the job stopped on
an authentication or permission failure; 130 interrupted (Ctrl-C / SIGTERM).

The package parses arguments and presents results; it does not read files itself
(:mod:`customer_sdk._rows` does), draw tables (:mod:`customer_sdk._progress`) or send anything
of its own: every request goes through the SDK's client, and it never prints a credential of the
account it imports into. Its modules, each depending only on those after it::

    _main            main(): parse, dispatch, map failures to exit statuses
    _import          the import command: run, drive the job, handle a stop
      _import_setup    open the sandbox or the account, the limiter and the client
      _import_rows     read the shard's rows, feed the job, count and report results
      _import_summary  why it stopped, the summary's notes, the exit status
    _export          the export command (its exit statuses in its docstring)
      _export_rows     one customer as a CSV row or a JSONL line
    _create          the create command
    _sandbox         the sandbox command
    _parser          argparse: every command and option
      _export_options  the export command's options
    _common          exit statuses, UsageError, logging, journal lock, signal Stopper
"""

from __future__ import annotations

from customer_sdk.cli._common import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PLAIN_INTERVAL,
    SANDBOX_BURST,
    SANDBOX_CLIENT_SHARE,
    SANDBOX_FAULTS,
    SANDBOX_RATE,
    TTY_REDRAW,
    UsageError,
)
from customer_sdk.cli._import_setup import redis_budget_name
from customer_sdk.cli._main import main
from customer_sdk.cli._parser import build_parser

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PLAIN_INTERVAL",
    "SANDBOX_BURST",
    "SANDBOX_CLIENT_SHARE",
    "SANDBOX_FAULTS",
    "SANDBOX_RATE",
    "TTY_REDRAW",
    "UsageError",
    "build_parser",
    "main",
    "redis_budget_name",
]
