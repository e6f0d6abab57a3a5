"""Every resource a client, a bulk job or a CLI run opens is released on every way it ends.

After each path (success, cancelled mid-job, the row iterator raising, an outage the caller
gives up on, an authentication stop, a Redis stop, the event loop closed under an open job, a
CLI run) no extra thread remains, no asyncio task is left pending, and no socket or SQLite file
stays open. ResourceWarning as an error (the suite's setting) catches what the GC finds; this
checks the process directly, so a leak held alive by a reference is caught too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import (
    AuthenticationError,
    ChargeOverClient,
    LimiterUnavailableError,
    RetryPolicy,
)
from customer_sdk.cli import main
from customer_sdk.contrib.redis import RedisLimiter
from customer_sdk.sandbox import Sandbox
from tests._helpers import (
    PASSWORD,
    REDIS_SERVER,
    USER,
    client_for,
    free_port,
    keyed,
    redis_server,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("collect_garbage")


def _fds() -> tuple[int, int]:
    """Open sockets and open SQLite journal files (``*.db*``) of this process."""
    sockets = files = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            sockets += target.startswith("socket:")
            files += ".db" in target
    return sockets, files


class Baseline:
    """What the process holds before a run; :meth:`check` waits briefly for it to come back."""

    def __init__(self) -> None:
        self.threads = set(threading.enumerate())
        self.sockets, self.files = _fds()

    def check(self, grace: float = 2.0) -> None:
        """Assert no extra thread, socket or journal file remains (after at most ``grace`` s)."""
        deadline = time.monotonic() + grace
        while True:
            extra = [t for t in threading.enumerate() if t not in self.threads and t.is_alive()]
            sockets, files = _fds()
            if (not extra and sockets <= self.sockets and files <= self.files) or (
                time.monotonic() > deadline
            ):
                break
            time.sleep(0.02)
        assert extra == [], f"threads left running: {extra}"
        assert sockets <= self.sockets, f"{sockets - self.sockets} sockets left open"
        assert files <= self.files, f"{files - self.files} journal files left open"


async def _no_tasks_left() -> None:
    """Assert that no asyncio task but the test's own is left in the loop."""
    await asyncio.sleep(0)
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert others == set(), f"tasks left pending: {others}"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A fault-free sandbox with the canary credentials."""
    async with Sandbox(username=USER, password=PASSWORD) as sb:
        yield sb


async def _run_job(client: ChargeOverClient, rows: Any, journal: Path) -> int:
    done = 0
    async with client.customers.create_many(rows, concurrency=8, journal=journal) as job:
        async for _ in job:
            done += 1
    return done


async def test_a_job_that_succeeds_leaves_nothing_open(sandbox: Sandbox, tmp_path: Path) -> None:
    """A journaled job run to its end: no thread, task, socket or journal file remains."""
    base = Baseline()
    async with client_for(sandbox) as client:
        assert await _run_job(client, keyed(50), tmp_path / "j.db") == 50
    await _no_tasks_left()
    base.check()


async def test_a_job_cancelled_mid_run_leaves_nothing_open(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The consuming task cancelled mid-job: its workers, journal and sockets are released."""
    base = Baseline()
    async with client_for(sandbox) as client:
        task = asyncio.create_task(_run_job(client, keyed(5_000), tmp_path / "j.db"))
        while len(sandbox.customers) < 20:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await _no_tasks_left()
    base.check()


async def test_a_row_iterator_that_raises_leaves_nothing_open(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The caller's row generator raising mid-job: the error surfaces, nothing stays open."""

    def rows() -> Iterator[dict[str, str]]:
        yield from keyed(30)
        raise RuntimeError("the source broke")

    base = Baseline()
    async with client_for(sandbox) as client:
        with pytest.raises(RuntimeError, match="the source broke"):
            await _run_job(client, rows(), tmp_path / "j.db")
    await _no_tasks_left()
    base.check()


async def test_a_job_given_up_during_an_outage_leaves_nothing_open(tmp_path: Path) -> None:
    """A refusing server opens the circuit (probe task); closing the job ends the probe too."""
    base = Baseline()
    retry = RetryPolicy(initial_backoff=0.01, max_backoff=0.02)
    async with ChargeOverClient(
        f"http://127.0.0.1:{free_port()}", username=USER, password=PASSWORD, retry=retry
    ) as client:
        job = client.customers.create_many(keyed(200), concurrency=8, journal=tmp_path / "j.db")
        async with job:
            while job.stats.circuit_opened == 0:
                await asyncio.sleep(0.01)
    await _no_tasks_left()
    base.check()


async def test_an_auth_stop_leaves_nothing_open(sandbox: Sandbox, tmp_path: Path) -> None:
    """Rejected credentials stop the job with AuthenticationError; nothing stays open."""
    base = Baseline()
    async with ChargeOverClient(
        sandbox.base_url, username=USER, password="wrong-password"
    ) as client:
        with pytest.raises(AuthenticationError):
            await _run_job(client, keyed(100), tmp_path / "j.db")
    await _no_tasks_left()
    base.check()


def test_an_event_loop_closed_under_an_open_job_leaves_nothing_open(tmp_path: Path) -> None:
    """asyncio.run ending while a journaled job runs: its thread and journal file are closed."""

    async def abandon() -> None:
        async with Sandbox(username=USER, password=PASSWORD) as sb, client_for(sb) as client:
            job = client.customers.create_many(keyed(5_000), journal=tmp_path / "j.db")
            await job.__anext__()  # started; never closed: asyncio.run ends under it

    base = Baseline()
    asyncio.run(abandon())
    base.check()


def test_a_cli_import_leaves_nothing_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """customer-sdk import --sandbox --journal run in-process: nothing stays open after it."""
    src = write_csv(tmp_path / "rows.csv", ["company", "external_key"], keyed(40))
    base = Baseline()
    status = main(
        ["import", str(src), "--sandbox", "--faults", "", "--journal", str(tmp_path / "j.db")]
    )
    assert status == 0, capsys.readouterr().err
    base.check()


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
async def test_a_redis_stop_leaves_nothing_open(sandbox: Sandbox, tmp_path: Path) -> None:
    """A stalled Redis stops the job (LimiterUnavailableError); nothing stays open after."""
    with redis_server(tmp_path) as (proc, url):
        base = Baseline()
        limiter = RedisLimiter(url, rate=500, timeout=0.3, patience=0.3, name="leak")
        async with client_for(sandbox, limiter=limiter) as client:
            try:
                task = asyncio.create_task(_run_job(client, keyed(2_000), tmp_path / "j.db"))
                while len(sandbox.customers) < 20:
                    await asyncio.sleep(0.005)
                proc.send_signal(signal.SIGSTOP)
                with pytest.raises(LimiterUnavailableError):
                    await task
            finally:
                proc.send_signal(signal.SIGCONT)
                await limiter.aclose()
        await _no_tasks_left()
        base.check()
