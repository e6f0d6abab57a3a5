"""P4: how much of a server's rate limit L a ``create_many`` job achieves, and how many 429s.

The sandbox runs in its own process with a token bucket of L requests/s (and a small bucket).
Three client settings run one after another, each for a fixed number of seconds of input:

- ``rate=L``: the client knows the limit (its own token bucket);
- ``adaptive=True``: the client does not know the limit and has to find it from the 429s
  (``create_many``'s default when no rate is given);
- for context, a client given a limiter of its own with no rate (:class:`RetryAfterOnly`),
  which then governs the job alone: only each 429's Retry-After pauses every worker.

The figures come from the sandbox's audit log of that run (arrival times on the machine-wide
monotonic clock, the status sent): achieved rate = successful requests per second between the
run's first request and its last success; the 429 share of all requests; the time from the
first request to the start of the first 5-second window whose success rate is at least 0.8 L
(a window, not an instant: a limiter that probes and backs off has a sawtooth of a few
seconds); the rate over the last 10 seconds; and the successes in every second. The baseline
is L itself.

Run: ``python -m benchmarks.bench_ratelimit [--limit 50] [--seconds 20] [--adaptive-seconds 45]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

import attrs

from benchmarks._jobs import JobRun, rows_for, run_job
from benchmarks._procs import SandboxProcess
from customer_sdk import ChargeOverClient, Limiter, PauseGate

WINDOW = 5.0  # seconds: longer than the sawtooth of a limiter that probes and backs off


@attrs.frozen
class Figures:
    """What one run achieved, from the server's audit log."""

    requests: int
    successes: int
    throttled: int
    achieved: float  # successes/s from the first request to the last success
    reach: float | None  # seconds until the first WINDOW-second window at >= 0.8 L successes/s
    tail: float  # successes/s over the last 10 s (or the whole run if shorter)
    tail_throttled: float  # 429 share over the same window
    per_second: list[tuple[int, int]]  # (successes, 429s) in each second from the first request


def figures(audit: list[list[Any]], limit: float) -> Figures:
    """Reduce one run's audit entries ``[time, kind, status, committed]`` to its figures."""
    if not audit:
        raise RuntimeError("the run sent no request")
    t0 = audit[0][0]
    ok = [t - t0 for t, _kind, status, _c in audit if status is not None and 200 <= status < 300]
    throttled = sum(1 for e in audit if e[2] == 429)
    if len(ok) < 2:
        raise RuntimeError(f"only {len(ok)} successful requests in the run")
    achieved = (len(ok) - 1) / ok[-1]
    reach = None
    j = 0
    for i, t in enumerate(ok):  # the window [t, t + WINDOW) starting at each success
        j = max(j, i)
        while j < len(ok) and ok[j] < t + WINDOW:
            j += 1
        if (j - i) / WINDOW >= 0.8 * limit:
            reach = t
            break
        if t + WINDOW > ok[-1]:
            break  # the remaining windows run past the end of the run
    end = audit[-1][0] - t0
    start = max(0.0, end - 10.0)
    tail_ok = sum(1 for t in ok if t > start)
    tail_all = [e for e in audit if e[0] - t0 > start]
    per_second = [(0, 0) for _ in range(int(end) + 1)]
    for t, _kind, status, _c in audit:
        ok_n, thr_n = per_second[int(t - t0)]
        ok_ = status is not None and 200 <= status < 300
        per_second[int(t - t0)] = (ok_n + ok_, thr_n + (status == 429))
    return Figures(
        per_second=per_second,
        requests=len(audit),
        successes=len(ok),
        throttled=throttled,
        achieved=achieved,
        reach=reach,
        tail=tail_ok / (end - start) if end > start else 0.0,
        tail_throttled=sum(1 for e in tail_all if e[2] == 429) / max(1, len(tail_all)),
    )


class RetryAfterOnly(PauseGate):
    """A client limiter with no rate: only the shared pause after a 429.

    ``create_many`` adds an adaptive limiter of its own only while the client has the default
    :class:`~customer_sdk.PauseGate`; a limiter the caller chose, even one that behaves the
    same, governs alone. This subclass is that choice, so the job runs with no rate at all.
    """


# name -> (ChargeOverClient options, create_many options); "L" stands for the limit.
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "rate=L": ({}, {"rate": "L"}),
    "adaptive=True": ({}, {"adaptive": True}),
    "no rate (Retry-After pauses only)": ({"limiter": "RetryAfterOnly"}, {}),
}


async def run_all(
    limit: float, burst: int, durations: dict[str, float], concurrency: int
) -> dict[str, tuple[JobRun, Figures]]:
    """Each client setting in turn against one rate-limited sandbox."""
    out: dict[str, tuple[JobRun, Figures]] = {}
    serial = 0
    with SandboxProcess(rate=limit, burst=burst) as sb:
        for name, seconds in durations.items():
            client_options, job_options = SETTINGS[name]
            options = {k: (limit if v == "L" else v) for k, v in job_options.items()}
            limiter: Limiter | None = RetryAfterOnly() if client_options.get("limiter") else None
            # A fresh client per setting: a limiter's state must not carry over.
            async with ChargeOverClient(
                sb.base_url, username=sb.username, password=sb.password, limiter=limiter
            ) as client:
                mark = sb.call("audit_len")
                run = await run_job(
                    client, rows_for(seconds, serial), concurrency=concurrency, **options
                )
                serial += run.rows
                audit = sb.call("audit", start=mark)
            out[name] = (run, figures(audit, limit))
            await asyncio.sleep(burst / limit + 1.0)  # the server's bucket refills
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=float, default=50.0, help="server limit L, requests/s")
    parser.add_argument("--burst", type=int, default=10, help="server bucket size")
    parser.add_argument("--seconds", type=float, default=20.0, help="input seconds, rate=L")
    parser.add_argument("--adaptive-seconds", type=float, default=45.0)
    parser.add_argument("--no-rate-seconds", type=float, default=15.0, help="0 to skip")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    # The SDK logs each throttled attempt at WARNING; the counts are in the table instead.
    logging.getLogger("customer_sdk").addHandler(logging.NullHandler())
    durations = {"rate=L": args.seconds, "adaptive=True": args.adaptive_seconds}
    if args.no_rate_seconds > 0:
        durations["no rate (Retry-After pauses only)"] = args.no_rate_seconds
    got = asyncio.run(run_all(args.limit, args.burst, durations, args.concurrency))
    limit = args.limit
    print(
        f"Sandbox limit L = {limit:g} requests/s (bucket {args.burst}, Retry-After in seconds); "
        f"concurrency {args.concurrency}; one run per setting.\n"
    )
    print(
        "| client setting | seconds of input | requests | achieved | vs L | 429s "
        "| time to 0.8 L (5 s window) | last 10 s: rate (vs L), 429s |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for name, (_run, f) in got.items():
        reach = f"{f.reach:.1f} s" if f.reach is not None else "not reached"
        print(
            f"| `{name}` | {durations[name]:g} | {f.requests:,} | {f.achieved:.1f}/s "
            f"| {f.achieved / limit:.2f} | {f.throttled / f.requests:.1%} | {reach} "
            f"| {f.tail:.1f}/s ({f.tail / limit:.2f}), {f.tail_throttled:.1%} |"
        )
    print(
        "\n(targets: `rate=L` >= 0.95 L achieved with <= 1 % 429s; "
        "`adaptive=True` >= 0.8 L within 30 s)\n\n"
        "Successes per second from the first request (`/n`: n 429s in that second):\n"
    )
    for name, (_run, f) in got.items():
        cells = " ".join(f"{ok}/{thr}" if thr else str(ok) for ok, thr in f.per_second)
        print(f"- `{name}`: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
