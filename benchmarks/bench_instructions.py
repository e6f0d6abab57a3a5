"""P1/P2 in instructions: client CPU per create counted by callgrind, immune to machine noise.

A time ratio on this shared 2-core machine moves by several per cent between runs of the same
code; an instruction count does not (valgrind counts the same total for the same binary and
input whatever else the machine runs). So each client runs, in its own process under
``valgrind --tool=callgrind``, once with ``--small`` and once with ``--large`` creates against the
canned server (its own process, not under valgrind); the difference of the two totals divided
by the difference of the counts is its instructions per create, with interpreter start-up,
imports and connection set-up cancelled out. Instructions are not time (cache misses and
branch mispredictions are not counted): read these next to P1's and P2's CPU ratios.

Run: ``python -m benchmarks.bench_instructions [--small 500] [--large 2000] [--concurrency 64]``
(needs ``valgrind``; without it the benchmark says so and measures nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import bench_bulk, bench_create
from benchmarks._canned import canned_server

# name -> what the child runs: a P1 client (bench_create) or a P2 job (bench_bulk).
CREATE_IMPLS: dict[str, type[Any]] = {
    "raw aiohttp": bench_create.Raw,
    "customer_sdk create(**fields)": bench_create.Sdk,
    "customer_sdk create(CustomerCreate(...))": bench_create.SdkModel,
}
BULK_IMPLS = {"raw pool": bench_bulk.raw_pool, "create_many": bench_bulk.sdk}


async def _creates(impl: str, base: str, n: int, concurrency: int) -> None:
    obj = CREATE_IMPLS[impl](base)
    try:
        await bench_create.run_round(obj.one, n, concurrency, 0)
    finally:
        await obj.close()


def child(impl: str, base: str, n: int, concurrency: int) -> None:
    """Run ``n`` creates of ``impl`` in this process (the one valgrind counts)."""
    if impl in CREATE_IMPLS:
        asyncio.run(_creates(impl, base, n, concurrency))
    else:
        created = asyncio.run(BULK_IMPLS[impl](base, n, concurrency))
        if created != n:
            raise RuntimeError(f"{impl}: {created} of {n} rows created")


def instructions(impl: str, base: str, n: int, concurrency: int, workdir: Path) -> int:
    """The total instructions callgrind counts for one child run of ``n`` creates."""
    out = workdir / "callgrind.out"
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.bench_instructions",
        "--child",
        impl,
        "--base",
        base,
        "--small",
        str(n),
        "--concurrency",
        str(concurrency),
    ]
    got = subprocess.run(argv, capture_output=True, text=True, check=False)
    if got.returncode != 0:
        raise RuntimeError(f"{impl} under callgrind failed:\n{got.stderr[-3000:]}")
    # callgrind's output file ends with "summary: N" (older versions: "totals: N").
    match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), flags=re.M)
    if match is None:
        raise RuntimeError(f"no instruction total in {out}")
    out.unlink()
    return int(match[1])


HEADER = "| benchmark | client | instructions per create | vs its baseline |\n|---|---|---|---|"


def main(argv: list[str] | None = None) -> int:
    """Count every client's instructions per create and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=500, help="creates in the short run")
    parser.add_argument("--large", type=int, default=2000, help="creates in the long run")
    parser.add_argument("--concurrency", type=int, default=64, help="P1's; P2 runs at 16")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.base, args.small, args.concurrency)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing measured.")
        return 0
    if args.large <= args.small:
        parser.error("--large must be greater than --small")
    groups = [
        ("P1", list(CREATE_IMPLS), args.concurrency),
        ("P2", list(BULK_IMPLS), 16),  # bench_bulk's default concurrency
    ]
    lines = [HEADER]
    with canned_server() as base, tempfile.TemporaryDirectory() as tmp:
        for label, impls, concurrency in groups:
            per: dict[str, float] = {}
            for impl in impls:
                small = instructions(impl, base, args.small, concurrency, Path(tmp))
                large = instructions(impl, base, args.large, concurrency, Path(tmp))
                per[impl] = (large - small) / (args.large - args.small)
            baseline = per[impls[0]]
            for impl in impls:
                lines.append(
                    f"| {label} (concurrency {concurrency}) | {impl} "
                    f"| {per[impl] / 1000:,.0f}k | {per[impl] / baseline:.2f}x |"
                )
    print("\n".join(lines))
    print(
        f"\n(total instructions of a {args.large:,}-create run minus a {args.small:,}-create "
        "run, per create; client process only)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
