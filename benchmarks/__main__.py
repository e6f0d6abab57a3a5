"""Run the benchmark suite: ``python -m benchmarks [--quick] [--write] [--only P1 P5]``.

Each benchmark prints a Markdown table of ratios measured in one run against its baseline.
``--write`` replaces, between the ``results`` markers of ``benchmarks/README.md``, the sections of
the benchmarks this run measured (each with its own run line), so the published figures are
always a real run's output.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    bench_batch,
    bench_bulk,
    bench_cli,
    bench_create,
    bench_import,
    bench_instructions,
    bench_journal,
    bench_latency,
    bench_nginx,
    bench_noise,
    bench_ratelimit,
)

README = Path(__file__).with_name("README.md")
START, END = "<!-- results:start -->", "<!-- results:end -->"

Suite = dict[str, tuple[str, Callable[[list[str]], int], list[str], list[str]]]
# name -> (title, main, full argv, quick argv)
SUITE: Suite = {
    "P1": (
        "P1 customers.create() vs raw aiohttp (canned loopback server)",
        bench_create.main,
        ["--concurrency", "1", "16", "64", "256", "--requests", "4000", "--rounds", "7", "--all"],
        ["--concurrency", "1", "64", "--requests", "1500", "--rounds", "3"],
    ),
    "P2": (
        "P2 create_many vs a raw aiohttp worker pool (canned server; peak RSS per size)",
        bench_bulk.main,
        ["--sizes", "10000", "100000", "1000000", "--rounds", "5", "3", "3"],
        ["--sizes", "10000", "100000", "--rounds", "1", "1"],
    ),
    "P1i": (
        "P1i client instructions per create, P1 and P2 (callgrind; noise-free)",
        bench_instructions.main,
        ["--small", "300", "--large", "1200"],
        ["--small", "100", "--large", "300"],
    ),
    "P3": (
        "P3 _bulk batching vs one create per request under a server limit (sandbox)",
        bench_batch.main,
        ["--seconds", "8", "--rounds", "2", "--canned-rows", "20000"],
        ["--seconds", "4", "--rounds", "1", "--canned-rows", "5000"],
    ),
    "P4": (
        "P4 rate-limit efficiency against the sandbox's limiter",
        bench_ratelimit.main,
        ["--seconds", "20", "--adaptive-seconds", "45", "--no-rate-seconds", "15"],
        ["--seconds", "8", "--adaptive-seconds", "36", "--no-rate-seconds", "0"],
    ),
    "P5": (
        "P5 import time vs aiohttp",
        bench_import.main,
        ["--samples", "21"],
        ["--samples", "7"],
    ),
    "P6": (
        "P6 a whole `customer-sdk import` of a generated CSV (subprocess, sandbox, no limit)",
        bench_cli.main,
        ["--rows", "100000", "--variant", "plain", "journal", "batch25"],
        ["--rows", "10000", "--variant", "plain"],
    ),
    "P7": (
        "P7 `customer-sdk import --journal` vs the same import without (keyed and keyless rows)",
        bench_journal.main,
        ["--rows", "40000", "--rounds", "5"],
        ["--rows", "10000", "--rounds", "2"],
    ),
    "P8": (
        "P8 an import at the limit over a 100 ms round trip (sandbox behind a latency proxy)",
        bench_latency.main,
        ["--seconds", "20", "--rounds", "3"],
        ["--seconds", "12", "--rounds", "1"],
    ),
    "P9": (
        "P9 a limit without Retry-After: nginx limit_req (loopback)",
        bench_nginx.main,
        ["--seconds", "20", "--rounds", "3"],
        ["--seconds", "10", "--rounds", "1"],
    ),
    "P10": (
        "P10 random 429s from a shared account vs a real limit (sandbox, loopback)",
        bench_noise.main,
        ["--seconds", "15", "--rounds", "3"],
        ["--seconds", "10", "--rounds", "1"],
    ),
}


def _revision() -> str:
    """The commit measured, and whether the SDK's files differed from it."""
    root = README.parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "customer_sdk"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "commit unknown"
    if not head:
        return "commit unknown"
    return f"commit {head}" + (" with uncommitted changes in customer_sdk/" if dirty else "")


def _merge(old_block: str, fresh: dict[str, str]) -> str:
    """The results block with the freshly run sections replaced, the others kept, in suite order.

    A partial run (``--only P2 --write``) thus refreshes its own tables without discarding the
    rest; each section carries its own run line (date, load, commit), so mixed ages stay visible.
    """
    kept: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=### )", old_block):
        match = re.match(r"### (\S+)", chunk)
        if match:
            kept[match[1]] = chunk.strip()
    kept.update(fresh)
    return "\n\n".join(kept[name] for name in SUITE if name in kept)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print their tables, optionally write them to the README."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    parser.add_argument("--only", nargs="+", choices=sorted(SUITE), default=sorted(SUITE))
    args = parser.parse_args(argv)
    fresh: dict[str, str] = {}
    started = time.monotonic()
    for name in args.only:
        title, run, full, quick = SUITE[name]
        argv = quick if args.quick else full
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        header = (
            f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"load average at start {load}){' with --quick' if args.quick else ''}, "
            f"{_revision()}."
        )
        print(f"\n### {title}\n\n{header}\n", flush=True)
        out = io.StringIO()
        began = time.monotonic()
        with contextlib.redirect_stdout(out):
            run(list(argv))
        took = time.monotonic() - began
        command = f"python -m {run.__module__} {' '.join(argv)}"
        text = f"{out.getvalue().strip()}\n\n_`{command}` took {took:.0f} s._"
        print(text, flush=True)
        fresh[name] = f"### {title}\n\n{header}\n\n{text}"
    print(f"\n_The suite took {time.monotonic() - started:.0f} s._", flush=True)
    if args.write:
        text = README.read_text()
        match = re.search(f"{re.escape(START)}(.*?){re.escape(END)}", text, flags=re.S)
        old_block = match[1] if match else ""
        body = _merge(old_block, fresh)
        README.write_text(
            re.sub(
                f"{re.escape(START)}.*?{re.escape(END)}",
                lambda _: f"{START}\n{body}\n{END}",
                text,
                flags=re.S,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
