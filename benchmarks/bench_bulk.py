"""P2: ``create_many`` over 10k, 100k and 1M generated rows against a raw aiohttp worker pool.

Both sides read the rows from a generator (never a list), keep the same number of requests in
flight against the same canned loopback server (its own process), and count every answer. The
baseline is what a careful user writes by hand: N workers pulling from a bounded queue, json in
and out. Every (implementation, size) run is a fresh interpreter, so its peak RSS
(its own ``VmHWM``, read at its end) belongs to that run alone; the sizes and implementations are
interleaved and the order rotates each round. Reported: median rows/s with the spread, the
median of the per-round ratios to the raw pool, CPU per row and peak RSS, and the growth of the
peak RSS from the smallest to the largest size.

Run: ``python -m benchmarks.bench_bulk [--sizes 10000 100000 1000000] [--rounds 3 2 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

from benchmarks._canned import canned_server
from benchmarks._procs import Measured, print_result, run_measured, vm_hwm_mb
from benchmarks.bench_create import PASSWORD, USER, payload

IMPLS = ("raw pool", "create_many")


def rows(n: int) -> Iterator[dict[str, Any]]:
    """``n`` distinct customers, generated one at a time."""
    return (payload(i) for i in range(n))


async def raw_pool(base: str, n: int, concurrency: int) -> int:
    """The baseline: ``concurrency`` workers pulling rows from a bounded queue; returns created."""
    url = base + "/api/v3/customer"
    headers = {
        "Content-Type": "application/json",
        "Authorization": aiohttp.encode_basic_auth(USER, PASSWORD),
    }
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)
    created = 0

    async def feed() -> None:
        for row in rows(n):
            await queue.put(row)
        for _ in range(concurrency):
            await queue.put(None)

    async def work(session: aiohttp.ClientSession) -> None:
        nonlocal created
        while (row := await queue.get()) is not None:
            async with session.post(
                url, data=json.dumps(row), headers=headers, allow_redirects=False
            ) as resp:
                body = json.loads(await resp.read())
                if resp.status == 201 and body["response"]["id"]:
                    created += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(feed(), *(work(session) for _ in range(concurrency)))
    return created


async def sdk(base: str, n: int, concurrency: int) -> int:
    """``client.customers.create_many`` over the same generator; returns created."""
    from customer_sdk import ChargeOverClient, RowOutcome

    outcomes: collections.Counter[str] = collections.Counter()
    async with (
        ChargeOverClient(
            base, username=USER, password=PASSWORD, max_connections=concurrency
        ) as client,
        client.customers.create_many(rows(n), concurrency=concurrency) as job,
    ):
        async for result in job:
            outcomes[result.outcome] += 1
    if outcomes[RowOutcome.CREATED] != n:
        raise RuntimeError(f"create_many outcomes: {dict(outcomes)}")
    return n


def child(impl: str, base: str, n: int, concurrency: int) -> None:
    """Run one implementation once in this (fresh) process and print its timing."""
    run = raw_pool if impl == "raw pool" else sdk
    if run is sdk:
        # Imported before the clock starts, as aiohttp is for the raw pool: import time is P5's
        # subject, and ~40 ms of it would otherwise weigh ~4 us on every row of a 10k run.
        import customer_sdk  # noqa: F401
    wall, cpu = time.perf_counter(), time.process_time()
    created = asyncio.run(run(base, n, concurrency))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if created != n:
        raise RuntimeError(f"{impl}: {created} of {n} rows created")
    print_result({"wall": wall, "cpu": cpu, "peak_rss_mb": vm_hwm_mb()})


def measure(impl: str, base: str, n: int, concurrency: int) -> Measured:
    """One fresh-process run of ``impl`` over ``n`` rows."""
    got = run_measured(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_bulk",
            "--child",
            impl,
            "--base",
            base,
            "--sizes",
            str(n),
            "--concurrency",
            str(concurrency),
        ]
    )
    if got.returncode != 0 or not got.result:
        raise RuntimeError(f"{impl} over {n} rows failed:\n{got.stderr[-3000:]}")
    return got


HEADER = (
    "| rows | client | rows/s (median) | spread | vs raw pool | CPU/row (vs raw) | peak RSS |\n"
    "|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, nargs="+", default=[3, 2, 1], help="per size")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.base, args.sizes[0], args.concurrency)
        return 0
    rounds = dict(zip(args.sizes, args.rounds + [1] * len(args.sizes), strict=False))
    runs: dict[tuple[int, str], list[Measured]] = collections.defaultdict(list)
    ratios: dict[int, list[float]] = collections.defaultdict(list)
    # Round r visits every size; within a size the order of the implementations rotates. Each
    # (round, size) pair gets a fresh canned server, so no run meets a server aged by the
    # million requests of the runs before it (a control, not a cure: the occasional slow 1M
    # round is the machine's, benchmarks/README.md "The 1M-row figure").
    for r in range(max(rounds.values())):
        for n in args.sizes:
            if r >= rounds[n]:
                continue
            order = IMPLS[r % 2 :] + IMPLS[: r % 2]
            with canned_server() as base:
                got = {impl: measure(impl, base, n, args.concurrency) for impl in order}
            for impl, m in got.items():
                runs[n, impl].append(m)
            ratios[n].append(got["raw pool"].result["wall"] / got["create_many"].result["wall"])
    print(HEADER)
    for n in args.sizes:
        for impl in IMPLS:
            ms = runs[n, impl]
            rps = [n / m.result["wall"] for m in ms]
            ratio = statistics.median(ratios[n]) if impl == "create_many" else 1.0
            cpu = statistics.median(m.result["cpu"] for m in ms) / n * 1e6
            cpu_ratio = cpu / (
                statistics.median(m.result["cpu"] for m in runs[n, IMPLS[0]]) / n * 1e6
            )
            rss = max(m.max_rss_mb for m in ms)
            print(
                f"| {n:,} | {impl} | {statistics.median(rps):,.0f} "
                f"| {min(rps):,.0f}-{max(rps):,.0f} | {ratio:.2f}x "
                f"| {cpu:.0f} us ({cpu_ratio:.2f}x) | {rss:.1f} MB |"
            )
    small, large = min(args.sizes), max(args.sizes)
    print(
        f"\nconcurrency {args.concurrency}; rounds per size: "
        + ", ".join(f"{n:,}: {k}" for n, k in rounds.items())
        + "; peak RSS is the largest of the rounds."
    )
    for impl in IMPLS:
        grow = max(m.max_rss_mb for m in runs[large, impl]) - max(
            m.max_rss_mb for m in runs[small, impl]
        )
        print(f"peak RSS growth {small:,} -> {large:,} rows, {impl}: {grow:+.1f} MB")
    print("(targets: create_many >= 0.9x the raw pool's rows/s; RSS growth <= 20 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
