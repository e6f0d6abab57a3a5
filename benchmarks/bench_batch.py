"""P3: ``_bulk`` batching (batch_size=25) against one create per request, under a server limit.

The sandbox runs in its own process with a token-bucket limit of L requests/s (shared by every
client, like ChargeOver's account limit). The same ``create_many`` job runs twice per round:
once with ``batch_size=25`` (``POST /api/v3/_bulk``), once with ``batch_size=1`` (one
``POST /api/v3/customer`` per row), both with the client configured for the known limit
(``rate=L``), for the same number of seconds of input; the order alternates each round.
Requests, 429s and stored rows are the sandbox's own counters. A second table repeats the
comparison on the canned server without any limit, where batching can only save client CPU.

Run: ``python -m benchmarks.bench_batch [--limit 50] [--seconds 8] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from benchmarks._canned import canned_server
from benchmarks._jobs import JobRun, rows_for, run_job
from benchmarks._procs import SandboxProcess
from benchmarks.bench_create import PASSWORD, USER
from customer_sdk import ChargeOverClient

MODES = {"batch_size=25 (_bulk)": 25, "batch_size=1": 1}


async def limited(
    limit: float, burst: int, seconds: float, rounds: int, concurrency: int
) -> dict[str, list[tuple[JobRun, dict[str, int]]]]:
    """Both modes against the rate-limited sandbox; per mode, (client view, server deltas)."""
    out: dict[str, list[tuple[JobRun, dict[str, int]]]] = {m: [] for m in MODES}
    serial = 0
    with SandboxProcess(rate=limit, burst=burst) as sb:
        async with ChargeOverClient(
            sb.base_url, username=sb.username, password=sb.password
        ) as client:
            names = list(MODES)
            for r in range(rounds):
                for mode in names[r % 2 :] + names[: r % 2]:
                    before = sb.call("counters")
                    run = await run_job(
                        client,
                        rows_for(seconds, serial),
                        batch_size=MODES[mode],
                        concurrency=concurrency,
                        rate=limit,
                    )
                    after = sb.call("counters")
                    serial += run.rows
                    delta = {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in after}
                    if delta.get("committed", 0) != run.outcomes.get("created", 0):
                        raise RuntimeError(f"{mode}: server {delta}, client {run.outcomes}")
                    out[mode].append((run, delta))
                    # Let the server's bucket refill so the next run starts like this one did.
                    await asyncio.sleep(burst / limit + 0.5)
    return out


async def unlimited(rows: int, rounds: int, concurrency: int) -> dict[str, list[JobRun]]:
    """Both modes against the canned server (no limit): client-side cost only."""
    out: dict[str, list[JobRun]] = {m: [] for m in MODES}
    with canned_server() as base:
        async with ChargeOverClient(base, username=USER, password=PASSWORD) as client:
            names = list(MODES)
            await run_job(client, rows_for(60, 0, rows // 5), concurrency=concurrency)  # warm up
            for r in range(rounds):
                for mode in names[r % 2 :] + names[: r % 2]:
                    run = await run_job(
                        client,
                        rows_for(600, 0, rows),
                        batch_size=MODES[mode],
                        concurrency=concurrency,
                    )
                    if run.outcomes.get("created", 0) != rows:
                        raise RuntimeError(f"{mode} on canned: {run.outcomes}")
                    out[mode].append(run)
    return out


def _ratio_rows_per_s(runs: dict[str, list[JobRun]]) -> float:
    """Median over rounds of (batched rows/s) / (single rows/s), pairing runs by round."""
    batched, single = runs["batch_size=25 (_bulk)"], runs["batch_size=1"]
    return statistics.median(
        (b.rows / b.wall) / (s.rows / s.wall) for b, s in zip(batched, single, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=float, default=50.0, help="server limit L, requests/s")
    parser.add_argument("--burst", type=int, default=10, help="server bucket size")
    parser.add_argument("--seconds", type=float, default=8.0, help="input duration per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--canned-rows", type=int, default=20_000)
    args = parser.parse_args(argv)

    got = asyncio.run(limited(args.limit, args.burst, args.seconds, args.rounds, args.concurrency))
    print(
        f"Sandbox limit L = {args.limit:g} requests/s (bucket {args.burst}); client `rate=L`, "
        f"concurrency {args.concurrency}; {args.seconds:g} s of input per run, "
        f"rounds: {args.rounds}.\n"
    )
    print(
        "| mode | rows stored | requests | rows/request | 429s | rows/s (median) | spread |\n"
        "|---|---|---|---|---|---|---|"
    )
    per_request: dict[str, float] = {}
    client_view: dict[str, list[JobRun]] = {}
    for mode, runs in got.items():
        stored = sum(d.get("committed", 0) for _, d in runs)
        requests = sum(d.get("requests", 0) for _, d in runs)
        throttled = sum(d.get("throttled", 0) for _, d in runs)
        rps = [run.rows / run.wall for run, _ in runs]
        per_request[mode] = stored / requests
        client_view[mode] = [run for run, _ in runs]
        print(
            f"| {mode} | {stored:,} | {requests:,} | {stored / requests:.1f} | {throttled:,} "
            f"| {statistics.median(rps):,.1f} | {min(rps):,.1f}-{max(rps):,.1f} |"
        )
    fewer = per_request["batch_size=25 (_bulk)"] / per_request["batch_size=1"]
    print(
        f"\nrequests per row: {fewer:.1f}x fewer with batching (target >= 20x); "
        f"rows/s: {_ratio_rows_per_s(client_view):.1f}x (target >= 5x)"
    )

    canned = asyncio.run(unlimited(args.canned_rows, args.rounds + 1, args.concurrency))
    print(
        f"\nNo limit (canned server, {args.canned_rows:,} rows per run, "
        f"rounds: {args.rounds + 1}):\n\n"
        "| mode | HTTP requests | rows/s (median) | spread |\n|---|---|---|---|"
    )
    for mode, jobs in canned.items():
        rps = [job.rows / job.wall for job in jobs]
        print(
            f"| {mode} | {jobs[0].http_requests:,} | {statistics.median(rps):,.0f} "
            f"| {min(rps):,.0f}-{max(rps):,.0f} |"
        )
    print(f"\nrows/s with batching on the canned server: {_ratio_rows_per_s(canned):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
