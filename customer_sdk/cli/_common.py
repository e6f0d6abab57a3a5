"""What every ``customer-sdk`` command shares: exit statuses, usage errors, logging, signals.

Here live the exit statuses and :class:`UsageError` (the one way a command reports a bad option),
the defaults the parser and the import command both need, the log routing of ``-v``, the
journal lock, the :class:`Stopper` that turns SIGINT/SIGTERM into a cancellation, and two small
redaction helpers. This module imports no command module and no sandbox, sends no request and
reads no row: commands depend on it, never the other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final, NoReturn

from customer_sdk._logging import env_handler

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
    "Stopper",
    "UsageError",
    "fail",
    "journal_lock",
    "positive_float",
    "log_to",
    "reason",
    "redact_url",
]

# The exit statuses, one per thing a script calling the command may want to branch on.
EXIT_OK: Final = 0
"""Every row was created or already existed (``create``: the customer was created or existed)."""
EXIT_FAILED: Final = 1
"""Some row was rejected, unknown or failed (``create``: the customer was not created)."""
EXIT_USAGE: Final = 2
"""A usage or configuration error, reported before anything was sent (argparse's own status)."""
EXIT_AUTH: Final = 3
"""The job stopped on an authentication or permission failure: no row can succeed."""
EXIT_INTERRUPTED: Final = 130
"""Stopped by SIGINT or SIGTERM (128 + SIGINT, the shells' convention)."""

# `--sandbox` defaults: a server limit, a client paced just under it, and a few faults of the
# kinds docs/faults.md lists (cut connections, 5xx before and after the commit, a cut 201, lookups
# that lag the write, a rare 429), so that a demo shows throttling and retries being handled and
# still finishes in seconds. Every 429 pauses all workers for its Retry-After (1 s here), so
# 429s are kept rare. `--sandbox-rate`, `--rate`/`--adaptive` and `--faults` override them.
SANDBOX_RATE: Final = 300.0
SANDBOX_BURST: Final = 30
SANDBOX_CLIENT_SHARE: Final = 0.9
SANDBOX_FAULTS: Final = (
    "create:503_after_commit=0.01,reset_after_commit=0.01,500_before_commit=0.01,"
    "truncated_201=0.005,429@1=0.001;lookup:lag=0.1"
)
# How often the progress line is redrawn on a terminal, and printed when not.
TTY_REDRAW: Final = 0.1
PLAIN_INTERVAL: Final = 2.0

logger: Final = logging.getLogger("customer_sdk")


class UsageError(Exception):
    """A command line or configuration problem: reported in one line, exit status 2.

    Raised (through :func:`fail`) anywhere in a command; :func:`customer_sdk.cli.main` prints
    ``customer-sdk COMMAND: error: MESSAGE`` and returns :data:`EXIT_USAGE`, with no traceback.
    """


def fail(message: str) -> NoReturn:
    """Stop the command with a usage error.

    Args:
        message: The one-line explanation shown to the user (must hold no credential).

    Raises:
        UsageError: Always.
    """
    raise UsageError(message)


@contextlib.contextmanager
def log_to(verbosity: int, stream: IO[str]) -> Iterator[None]:
    """Route the SDK's log to ``stream`` for the command's duration, then restore the logger.

    Without ``-v`` only errors are shown: each retry is logged at INFO, which is
    the point of a verbose run but would tear the progress line apart in a normal one.
    ``CHARGEOVER_LOG=info|debug`` counts as ``-v``/``-vv``; its own handler is set aside
    meanwhile, so no line is printed twice.

    Args:
        verbosity: How many ``-v`` were given: 0 errors, 1 info (retries), 2+ debug.
        stream: Where log lines go (the command's stderr).

    Yields:
        Nothing; the routing holds inside the ``with`` block.
    """
    handler = logging.StreamHandler(stream)
    # On a terminal a log line first clears the progress line it interrupts (CR, erase line);
    # the next redraw puts the progress line back under it.
    clear = "\r\x1b[K" if stream.isatty() else ""
    handler.setFormatter(logging.Formatter(clear + "%(levelname)s %(message)s"))
    level = [logging.ERROR, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    from_env = env_handler()
    if from_env is not None:
        level = min(level, max(from_env.level, logging.DEBUG))
        logger.removeHandler(from_env)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        if from_env is not None:
            logger.addHandler(from_env)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


@contextlib.contextmanager
def journal_lock(journal: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the journal, so two processes never share one.

    The journal itself refuses another *input* (its job id is the file's sha256, plus the shard):
    what it cannot see is a second process running the *same* job at the same time, whose rows
    would interleave with the first one's and be sent twice. So each import takes ``flock`` on
    ``JOURNAL.lock`` (created beside it, mode 0600, never deleted) before opening the journal,
    without waiting: a second process is refused at once. Shards of one import each need their
    own journal for the same reason.

    The lock belongs to the open file description, so the kernel releases it however the
    process ends (SIGKILL included): a killed import never leaves its journal locked, and the
    re-run that resumes it takes the lock again. Where ``flock`` does not exist (Windows) only
    the journal's own job-id check applies.

    Args:
        journal: The ``--journal`` path.

    Yields:
        Nothing; the lock is held inside the ``with`` block.

    Raises:
        UsageError: The lock file cannot be opened, or another process holds the lock.
    """
    try:
        import fcntl  # POSIX only: imported here so its absence is handled below
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock_path = journal.with_name(journal.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        fail(f"cannot open the journal lock {lock_path}: {exc.strerror or exc}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail(
                f"the journal {journal} is in use by another import; "
                "each process (each --shard) needs its own --journal"
            )
        yield
    finally:
        os.close(fd)


def redact_url(url: str) -> str:
    """A URL with any ``user:password@`` part removed, fit for an error message.

    Args:
        url: A URL such as ``redis://:secret@host:6379/0``.

    Returns:
        E.g. ``redis://host:6379/0``; ``<redis url>`` when ``url`` has no scheme at all (then
        there is no telling which part is the password).
    """
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else "<redis url>"


def reason(error: BaseException | None) -> str:
    """An exception as one line for a report cell or an error message.

    Args:
        error: The exception, or None.

    Returns:
        ``TypeName: message``, or ``""`` for None.
    """
    if error is None:
        return ""
    return f"{type(error).__name__}: {error}"


class Stopper:
    """Turns the first SIGINT or SIGTERM into cancelling one task, so a command stops cleanly.

    Python's default SIGINT raises :class:`KeyboardInterrupt` wherever the main thread happens to
    be, possibly inside the journal's bookkeeping or between a send and its record; SIGTERM's
    default kills the process outright. Instead, while installed, both signals are handled on the
    event loop (``loop.add_signal_handler``), between callbacks, and only cancel the task given
    to :meth:`install`. For an import that task is the one consuming the bulk job inside
    ``async with job``, so the cancellation unwinds through ``BulkJob.aclose()``: the workers
    are cancelled, a row whose request was sent stays ``in_flight`` in the journal (it was
    committed there before the send), finished rows are already ``done``, and the journal is
    closed. A re-run with the same ``--journal`` skips the done rows and reconciles the
    in-flight ones by lookup instead of sending them again, which is what makes the stop
    resumable. The caller then tells a signal's cancellation from any other by
    :attr:`signalled`, prints its summary and exits with status 130.

    Only the first signal counts: a second Ctrl-C while the job winds down is ignored rather
    than breaking the orderly shutdown (SIGKILL remains, and the journal survives it too).
    Signal handlers can only be set from the main thread, so elsewhere (a test calling
    ``main()`` from a worker thread) :meth:`install` does nothing.

    Attributes:
        signalled: The number of the first signal received, or None.
    """

    def __init__(self) -> None:
        self.signalled: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._installed: list[int] = []

    def install(self, task: asyncio.Future[Any]) -> None:
        """Handle SIGINT and SIGTERM by cancelling ``task`` (from the main thread only).

        Args:
            task: The task (or future) to cancel on the first signal.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._on_signal, sig, task)
            self._installed.append(sig)

    def _on_signal(self, sig: int, task: asyncio.Future[Any]) -> None:
        """Run by the event loop on a signal: cancel ``task`` the first time, ignore repeats."""
        if self.signalled is None:
            self.signalled = sig
            task.cancel()

    def remove(self) -> None:
        """Give SIGINT and SIGTERM back to their previous handling. Idempotent."""
        if self._loop is not None:
            for sig in self._installed:
                self._loop.remove_signal_handler(sig)
        self._installed.clear()


def positive_float(text: str) -> float:
    """Parse an option's finite number > 0 (rates, intervals, seconds).

    Args:
        text: The option's text.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: Not a finite number > 0 (argparse reports it).
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value
