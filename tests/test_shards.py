"""Issue #6: 4 processes import shards of one file through one Redis-shared limit and pause."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from customer_sdk.cli import redis_budget_name
from customer_sdk.sandbox import Sandbox
from tests._helpers import REDIS_SERVER, sandbox_env, start_import, write_csv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        REDIS_SERVER is None,
        reason="redis-server is not installed (.ci/run installs it with apt-get)",
    ),
]
LIMIT = 200.0  # the server's (and the shared client's) requests per second
ROWS = 1800
SHARDS = 4


def _write_rows(path: Path) -> list[str]:
    """ROWS keyed rows, then one keyless row; returns the keys."""
    keys = [f"shard-{i:05d}" for i in range(ROWS)]
    rows = [{"external_key": k, "company": f"Shard Test {i} AB"} for i, k in enumerate(keys)]
    # A keyless row: it belongs to a shard by its line number, and still lands exactly once.
    rows.append({"external_key": "", "company": "No Key Ltd"})
    write_csv(path, ["external_key", "company"], rows)
    return keys


async def _shard(i: int, src: Path, tmp: Path, sb: Sandbox, url: str) -> asyncio.subprocess.Process:
    """Start shard ``i`` of the import of ``src``, sharing ``url``'s Redis budget."""
    return await start_import(
        sb,
        src,
        "--redis",
        url,
        "--rate",
        str(LIMIT),
        # A small shared burst absorbs the scheduling lateness of each grant (with burst 1 a
        # late grant is a lost slot); the server's own burst is larger still.
        "--burst",
        "5",
        "--shard",
        f"{i}/{SHARDS}",
        "--concurrency",
        "16",
        "--journal",
        str(tmp / f"shard{i}.db"),
        "--quiet",
    )


async def test_four_shards_share_one_rate_and_one_429_pause(redis_url: str, tmp_path: Path) -> None:
    """Together at 0.9-1.05 x the limit, <= 1 % 429s, each row once, and a 429 pauses all."""
    keys = _write_rows(tmp_path / "rows.csv")
    # The server allows a small burst so that jitter between the shared grant and the arrival
    # is absorbed; the clients are paced at exactly the limit.
    async with Sandbox(rate=LIMIT, burst=20) as sb:
        redis = aioredis.Redis.from_url(redis_url)
        pause_key = f"{redis_budget_name(sandbox_env(sb))}:pause"
        try:
            await redis.set(pause_key, "1", px=300)
            procs = [
                await _shard(i, tmp_path / "rows.csv", tmp_path, sb, redis_url) for i in range(4)
            ]
            # Hold all four at the starting line with the shared pause (what a 429 sets) until
            # each has connected to Redis: on a busy machine one may start a second later.
            while len(await redis.client_list()) < 1 + SHARDS:
                await redis.set(pause_key, "1", px=300)
                await asyncio.sleep(0.1)
        finally:
            await redis.aclose()
        released = time.monotonic() + 0.3
        # Once the run is steady, one create (of whichever process) gets a 429 Retry-After: 2.
        while sb.counters["create"] < ROWS // 2:
            await asyncio.sleep(0.05)
        sb.set_faults("create:script=429@2")
        results = [await asyncio.wait_for(p.communicate(), 90) for p in procs]
        audit = list(sb.audit)
        stored = Counter(c["external_key"] for c in sb.customers.values())
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    # 0 lost, 0 duplicates across the four shards (the keyless row included).
    assert sorted(k for k in stored if k) == keys
    assert set(stored.values()) == {1}
    assert sum(1 for c in sb.customers.values() if c["company"] == "No Key Ltd") == 1
    # Every shard did its part, and the parts add up to the file.
    done = []
    for out, _ in results:
        created = re.search(rb"created\s+([\d,]+)", out)
        existed = re.search(rb"already existed\s+([\d,]+)", out)
        recovered = re.search(rb"recovered \(ours, reply lost\)\s+([\d,]+)", out)
        assert created
        assert existed
        assert recovered
        done.append(sum(int(m[1].replace(b",", b"")) for m in (created, existed, recovered)))
    assert min(done) > ROWS // 8
    assert sum(done) == ROWS + 1

    fault = [e for e in audit if e.fault == "429@2"]
    assert len(fault) == 1
    paused_at = fault[0].time
    times = sorted(e.time for e in audit)
    # The pause is seen by all: requests granted before the pause landed in Redis may still
    # arrive just after it; then nobody sends until the 2 s are (nearly) over.
    during = [t for t in times if paused_at + 0.3 < t < paused_at + 1.9]
    assert during == [], len(during)

    # The shared rate over the steady window: from just after the common start to the
    # injected 429. A rate-limit 429 of the server (Retry-After: 1) pauses everyone for 1 s,
    # which is right, so that second is not counted as time the budget was available.
    limited = [e.time for e in audit if e.status == 429 and e.fault is None]
    assert len(limited) <= 0.01 * len(audit), (len(limited), len(audit))
    lo, hi = released + 0.5, paused_at - 0.1
    assert hi - lo > 2.0, "the steady window is too short to measure"
    paused = [(t, min(t + 1.0, hi)) for t in limited if lo <= t < hi]
    available = (hi - lo) - sum(end - start for start, end in paused)
    window = [t for t in times if lo <= t <= hi and not any(a < t < b for a, b in paused)]
    achieved = len(window) / available
    per_half_second = Counter(int((t - lo) * 2) for t in window)
    shape = [per_half_second[i] for i in range(max(per_half_second) + 1)]
    assert 0.9 * LIMIT <= achieved <= 1.05 * LIMIT, (achieved, shape)
