"""P8: an import at the account's limit over a real network (a round trip of 100 ms).

The sandbox runs in its own process with a token bucket of L requests/s (bucket L/10, 429s
with ``Retry-After``), behind :mod:`benchmarks._latency_proxy` adding ``--rtt`` to every round
trip. Settings, in interleaved rounds, each for a fixed number of seconds of input:

- ``default``: ``create_many(rows)``, the defaults of ``customer-sdk import`` too: adaptive
  concurrency, adaptive rate;
- ``concurrency=16`` (the old default: 16 in flight, adaptive rate), for context;
- ``rate=L``: the limit given, concurrency adaptive.

Figures from the sandbox's audit log (:func:`benchmarks.bench_ratelimit.figures`): achieved =
successes per second from the first request to the last success, as a share of L; the 429
share of all requests. The job's in-flight limit at its end is shown too.

Run: ``python -m benchmarks.bench_latency [--limit 300] [--rtt 0.1] [--seconds 20] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from benchmarks._latency_proxy import latency_proxy
from benchmarks._procs import SandboxProcess
from benchmarks._rounds import Outcome, interleave
from benchmarks.bench_ratelimit import figures


def settings(limit: float) -> dict[str, dict[str, Any]]:
    """The client settings compared (``create_many`` options)."""
    return {"default": {}, "concurrency=16": {"concurrency": 16}, "rate=L": {"rate": limit}}


async def run(
    limit: float, rtt: float, seconds: float, rounds: int, burst: int
) -> dict[str, Outcome]:
    """Every setting, ``rounds`` times, against one rate-limited sandbox behind the proxy."""
    with SandboxProcess(rate=limit, burst=burst) as sb, latency_proxy(sb.base_url, rtt) as url:
        return await interleave(
            url,
            (sb.username, sb.password),
            settings(limit),
            seconds=seconds,
            rounds=rounds,
            mark=lambda: int(sb.call("audit_len")),
            audit=lambda start: list(sb.call("audit", start=start)),
            reduce=lambda records: figures(records, limit),
            rest=burst / limit + 1.0,
        )


def print_table(got: dict[str, Outcome], limit: float, header: str, targets: str) -> None:
    """The Markdown table of P8 and P9: achieved vs L (and vs `rate=L`), 429 share."""
    print(header + "\n")
    print(
        "| client setting | requests | achieved | vs L (each round) | vs `rate=L` in its round "
        "| 429s | in flight at end |\n|---|---|---|---|---|---|---|"
    )
    # The machine is shared: a round's `rate=L` run shows what it allowed then.
    reference = got["rate=L"].figures
    for name, out in got.items():
        requests = sum(f.requests for f in out.figures)
        throttled = sum(f.throttled for f in out.figures)
        achieved = out.mean(lambda f: f.achieved)
        versus = [f.achieved / r.achieved for f, r in zip(out.figures, reference, strict=True)]
        print(
            f"| `{name}` | {requests:,} | {achieved:.1f}/s | {achieved / limit:.2f} "
            f"({out.spread(lambda f: f.achieved / limit)}) "
            f"| {' / '.join(f'{v:.2f}' for v in versus)} | {throttled / requests:.1%} "
            f"| {' / '.join(map(str, out.in_flight))} |"
        )
    print(f"\n({targets})")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=float, default=300.0, help="server limit L, requests/s")
    parser.add_argument("--rtt", type=float, default=0.1, help="added round trip, seconds")
    parser.add_argument("--seconds", type=float, default=20.0, help="input seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    burst = max(1, round(args.limit / 10))
    got = asyncio.run(run(args.limit, args.rtt, args.seconds, args.rounds, burst))
    print_table(
        got,
        args.limit,
        f"Sandbox limit L = {args.limit:g} requests/s (bucket {burst}, Retry-After in seconds) "
        f"behind a proxy adding {args.rtt * 1000:g} ms per round trip; {args.seconds:g} s of "
        f"input per run; {args.rounds} interleaved round(s).",
        "targets: `default` >= 0.85 L with <= 2 % 429s; `rate=L` >= 0.95 L",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
