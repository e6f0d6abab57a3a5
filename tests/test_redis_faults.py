"""RedisLimiter against a failing real redis-server: stalls, restarts, bounded waits (F27)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from customer_sdk import ChargeOverClient, LimiterUnavailableError, RetryPolicy
from customer_sdk.contrib import redis as contrib_redis
from customer_sdk.contrib.redis import RedisLimiter
from tests._helpers import (
    PASSWORD,
    REDIS_SERVER,
    USER,
    cli_argv,
    free_port,
    redis_server,
    write_csv,
)
from tests._nonunique import NonUniqueServer, audit

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (.ci/run installs it with apt-get)"
)


def _timeouts(limiter: RedisLimiter) -> tuple[float, float]:
    settings = limiter._redis.connection_pool.connection_kwargs
    return settings["socket_timeout"], settings["socket_connect_timeout"]


async def test_the_timeout_caps_the_timeouts_a_url_sets_itself() -> None:
    """A URL's longer socket/connect timeouts are cut to ``timeout``; shorter ones are kept."""
    port = free_port()
    long = RedisLimiter(
        f"redis://127.0.0.1:{port}/0?socket_timeout=30&socket_connect_timeout=30", rate=1
    )
    short = RedisLimiter(f"redis://127.0.0.1:{port}/0?socket_timeout=0.5", rate=1, timeout=1.5)
    plain = RedisLimiter(f"redis://127.0.0.1:{port}/0", rate=1, timeout=3)
    assert _timeouts(long) == (2.0, 2.0)
    assert _timeouts(short) == (0.5, 1.5)
    assert _timeouts(plain) == (3, 3)
    for limiter in (long, short, plain):
        await limiter.aclose()


def test_the_patience_must_not_be_negative() -> None:
    """patience=-1 (or nan, inf) is refused with ValueError naming it."""
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="patience"):
            RedisLimiter("redis://127.0.0.1:1/0", rate=1, patience=bad)


async def test_a_stalled_redis_fails_every_queued_caller_within_the_timeout(
    tmp_path: Path,
) -> None:
    """SIGSTOP under a URL asking 30 s: the call is cut at timeout and the queue fails with it."""
    with redis_server(tmp_path) as (proc, url):
        limiter = RedisLimiter(f"{url}?socket_timeout=30", rate=1000, timeout=0.5, patience=0)
        try:
            await limiter.acquire()
            proc.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            calls = [asyncio.create_task(limiter.acquire()) for _ in range(8)]
            done = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)
            elapsed = time.monotonic() - started
            assert all(isinstance(d, LimiterUnavailableError) for d in done), done
            # One timeout for the head, not one per queued caller (8 x 0.5 s).
            assert elapsed < 4 * 0.5, elapsed
        finally:
            proc.send_signal(signal.SIGCONT)
            await limiter.aclose()


async def test_a_failing_redis_is_retried_for_patience_granting_nothing(tmp_path: Path) -> None:
    """A Redis that answered, then stalls: acquire waits out ``patience``, then raises."""
    with redis_server(tmp_path) as (proc, url):
        limiter = RedisLimiter(url, rate=1000, timeout=0.2, patience=1.0)
        try:
            await limiter.acquire()
            proc.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(LimiterUnavailableError, match="not sending unmetered"):
                await asyncio.wait_for(limiter.acquire(), 10)
            assert time.monotonic() - started >= 1.0
        finally:
            proc.send_signal(signal.SIGCONT)
            await limiter.aclose()


async def test_a_restarted_redis_is_reconnected_and_its_scripts_loaded_again(
    tmp_path: Path,
) -> None:
    """Kill redis-server and start a new one on its port: acquire waits, then books (NOSCRIPT)."""
    port = free_port()
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", rate=1000, timeout=0.5, patience=10)
    try:
        with redis_server(tmp_path / "a", port) as (first, _):
            await limiter.acquire()
            first.kill()
            first.wait()
            waiting = asyncio.create_task(limiter.acquire())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "granted while Redis was down"
        with redis_server(tmp_path / "b", port) as (_, url):
            await asyncio.wait_for(waiting, 10)
            await limiter.acquire()
            check = aioredis.Redis.from_url(url)
            loaded = await check.script_exists(limiter._acquire.sha)
            await check.aclose()
            assert loaded == [True], "the new server was given the script again"
    finally:
        await limiter.aclose()


def _rows(n: int) -> list[dict[str, str]]:
    return [
        {"company": f"Soak {i}", **({"external_key": f"s-{i}"} if i % 2 == 0 else {})}
        for i in range(n)
    ]


async def _import(
    base_url: str, limiter: RedisLimiter, journal: Path, n: int
) -> tuple[dict[int, tuple[str, int | None]], BaseException | None]:
    """Import ``n`` rows with ``limiter`` (closed after): the results, and the job's error."""
    outcomes: dict[int, tuple[str, int | None]] = {}
    retry = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
    error = None
    async with ChargeOverClient(
        base_url, username=USER, password=PASSWORD, retry=retry, limiter=limiter
    ) as client:
        try:
            async with client.customers.create_many(
                _rows(n), concurrency=8, journal=journal
            ) as job:
                async for r in job:
                    outcomes[r.index] = (r.outcome.value, r.customer_id)
        except LimiterUnavailableError as exc:
            error = exc
        finally:
            await limiter.aclose()
    return outcomes, error


async def test_create_many_stops_resumably_on_a_stalled_redis_and_never_sends_unmetered(
    tmp_path: Path,
) -> None:
    """SIGSTOP mid-job: nothing sent after the timeout, the job stops; the re-run completes."""
    n = 400
    with redis_server(tmp_path) as (proc, url):
        async with NonUniqueServer() as server:
            limiter = RedisLimiter(url, rate=200, timeout=0.5, patience=0.5, name="stall-job")

            async def stall_soon() -> float:
                while len(server.customers) < 100:
                    await asyncio.sleep(0.01)
                proc.send_signal(signal.SIGSTOP)
                return time.monotonic()

            stopper = asyncio.create_task(stall_soon())
            first, error = await _import(server.base_url, limiter, tmp_path / "j.db", n)
            stalled_at = await stopper
            assert isinstance(error, LimiterUnavailableError)
            late = [t for t in server.arrivals if t > stalled_at + 0.5]
            assert late == [], f"{len(late)} requests sent unmetered"
            assert len(first) < n
            proc.send_signal(signal.SIGCONT)
            limiter = RedisLimiter(url, rate=1000, name="stall-job")
            second, error = await _import(server.base_url, limiter, tmp_path / "j.db", n)
            assert error is None
            # Every row created once; none unknown: a row stopped while waiting for its slot
            # was never sent, and the journal says so.
            assert audit(server, None, second, n) == {"created": n}


async def test_create_many_survives_a_redis_restart_mid_job(tmp_path: Path) -> None:
    """Kill and restart redis-server mid-job: the job waits, reconnects, and ends 0 dup 0 lost."""
    n = 400
    port = free_port()
    async with NonUniqueServer() as server:
        limiter = RedisLimiter(
            f"redis://127.0.0.1:{port}/0", rate=400, timeout=0.5, patience=10, name="restart"
        )

        async def restart(first: object) -> None:
            while len(server.customers) < 100:
                await asyncio.sleep(0.01)
            first.kill()  # type: ignore[attr-defined]
            first.wait()  # type: ignore[attr-defined]
            await asyncio.sleep(0.3)
            with redis_server(tmp_path / "b", port):
                await job_done.wait()

        job_done = asyncio.Event()
        with redis_server(tmp_path / "a", port) as (first, _):
            restarter = asyncio.create_task(restart(first))
            outcomes, error = await _import(server.base_url, limiter, tmp_path / "j.db", n)
            job_done.set()
            await restarter
        assert error is None
        assert audit(server, None, outcomes, n) == {"created": n}
        assert contrib_redis.LimiterUnavailableError is LimiterUnavailableError


async def test_cli_import_stops_with_status_1_on_a_stalled_redis_and_resumes(
    tmp_path: Path,
) -> None:
    """customer-sdk import --redis: SIGSTOP mid-run, exit 1, no traceback; the re-run ends 0."""
    n = 400
    src = write_csv(tmp_path / "rows.csv", ["company", "external_key"], _rows(n))
    with redis_server(tmp_path) as (proc, url):
        async with NonUniqueServer() as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEOVER_")}
            env.update(
                CHARGEOVER_BASE_URL=server.base_url,
                CHARGEOVER_USERNAME=USER,
                CHARGEOVER_PASSWORD=PASSWORD,
            )
            argv = cli_argv(
                "import", str(src), "--redis", url, "--rate", "200", "--redis-patience", "0.5",
                "--journal", str(tmp_path / "j.db"), "-q",
            )  # fmt: skip

            async def run() -> tuple[int | None, str]:
                cli = await asyncio.create_subprocess_exec(
                    *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
                )
                out, _ = await asyncio.wait_for(cli.communicate(), 60)
                return cli.returncode, out.decode()

            importing = asyncio.create_task(run())
            while len(server.customers) < 100:
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGSTOP)
            stalled_at = time.monotonic()
            status, out = await importing
            assert status == 1, out
            assert "Traceback" not in out
            assert "re-run with the same --journal to resume" in out
            # The default 2 s timeout: nothing goes out once Redis stops answering.
            assert [t for t in server.arrivals if t > stalled_at + 2.0] == []
            assert len(server.customers) < n
            proc.send_signal(signal.SIGCONT)
            status, out = await run()
            assert status == 0, out
            assert server.count_by("company") == {f"Soak {i}": 1 for i in range(n)}
