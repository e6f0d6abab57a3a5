"""The ``customer-sdk`` command line: ``import``, ``create`` and ``sandbox``.

``customer-sdk import FILE`` streams a CSV or JSONL file through
:meth:`Customers.create_many <customer_sdk.Customers.create_many>` with a live progress line, a
summary table and an optional failures CSV; ``create`` makes one customer; ``sandbox`` runs the
local fault-injecting ChargeOver until Ctrl-C. Credentials come from ``CHARGEOVER_*``
(:meth:`ChargeOverClient.from_env`) unless ``--sandbox`` starts an embedded server.

Exit status: 0 every row was created or already existed; 1 some row was rejected, unknown or
failed (or a ``create`` did not succeed); 2 a usage or configuration error; 3 the job stopped on
an authentication or permission failure; 130 interrupted (Ctrl-C / SIGTERM).

This module parses arguments and presents results. Reading files is :mod:`customer_sdk._rows`,
drawing is :mod:`customer_sdk._progress`, and every request goes through the SDK's client: the
CLI sends nothing of its own and never prints a credential of the account it imports into.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import shlex
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

from customer_sdk import __version__
from customer_sdk._client import ChargeOverClient
from customer_sdk._progress import (
    FailureReport,
    Progress,
    Tally,
    format_summary,
    format_table,
    scrub,
)
from customer_sdk._retry import RetryEvent, RetryPolicy
from customer_sdk._rows import (
    Row,
    RowFileError,
    convert_fields,
    detect_format,
    read_rows,
    scan_file,
    shard_of,
)
from customer_sdk.errors import (
    AuthenticationError,
    ChargeOverError,
    ConfigurationError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ValidationError,
)

if TYPE_CHECKING:
    from customer_sdk._bulk import RowResult
    from customer_sdk._ratelimit import Limiter
    from customer_sdk.sandbox import Sandbox

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "redis_budget_name",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_INTERRUPTED: Final = 130

# `--sandbox` defaults: a server limit, a client paced just under it, and a few faults of the
# kinds faults.md lists (cut connections, 5xx before and after the commit, a cut 201, lookups
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
    """A command line or configuration problem: reported in one line, exit status 2."""


def _fail(message: str) -> NoReturn:
    raise UsageError(message)


# --- argument parsing ------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _shard(text: str) -> tuple[int, int]:
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise argparse.ArgumentTypeError(f"shard index must be in 0..n-1, got {text!r}")
    return i, n


def _field(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``customer-sdk``.

    Returns:
        The parser, with the ``import``, ``create`` and ``sandbox`` subcommands.
    """
    parser = argparse.ArgumentParser(
        prog="customer-sdk",
        description="ChargeOver customer imports, one-off creates and a local sandbox.",
        epilog="Credentials: CHARGEOVER_BASE_URL (or CHARGEOVER_INSTANCE), CHARGEOVER_USERNAME, "
        "CHARGEOVER_PASSWORD, optionally CHARGEOVER_AUTH=basic|signature.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = sub.add_parser(
        "import",
        help="import customers from a CSV or JSONL file",
        description="Create one customer per row of FILE (CSV with wire field names as columns, "
        "or JSONL), safely retried, with progress and a summary. Exit status: 0 all rows "
        "created or existed, 1 some row rejected/unknown/failed, 2 usage or configuration "
        "error, 3 stopped on an authentication failure.",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the extension")
    imp.add_argument(
        "--concurrency", type=_positive_int, default=16, metavar="N", help="requests in flight (16)"
    )
    imp.add_argument(
        "--rate",
        type=_positive_float,
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
        "--redis", metavar="URL", help="share the rate limit through Redis (needs --rate)"
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
        type=_positive_float,
        metavar="R",
        help=f"the embedded sandbox's server limit (default {SANDBOX_RATE:g}/s)",
    )
    imp.add_argument("--faults", metavar="SPEC", help="the embedded sandbox's fault plan")
    imp.add_argument("--seed", type=int, default=0, help="the embedded sandbox's fault seed")
    imp.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    imp.add_argument(
        "--progress-interval",
        type=_positive_float,
        default=PLAIN_INTERVAL,
        metavar="SECONDS",
        help=f"when not on a terminal, print progress this often (default {PLAIN_INTERVAL:g})",
    )
    imp.add_argument("-v", "--verbose", action="count", default=0, help="log retries (-vv: debug)")

    create = sub.add_parser("create", help="create one customer")
    create.add_argument("--company", required=True)
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

    sbx = sub.add_parser("sandbox", help="run a local ChargeOver sandbox until Ctrl-C")
    sbx.add_argument("--host", default="127.0.0.1")
    sbx.add_argument("--port", type=int, default=0, help="default: a free port")
    sbx.add_argument("--username", help="default: random")
    sbx.add_argument("--password", help="default: random")
    sbx.add_argument("--rate", type=_positive_float, help="server limit in requests/s")
    sbx.add_argument("--burst", type=_positive_int)
    sbx.add_argument("--retry-after", choices=["seconds", "date", "none"], default="seconds")
    sbx.add_argument("--faults", metavar="SPEC")
    sbx.add_argument("--seed", type=int, default=0)
    return parser


# --- helpers -------------------------------------------------------------------------------


@contextlib.contextmanager
def _logging(verbosity: int, stream: IO[str]) -> Iterator[None]:
    """Route the SDK's log to ``stream`` for the command's duration.

    Without ``-v`` only errors are shown: each retry is logged as a WARNING, which is the
    point of a verbose run but would tear the progress line apart in a normal one.
    """
    handler = logging.StreamHandler(stream)
    # On a terminal a log line first clears the progress line it interrupts (CR, erase line);
    # the next redraw puts the progress line back under it.
    clear = "\r\x1b[K" if stream.isatty() else ""
    handler.setFormatter(logging.Formatter(clear + "%(levelname)s %(message)s"))
    level = [logging.ERROR, logging.WARNING, logging.DEBUG][min(verbosity, 2)]
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


@contextlib.contextmanager
def _journal_lock(journal: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the journal, so two processes never share one.

    Shards of one import each need their own journal; a second process pointed at the same
    journal is refused here rather than interleaving its rows with the first one's. The lock is
    released by the kernel however the process ends (SIGKILL included), so a kill never leaves
    the journal locked. Where ``flock`` does not exist (Windows) only the journal's own job-id
    check applies.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock_path = journal.with_name(journal.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        _fail(f"cannot open the journal lock {lock_path}: {exc.strerror or exc}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _fail(
                f"the journal {journal} is in use by another import; "
                "each process (each --shard) needs its own --journal"
            )
        yield
    finally:
        os.close(fd)


def _redact_url(url: str) -> str:
    # A Redis URL may carry a password: show the host part only.
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else "<redis url>"


def _reason(error: BaseException | None) -> str:
    if error is None:
        return ""
    return f"{type(error).__name__}: {error}"


def redis_budget_name(environ: Mapping[str, str]) -> str:
    """The Redis key prefix of an account's shared budget, as ``import --redis`` uses it.

    Every process and host importing into one ChargeOver account computes the same name from
    its ``CHARGEOVER_*`` variables, so they share one rate and one 429 pause without being told
    a name. It is hashed: the key names in Redis need not reveal the account's URL or username.

    Args:
        environ: The environment holding ``CHARGEOVER_BASE_URL`` (or ``CHARGEOVER_INSTANCE``)
            and ``CHARGEOVER_USERNAME``.

    Returns:
        E.g. ``customer_sdk:3f2a9c0d1e4b5a6f``.
    """
    account = "|".join(
        environ.get(k, "")
        for k in ("CHARGEOVER_BASE_URL", "CHARGEOVER_INSTANCE", "CHARGEOVER_USERNAME")
    )
    return "customer_sdk:" + hashlib.sha256(account.encode()).hexdigest()[:16]


class _Stopper:
    """Turns SIGINT/SIGTERM into cancelling one task (main thread only; a no-op elsewhere)."""

    def __init__(self) -> None:
        self.signalled: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._installed: list[int] = []

    def install(self, task: asyncio.Future[Any]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._on_signal, sig, task)
            self._installed.append(sig)

    def _on_signal(self, sig: int, task: asyncio.Future[Any]) -> None:
        if self.signalled is None:
            self.signalled = sig
            task.cancel()

    def remove(self) -> None:
        if self._loop is not None:
            for sig in self._installed:
                self._loop.remove_signal_handler(sig)
        self._installed.clear()


# --- import ------------------------------------------------------------------------------


class _Import:
    """One run of ``customer-sdk import``: rows in, results out, progress and report drawn."""

    def __init__(self, args: argparse.Namespace, out: IO[str], err: IO[str]) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.tally = Tally()
        self.secrets: tuple[str, ...] = ()
        self.report: FailureReport | None = None
        # create_many numbers the rows it is given; this maps its index back to the file.
        self.meta: dict[int, tuple[int, str | None]] = {}
        self.retries: Counter[str] = Counter()
        self.sandbox: Sandbox | None = None
        self.stopped: str | None = None
        self.unfinished = 0

    # rows ---------------------------------------------------------------------------------

    def rows(self) -> Iterator[Row]:
        """The file's rows that belong to this shard."""
        args = self.args
        for row in read_rows(args.file, args.format):
            if args.shard is None or shard_of(row, args.shard[1]) == args.shard[0]:
                yield row

    def reject(self, row: Row) -> None:
        """Count and report a row that failed validation locally."""
        self.tally.add("rejected")
        if self.report is not None:
            self.report.add(row.line, row.key, "rejected", row.errors)

    def feed(self) -> Iterator[dict[str, Any]]:
        """The valid rows' wire dicts, for create_many; invalid ones are reported on the way."""
        index = 0
        for row in self.rows():
            if row.wire is None:
                self.reject(row)
                continue
            self.meta[index] = (row.line, row.key)
            index += 1
            yield row.wire

    def record(self, result: RowResult) -> None:
        """Count and report one result of create_many."""
        # Every index create_many yields was given to it by feed(): a missing one is a bug.
        line, key = self.meta.pop(result.index)
        outcome = str(result.outcome)
        self.tally.add(outcome, resumed=result.resumed)
        if self.report is not None and outcome not in {"created", "existed"}:
            error = result.error
            if isinstance(error, ValidationError):
                self.report.add(line, key or result.key, outcome, error.errors)
            else:
                self.report.add(line, key or result.key, outcome, reason=_reason(error))

    # the run ------------------------------------------------------------------------------

    def check_args(self) -> None:
        """Refuse contradictory options before anything starts (exit status 2)."""
        a = self.args
        if not a.file.is_file():
            _fail(f"no such file: {a.file}")
        if a.burst is not None and a.rate is None:
            _fail("--burst needs --rate")
        if a.redis is not None and a.rate is None:
            _fail("--redis needs --rate: the shared limit of the whole account, in requests/s")
        if a.batch_size > 25:
            _fail("--batch-size is at most 25 (ChargeOver's _bulk limit)")
        if (a.faults is not None or a.sandbox_rate is not None) and not a.sandbox:
            _fail("--faults and --sandbox-rate configure the embedded sandbox: add --sandbox")
        if a.sandbox and a.redis is not None:
            _fail("--sandbox runs inside this process; --redis is for several processes")
        outputs = [p.resolve() for p in (a.journal, a.report) if p is not None]
        if a.file.resolve() in outputs:
            _fail("--journal and --report must not be the input file")
        if len(set(outputs)) < len(outputs):
            _fail("--journal and --report must be different files")

    def total(self) -> tuple[str, int]:
        """The file's sha256 and the expected number of rows of this shard (an estimate)."""
        fmt = self.args.format or detect_format(self.args.file)
        digest, lines = scan_file(self.args.file, quoted=fmt == "csv")
        rows = lines if fmt == "jsonl" else max(lines - 1, 0)  # CSV: not the header
        if self.args.shard is not None:
            rows = -(-rows // self.args.shard[1])
        return digest, rows

    def summary_extra(self) -> list[tuple[str, str]]:
        """Extra summary lines: retries, stop reason, sandbox counters, report path."""
        extra: list[tuple[str, str]] = []
        if self.retries:
            how = ", ".join(f"{n} {k}" for k, n in sorted(self.retries.items()))
            extra.append(("retries", f"{sum(self.retries.values()):,} ({how})"))
        if self.sandbox is not None:
            c = self.sandbox.counters
            extra.append(("sandbox: faults injected", f"{c['faulted']:,}"))
            extra.append(("sandbox: 429s sent", f"{c['throttled']:,}"))
            extra.append(("sandbox: customers stored", f"{len(self.sandbox.customers):,}"))
        return extra

    def report_unfinished(self) -> None:
        """After a stop, report the rows handed to the job that got no result.

        Some may have been sent (the job stopped mid-request), so they are UNKNOWN until a
        re-run settles them: with the same journal it looks them up, and without one the
        create finds an existing key anyway. Rows never read are counted in the notes.
        """
        self.unfinished = len(self.meta)
        if self.report is not None:
            reason = "the import stopped before this row had a result; re-run to settle it"
            for line, key in sorted(self.meta.values()):
                self.report.add(line, key, "unfinished", reason=reason)
        self.meta.clear()

    def notes(self) -> str:
        """Lines printed under the summary: where the report went, why the job stopped."""
        text = ""
        if self.report is not None:
            text += f"failures report: {self.report.path} ({self.report.lines} lines)\n"
        if self.stopped:
            text += f"stopped: {scrub(self.stopped, self.secrets)}\n"
            text += (
                f"unfinished: {self.unfinished:,} rows were read but have no result; "
                "rows after them were not read\n"
            )
        return text

    def exit_status(self, interrupted: bool, auth_failed: bool) -> int:
        if auth_failed:
            return EXIT_AUTH
        if interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if self.tally.all_ok else EXIT_FAILED

    async def dry_run(self) -> int:
        """Validate every row and report the invalid ones; nothing is sent."""
        started = time.monotonic()
        valid = 0
        for row in self.rows():
            if row.wire is None:
                self.reject(row)
            else:
                valid += 1
        table = [
            ("rows read", f"{valid + self.tally.counts['rejected']:,}"),
            ("valid", f"{valid:,}"),
            ("rejected", f"{self.tally.counts['rejected']:,}"),
            ("elapsed", f"{time.monotonic() - started:.1f} s"),
        ]
        self.out.write(format_table("Dry run: nothing was sent", table) + self.notes())
        return EXIT_OK if self.tally.all_ok else EXIT_FAILED

    async def run(self) -> int:
        """Run the import; returns the exit status."""
        a = self.args
        if a.dry_run:
            return await self.dry_run()
        job_id, total = self.total()
        if a.shard is not None:
            # A journal written by another shard (or for another file) is refused by the
            # journal itself, because the job id differs.
            job_id = f"{job_id}#shard{a.shard[0]}/{a.shard[1]}"
        async with contextlib.AsyncExitStack() as stack:
            if a.journal is not None:
                stack.enter_context(_journal_lock(a.journal))
            client = await self.open_client(stack)
            return await self.drive(client, job_id, total)
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_client(self, stack: contextlib.AsyncExitStack) -> ChargeOverClient:
        """Start the sandbox if asked, build the limiter and the client."""
        a = self.args
        policy = RetryPolicy(on_retry=self.on_retry)
        limiter: Limiter | None = None
        if a.sandbox:
            from customer_sdk.sandbox import FaultSpecError, Sandbox

            try:
                sb = Sandbox(
                    rate=a.sandbox_rate or SANDBOX_RATE,
                    burst=SANDBOX_BURST,
                    faults=SANDBOX_FAULTS if a.faults is None else (a.faults or None),
                    seed=a.seed,
                )
            except FaultSpecError as exc:
                _fail(f"--faults: {exc}")
            self.sandbox = await stack.enter_async_context(sb)
            self.secrets = (sb.password,)
            client = ChargeOverClient(
                sb.base_url, username=sb.username, password=sb.password, retry=policy
            )
            if not a.quiet:
                limit, rate = a.sandbox_rate or SANDBOX_RATE, self.client_rate()
                paced = f"{rate:g}/s" if rate else "adaptive"
                self.err.write(
                    f"sandbox: {sb.base_url}, server limit {limit:g}/s, client {paced}, "
                    f"faults: {_describe_faults(a.faults)}\n"
                )
        else:
            if a.redis is not None:
                limiter = self.redis_limiter(stack)
                await self.check_limiter(limiter)
            try:
                client = ChargeOverClient.from_env(retry=policy, limiter=limiter)
            except ConfigurationError as exc:
                _fail(str(exc))
            self.secrets = tuple(
                v
                for k in ("CHARGEOVER_PASSWORD", "CHARGEOVER_USERNAME")
                if (v := os.environ.get(k))
            )
        if self.report is not None:
            # The report is opened before the credentials are known (a --report naming the
            # input is refused first); from here on every cell is masked with them.
            self.report.secrets = self.secrets
        await stack.enter_async_context(client)
        return client

    def redis_limiter(self, stack: contextlib.AsyncExitStack) -> Limiter:
        """The Redis-shared limiter, named after the account so all its workers share it."""
        a = self.args
        try:
            from customer_sdk.contrib.redis import RedisLimiter
        except ImportError as exc:
            _fail(str(exc))
        name = redis_budget_name(os.environ)
        try:
            limiter = RedisLimiter(a.redis, rate=a.rate, burst=a.burst or 1, name=name)
        except ValueError as exc:
            _fail(f"--redis {_redact_url(a.redis)}: {exc}")
        stack.push_async_callback(limiter.aclose)
        return limiter

    @staticmethod
    async def check_limiter(limiter: Limiter) -> None:
        """Take one slot up front: an unreachable Redis is a configuration error (status 2).

        Otherwise every row would fail on its own with the same error.
        """
        from customer_sdk.contrib.redis import LimiterUnavailableError

        try:
            await limiter.acquire()
        except LimiterUnavailableError as exc:
            _fail(f"--redis: {exc}")

    def client_rate(self) -> float | None:
        """The job's own rate: --rate; under --sandbox by default just below its limit."""
        a = self.args
        if a.redis is not None:
            return None  # the shared RedisLimiter governs alone
        if a.rate is None and a.sandbox and not a.adaptive:
            return SANDBOX_CLIENT_SHARE * (a.sandbox_rate or SANDBOX_RATE)
        rate: float | None = a.rate
        return rate

    def on_retry(self, event: RetryEvent) -> None:
        """Count retries by what they do (resend, lookup, retry) for the summary."""
        self.retries[event.action] += 1

    async def drive(self, client: ChargeOverClient, job_id: str, total: int) -> int:
        """Run create_many over the rows with progress; returns the exit status."""
        from customer_sdk.errors import JournalMismatchError

        a = self.args
        tty = self.err.isatty()
        interval = a.progress_interval
        progress = Progress(self.err, total, tty=tty, interval=interval, secrets=self.secrets)
        job = client.customers.create_many(
            self.feed(),
            concurrency=a.concurrency,
            batch_size=a.batch_size,
            journal=a.journal,
            job_id=job_id,
            rate=self.client_rate(),
            burst=None if a.redis else a.burst,
            adaptive=a.adaptive,
        )

        def counters() -> dict[str, int]:
            return {"throttled": job.stats.throttled, "requests": job.stats.http_requests}

        async def consume() -> None:
            async with job:
                async for result in job:
                    self.record(result)

        async def redraw() -> None:
            while True:
                await asyncio.sleep(TTY_REDRAW if tty else min(interval / 4, 0.5))
                progress.tick(self.tally, **counters())

        task = asyncio.ensure_future(consume())
        stopper = _Stopper()
        stopper.install(task)
        drawer = None if a.quiet else asyncio.ensure_future(redraw())
        interrupted = auth_failed = False
        try:
            await task
        except asyncio.CancelledError:
            if stopper.signalled is None:
                raise
            interrupted = True
            self.stopped = f"interrupted by {signal.Signals(stopper.signalled).name}"
            if a.journal is not None:
                self.stopped += "; re-run with the same --journal to resume"
        except (AuthenticationError, PermissionDeniedError) as exc:
            auth_failed = True
            self.stopped = f"{_reason(exc)} (check CHARGEOVER_USERNAME / CHARGEOVER_PASSWORD)"
        except JournalMismatchError as exc:
            _fail(f"--journal {a.journal}: {exc}")
        except sqlite3.Error as exc:
            # Raised by the journal only (the SDK itself uses no SQLite), e.g. not a database.
            _fail(f"--journal {a.journal}: not a usable journal ({exc})")
        finally:
            stopper.remove()
            if drawer is not None:
                drawer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawer
        if not interrupted and not auth_failed:
            progress.total = self.tally.done  # the line count was an estimate
        else:
            self.report_unfinished()
        if not a.quiet:
            progress.finish(self.tally, **counters())
        if self.stopped and not interrupted:
            self.err.write(f"error: the import stopped: {scrub(self.stopped, self.secrets)}\n")
        stats = job.stats
        self.out.write(
            format_summary(
                self.tally,
                elapsed=progress.elapsed,
                requests=stats.http_requests,
                throttled=stats.throttled,
                extra=self.summary_extra(),
            )
            + self.notes()
        )
        self.out.flush()
        return self.exit_status(interrupted, auth_failed)


def _describe_faults(spec: str | None) -> str:
    """Describe the embedded sandbox's fault plan for the banner line."""
    if spec is None:
        return "a few of each kind (default; --faults '' for none)"
    return spec or "none"


async def _cmd_import(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    run = _Import(args, out, err)
    # Before the report is created: a --report naming the input must not truncate it.
    run.check_args()
    if args.report is not None:
        try:
            run.report = FailureReport(args.report)
        except OSError as exc:
            _fail(f"cannot write the report {args.report}: {exc.strerror or exc}")
    try:
        status = await run.run()
    finally:
        if run.report is not None:
            run.report.close()
    return status


# --- create ------------------------------------------------------------------------------


async def _cmd_create(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    values: dict[str, str] = {"company": args.company}
    if args.external_key is not None:
        values["external_key"] = args.external_key
    for name, value in args.field:
        if name in values:
            _fail(f"--field {name} is given twice (or repeats --company/--external-key)")
        values[name] = value
    fields, problems = convert_fields(values)
    if problems:
        for p in problems:
            err.write(f"error: {p}\n")
        return EXIT_FAILED
    try:
        client = ChargeOverClient.from_env()
    except ConfigurationError as exc:
        _fail(str(exc))
    async with client:
        try:
            created = await client.customers.create(fields)
        except ValidationError as exc:
            for p in exc.errors:
                err.write(f"error: {p}\n")
            return EXIT_FAILED
        except (AuthenticationError, PermissionDeniedError) as exc:
            err.write(f"error: {_reason(exc)}\n")
            return EXIT_AUTH
        except OutcomeUnknownError as exc:
            err.write(f"error: outcome unknown: {exc}\n")
            return EXIT_FAILED
        except ChargeOverError as exc:
            err.write(f"error: {_reason(exc)}\n")
            return EXIT_FAILED
    out.write(f"{'created' if created.created else 'existed'} {created.customer_id}\n")
    return EXIT_OK


# --- sandbox -----------------------------------------------------------------------------


def _exports(sb: Sandbox) -> str:
    return "".join(
        f"export {name}={shlex.quote(value)}\n"
        for name, value in (
            ("CHARGEOVER_BASE_URL", sb.base_url),
            ("CHARGEOVER_USERNAME", sb.username),
            ("CHARGEOVER_PASSWORD", sb.password),
        )
    )


async def _cmd_sandbox(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from customer_sdk.sandbox import FaultSpecError, Sandbox

    if args.burst is not None and args.rate is None:
        _fail("--burst needs --rate")
    if not 0 <= args.port <= 65535:
        _fail(f"--port must be 0..65535, got {args.port}")
    try:
        sb = Sandbox(
            host=args.host,
            port=args.port,
            username=args.username,
            password=args.password,
            rate=args.rate,
            burst=args.burst,
            retry_after=args.retry_after,
            faults=args.faults,
            seed=args.seed,
        )
    except FaultSpecError as exc:
        _fail(f"--faults: {exc}")
    stopper = _Stopper()
    # Nothing resolves this future: SIGINT/SIGTERM cancel it, which is the signal to stop.
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    try:
        await sb.start()
    except OSError as exc:
        waiter.cancel()
        _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        stopper.install(waiter)
        limit = f"{args.rate:g} requests/s" if args.rate else "no rate limit"
        out.write(f"# ChargeOver sandbox on {sb.base_url} ({limit}); Ctrl-C to stop\n")
        out.write(_exports(sb))
        out.flush()
        if args.host not in {"127.0.0.1", "localhost", "::1"}:
            err.write("warning: the sandbox listens beyond this machine (plain HTTP)\n")
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        if stopper.signalled is None:
            raise asyncio.CancelledError
    finally:
        stopper.remove()
        await sb.stop()
    out.write(
        f"# sandbox stopped: {len(sb.customers)} customers, {sb.counters['requests']} requests\n"
    )
    out.flush()
    return EXIT_OK


# --- entry point -------------------------------------------------------------------------

_COMMANDS: Final[Mapping[str, Callable[[argparse.Namespace, IO[str], IO[str]], Any]]] = {
    "import": _cmd_import,
    "create": _cmd_create,
    "sandbox": _cmd_sandbox,
}


async def _run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    with _logging(getattr(args, "verbose", 0), err):
        status: int = await _COMMANDS[args.command](args, out, err)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``customer-sdk`` with ``argv`` (default: the process's arguments).

    Args:
        argv: The arguments after the program name.

    Returns:
        The exit status: 0 success, 1 some row (or the create) failed, 2 usage or configuration
        error, 3 authentication failure, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out, err = sys.stdout, sys.stderr
    try:
        return asyncio.run(_run(args, out, err))
    except UsageError as exc:
        err.write(f"customer-sdk {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except RowFileError as exc:
        err.write(f"customer-sdk {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # a Ctrl-C outside the import loop (e.g. while starting)
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
