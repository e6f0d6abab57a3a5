"""P9: finding a limit that sends no ``Retry-After``: nginx ``limit_req`` (loopback).

nginx (:mod:`benchmarks._nginx`, its own process and config) limits every request to L per
second (``burst`` L/10, ``nodelay``) and answers the rest 429 without ``Retry-After``; the
requests it lets through get a canned 201. Settings, in interleaved rounds, each for a fixed
number of seconds of input: ``default`` (``create_many(rows)``: adaptive concurrency and rate,
as ``customer-sdk import``) and, for reference, ``rate=L``.

Figures from nginx's access log (:func:`benchmarks.bench_ratelimit.figures`): achieved =
successes per second from the first request to the last success, against L; the 429 share of
all requests.

Run: ``python -m benchmarks.bench_nginx [--limit 300] [--seconds 20] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks._nginx import nginx_limit
from benchmarks._rounds import Outcome, interleave
from benchmarks.bench_latency import print_table
from benchmarks.bench_ratelimit import figures


async def run(limit: int, seconds: float, rounds: int, burst: int) -> dict[str, Outcome]:
    """Both settings, ``rounds`` times, against one nginx."""
    with nginx_limit(limit, burst) as server:
        return await interleave(
            server.base_url,
            ("bench", "bench"),
            {"default": {}, "rate=L": {"rate": float(limit)}},
            seconds=seconds,
            rounds=rounds,
            mark=server.mark,
            audit=server.audit,
            reduce=lambda records: figures(records, limit),
            rest=burst / limit + 1.0,
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=300, help="nginx's rate L, requests/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="input seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    burst = max(1, args.limit // 10)
    got = asyncio.run(run(args.limit, args.seconds, args.rounds, burst))
    print_table(
        got,
        args.limit,
        f"nginx `limit_req` rate={args.limit}r/s burst={burst} nodelay, 429 without "
        f"Retry-After, canned 201 behind it; loopback; {args.seconds:g} s of input per run; "
        f"{args.rounds} interleaved round(s).",
        "targets: `default` <= 3 % 429s (and near L)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
