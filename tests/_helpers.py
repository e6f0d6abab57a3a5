"""Helpers shared by the test modules; the fixtures built on them live in ``conftest.py``.

One definition of each: canary credentials, the recording sleep, client factories, row builders,
the environment and command line of a CLI run, free loopback ports, and a journal's row states.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from aioresponses import aioresponses
from yarl import URL

from customer_sdk import ChargeOverClient, RetryPolicy
from customer_sdk._journal import Journal
from customer_sdk._journal._journal import Outcome
from customer_sdk.sandbox import Sandbox

# Canary credentials: a test that looks for leaks searches every output for these.
USER, PASSWORD = "canary-user-7f3a", "canary-pass-9c2e"
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())

# ChargeOver's message for a request without credentials (docs/chargeover-api.md, "Errors").
AUTH_MISSING = "Invalid or incorrect authorization [Missing (basic) authorization header.]"

# The redis-server binary, when installed (.ci/run installs it with apt-get).
REDIS_SERVER = shutil.which("redis-server")


class Sleeps:
    """A recording sleep: remembers each wait, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class FakeTime:
    """A virtual clock that moves when something sleeps on it; records every sleep.

    Handed to a limiter (``clock=``, ``sleep=``) and a retry policy (``sleep=``) together, the
    shared 429 pause sees a retry's wait pass exactly as it would in real time, without waiting.
    With ``follow_real_time`` the clock also runs with real time (monotonic plus every skipped
    wait), for tests where real time passes too, e.g. between an HTTP-date and its use.
    """

    def __init__(self, *, follow_real_time: bool = False) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._real_start = time.monotonic() if follow_real_time else None

    def clock(self) -> float:
        """The virtual time."""
        if self._real_start is None:
            return self.now
        return self.now + time.monotonic() - self._real_start

    async def sleep(self, seconds: float) -> None:
        """Record the wait, advance the clock by it, and yield once."""
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def make_client(base: str, sleeps: Sleeps, **kw: Any) -> ChargeOverClient:
    """A client with canary credentials whose retry policy sleeps through ``sleeps``."""
    retry = kw.pop("retry", None) or RetryPolicy(sleep=sleeps)
    return ChargeOverClient(base, username=USER, password=PASSWORD, retry=retry, **kw)


def client_for(sb: Sandbox, **kw: Any) -> ChargeOverClient:
    """A client with the sandbox's URL and credentials (``kw`` as for ChargeOverClient)."""
    return ChargeOverClient(sb.base_url, username=sb.username, password=sb.password, **kw)


def held_connections(client: ChargeOverClient) -> int:
    """Connections the client's pool has handed out and not got back (0 once calls are over)."""
    session = client._engine.transport._session
    return 0 if session is None else len(session.connector._acquired)  # type: ignore[union-attr]


def keyed(n: int, prefix: str = "k") -> list[dict[str, Any]]:
    """``n`` valid rows with keys ``{prefix}0`` ..."""
    return [{"company": f"Co {i}", "external_key": f"{prefix}{i}"} for i in range(n)]


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``rows`` as a UTF-8 CSV file with a header of ``columns``; returns ``path``."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def sandbox_env(sb: Sandbox) -> dict[str, str]:
    """This process's environment with CHARGEOVER_* replaced by the sandbox's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEOVER_")}
    env.update(
        CHARGEOVER_BASE_URL=sb.base_url,
        CHARGEOVER_USERNAME=sb.username,
        CHARGEOVER_PASSWORD=sb.password,
    )
    return env


def cli_argv(*args: str) -> list[str]:
    """The command line of ``python -m customer_sdk`` with ``args``."""
    return [sys.executable, "-m", "customer_sdk", *args]


async def start_import(sb: Sandbox, src: Path, *args: str) -> asyncio.subprocess.Process:
    """Start ``customer-sdk import src *args`` against the sandbox; stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        *cli_argv("import", str(src), *args),
        env=sandbox_env(sb),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@attrs.frozen
class Sent:
    """One request as aioresponses recorded it: what the SDK handed to aiohttp."""

    method: str
    url: URL
    headers: dict[str, str]
    body: bytes | None
    content_type: str | None


def requests_sent(mocked: aioresponses) -> list[Sent]:
    """Every request made under ``mocked``, grouped by method and URL.

    The headers are the per-request ones: a client on a caller's session sends all of its
    headers per request, a client on its own session keeps the fixed ones as session defaults.
    """
    out = []
    for (method, url), calls in mocked.requests.items():
        for call in calls:
            data = call.kwargs.get("data")
            out.append(
                Sent(
                    method=method,
                    url=url,
                    headers=dict(call.kwargs.get("headers") or {}),
                    body=None if data is None else data.decode().encode(),
                    content_type=None if data is None else data.content_type,
                )
            )
    return out


def free_port_socket() -> socket.socket:
    """A socket bound to a free loopback port and not listening: connects there are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A free loopback port (bound, then released) for a server started later."""
    with free_port_socket() as sock:
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server(
    workdir: Path, port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A throwaway redis-server on ``port`` (else a free one): ``(process, url)``, stopped after."""
    assert REDIS_SERVER is not None, "the caller must skip without redis-server"
    port = free_port() if port is None else port
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            *(REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield proc, f"redis://127.0.0.1:{port}/0"
    finally:
        proc.send_signal(signal.SIGCONT)  # a stopped server cannot act on SIGTERM
        proc.terminate()
        proc.wait(timeout=10)


def journal_window(path: Path) -> int | None:
    """The send window's end recorded in a journal file (the row at index -1), or None."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        found = conn.execute("SELECT customer_id FROM rows WHERE idx = -1").fetchone()
    return None if found is None else int(found[0])


def journal_states(path: Path, index: int | None = None) -> dict[int, str]:
    """Each row's state as a resumed run reads it, from the file on a connection of its own.

    A row's own record, else ``in_flight`` below the send window (the row at index -1): a row
    there with no record may have been sent (docs/architecture.md, "The journal"). With
    ``index``, that row only (read alone: cheap enough to call per arriving request).
    """
    low, high = (0, 2**62) if index is None else (index, index)
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        query = "SELECT idx, state FROM rows WHERE idx BETWEEN ? AND ?"
        states: dict[int, str] = dict(conn.execute(query, (low, high)).fetchall())
    window = journal_window(path) or 0
    for i in range(low, min(high + 1, window)):
        states.setdefault(i, "in_flight")
    return states


async def journal_in_flight(journal: Journal, entries: Iterable[tuple[int, str]]) -> None:
    """Durably mark ``(index, hash)`` rows in flight in an open journal, as sent keyless rows."""
    durable = journal.mark_in_flight([(index, row, False) for index, row in entries])
    assert durable is not None  # keyless marks are committed with an fsync
    await durable


async def journal_outcomes(journal: Journal, outcomes: Sequence[Outcome]) -> None:
    """Record rows' outcomes in an open journal and wait for their commit."""
    journal.record_outcomes_nowait(outcomes)
    journal.flush()
    await journal.committed()
