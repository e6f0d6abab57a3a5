"""P10: background 429s (another client sharing the account) are not taken for a limit.

One sandbox in its own process, loopback, default ``create_many`` flags (adaptive concurrency
and rate). Settings, in interleaved rounds, each for a fixed number of seconds of input:

- ``no 429s``: no limit, no faults: the unthrottled rate (the baseline);
- ``random 429s``: no limit, but ``--noise`` of the creates answered 429 at random, without
  ``Retry-After`` (the sandbox fault ``429@none``), whatever the rate;
- ``limit L + random 429s``: the same noise under a real limit L (bucket L/10, Retry-After):
  the limit must still be found (>= 0.8 L within 30 s, as P4).

Figures from the sandbox's audit log (:func:`benchmarks.bench_ratelimit.figures`). The first
two are compared as a ratio within each round; the third against L.

Run: ``python -m benchmarks.bench_noise [--noise 0.025] [--limit 200] [--seconds 15]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from benchmarks._procs import SandboxProcess
from benchmarks._rounds import Outcome, interleave
from benchmarks.bench_ratelimit import figures

CLEAN, NOISY, LIMITED = "no 429s", "random 429s", "limit L + random 429s"


async def run(noise: float, limit: float, seconds: float, rounds: int) -> dict[str, Outcome]:
    """Every setting, ``rounds`` times, against one sandbox reconfigured before each run."""
    burst = max(1, round(limit / 10))
    spec = f"create:429@none={noise}"
    with SandboxProcess() as sb:

        def prepare(name: str) -> None:
            sb.call("set_faults", faults=None if name == CLEAN else spec)
            sb.call("set_rate", rate=limit if name == LIMITED else None, burst=burst)

        return await interleave(
            sb.base_url,
            (sb.username, sb.password),
            {CLEAN: {}, NOISY: {}, LIMITED: {}},
            seconds=seconds,
            rounds=rounds,
            mark=lambda: int(sb.call("audit_len")),
            audit=lambda start: list(sb.call("audit", start=start)),
            reduce=lambda records: figures(records, limit),
            rest=burst / limit + 1.0,
            prepare=prepare,
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--noise", type=float, default=0.025, help="share of random 429s")
    parser.add_argument("--limit", type=float, default=200.0, help="L of the third setting")
    parser.add_argument("--seconds", type=float, default=15.0, help="input seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    got = asyncio.run(run(args.noise, args.limit, args.seconds, args.rounds))
    limit = args.limit
    print(
        f"Sandbox on loopback; random 429s (no Retry-After) on {args.noise:.1%} of creates; "
        f"L = {limit:g}/s for the third setting; default `create_many` flags; "
        f"{args.seconds:g} s of input per run; {args.rounds} interleaved round(s).\n"
    )
    print(
        "| setting | requests | achieved | ratio (each round) | 429s | in flight at end "
        "| time to 0.8 L |\n|---|---|---|---|---|---|---|"
    )
    clean = got[CLEAN].figures
    for name, out in got.items():
        requests = sum(f.requests for f in out.figures)
        throttled = sum(f.throttled for f in out.figures)
        achieved = out.mean(lambda f: f.achieved)
        if name == LIMITED:
            ratios = [f.achieved / limit for f in out.figures]
            base = "vs L"
            reach = " / ".join(
                f"{f.reach:.1f} s" if f.reach is not None else "no" for f in out.figures
            )
        else:
            ratios = [f.achieved / c.achieved for f, c in zip(out.figures, clean, strict=True)]
            base = f"vs `{CLEAN}`"
            reach = "-"
        each = " / ".join(f"{r:.2f}" for r in ratios)
        print(
            f"| `{name}` | {requests:,} | {achieved:.1f}/s | {statistics.fmean(ratios):.2f} "
            f"{base} ({each}) | {throttled / requests:.1%} "
            f"| {' / '.join(map(str, out.in_flight))} | {reach} |"
        )
    print(
        f"\n(targets: `{NOISY}` >= 0.7 of `{CLEAN}`; `{LIMITED}` >= 0.8 L within 30 s; the 429 "
        "share of the noisy runs includes the noise itself)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
