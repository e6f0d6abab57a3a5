"""The Redis-shared limiter: GCRA on Redis' clock, a shared 429 pause, no unmetered fallback."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from customer_sdk.contrib.redis import LimiterUnavailableError, RedisLimiter

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (.ci/run installs it with apt-get)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, stopped after the module."""
    assert REDIS_SERVER is not None
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
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
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client on a flushed database."""
    r = aioredis.Redis.from_url(redis_url)
    await r.flushdb()
    yield r
    await r.aclose()


async def _grant_times(limiter: RedisLimiter, n: int, workers: int) -> list[float]:
    times: list[float] = []

    async def worker() -> None:
        while len(times) < n:
            await limiter.acquire()
            times.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return times


async def test_burst_is_granted_at_once_then_the_rate_holds(client: aioredis.Redis) -> None:
    """A burst of B goes immediately; after it, grants follow the configured rate."""
    limiter = RedisLimiter(client, rate=50, burst=10, name="t1")
    start = time.monotonic()
    times = await _grant_times(limiter, 40, workers=8)
    burst_done = sorted(times)[9] - start
    total = max(times) - start
    assert burst_done < 0.15
    # 30 more grants at 50/s take ~0.6 s; allow scheduling noise but not double speed.
    assert 0.5 <= total <= 1.2


async def test_two_limiters_share_one_budget(client: aioredis.Redis) -> None:
    """Two limiters with the same name together stay at the one shared rate."""
    a = RedisLimiter(client, rate=40, burst=1, name="shared")
    b = RedisLimiter(client, rate=40, burst=1, name="shared")
    start = time.monotonic()
    ta, tb = await asyncio.gather(_grant_times(a, 20, 4), _grant_times(b, 20, 4))
    elapsed = max(ta + tb) - start
    # 40 grants at 40/s with burst 1 need ~0.975 s; two independent budgets would need half.
    assert elapsed >= 0.9


async def test_a_429_pause_holds_every_limiter(client: aioredis.Redis) -> None:
    """on_throttled on one worker pauses the others for the Retry-After period."""
    a = RedisLimiter(client, rate=1000, burst=5, name="paused")
    b = RedisLimiter(client, rate=1000, burst=5, name="paused")
    await b.acquire()
    a.on_throttled(0.4)
    await a.aclose()  # waits for the pause write to land in Redis
    start = time.monotonic()
    await b.acquire()
    assert time.monotonic() - start >= 0.35


async def test_a_pause_is_extended_never_shortened(client: aioredis.Redis) -> None:
    """A shorter Retry-After does not cut a longer pause that is already in force."""
    a = RedisLimiter(client, rate=1000, name="extend")
    a.on_throttled(1.0)
    a.on_throttled(0.1)
    await a.aclose()
    assert await client.pttl("extend:pause") > 800


async def test_redis_down_raises_instead_of_sending_unmetered() -> None:
    """With Redis unreachable, acquire raises LimiterUnavailableError (never grants)."""
    limiter = RedisLimiter(f"redis://127.0.0.1:{_free_port()}/0", rate=10, name="down")
    with pytest.raises(LimiterUnavailableError, match="not sending unmetered"):
        await limiter.acquire()
    await limiter.aclose()


def test_repr_hides_the_redis_url_password() -> None:
    """The limiter's repr never shows the Redis URL (it may hold a password)."""
    limiter = RedisLimiter("redis://:s3cret-canary@127.0.0.1:1/0", rate=5, name="acct")
    assert "s3cret-canary" not in repr(limiter)
    assert "acct" in repr(limiter)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (5, 0)])
def test_invalid_settings_are_refused(rate: float, burst: int) -> None:
    """A non-positive or infinite rate and a burst below 1 raise ValueError."""
    with pytest.raises(ValueError, match="must be"):
        RedisLimiter("redis://127.0.0.1:1/0", rate=rate, burst=burst)


def _process_grants(url: str, rate: float, seconds: float, out: Path) -> None:
    async def run() -> None:
        limiter = RedisLimiter(url, rate=rate, burst=4, name="multi")
        stamps: list[float] = []
        end = time.time() + seconds

        async def worker() -> None:
            while time.time() < end:
                await limiter.acquire()
                stamps.append(time.time())

        await asyncio.gather(*(worker() for _ in range(16)))
        await limiter.aclose()
        out.write_text("\n".join(f"{s:.6f}" for s in stamps))

    asyncio.run(run())


def test_four_processes_together_keep_the_shared_rate(redis_url: str, tmp_path: Path) -> None:
    """4 processes x 16 workers granted together stay within 0.9-1.05 of the shared rate."""
    rate, seconds = 200.0, 3.0
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"p{i}.txt" for i in range(4)]
    procs = [ctx.Process(target=_process_grants, args=(redis_url, rate, seconds, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stamps = sorted(float(x) for o in outs for x in o.read_text().split())
    assert all(len(o.read_text().split()) > 0 for o in outs), "every process got slots"
    # Measure over the steady middle: skip the first and last half second (start-up skew).
    lo, hi = stamps[0] + 0.5, stamps[-1] - 0.5
    window = [s for s in stamps if lo <= s <= hi]
    achieved = len(window) / (hi - lo)
    assert 0.9 * rate <= achieved <= 1.05 * rate, achieved
