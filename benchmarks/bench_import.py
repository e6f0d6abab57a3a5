"""P5: the cost of ``import customer_sdk`` against ``import aiohttp``, in fresh interpreters.

Each sample is a new ``python -c "import X"`` process, alternating between the two modules so
that noise hits both alike; reported are the medians and their ratio. The interpreter's own
start-up (``python -c pass``) is subtracted from both, so the ratio compares the imports alone.

Run: ``python -m benchmarks.bench_import [--samples 15]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def measure(samples: int) -> dict[str, float]:
    """Median seconds of ``import aiohttp`` and ``import customer_sdk`` (start-up subtracted)."""
    runs: dict[str, list[float]] = {"pass": [], "import aiohttp": [], "import customer_sdk": []}
    for i in range(samples):
        names = list(runs)
        for name in names[i % 3 :] + names[: i % 3]:
            runs[name].append(_time(name))
    base = statistics.median(runs["pass"])
    return {name: statistics.median(v) - base for name, v in runs.items() if name != "pass"}


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table row with both medians and the ratio."""
    parser = argparse.ArgumentParser(description="import-time ratio customer_sdk / aiohttp")
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args(argv)
    got = measure(args.samples)
    ratio = got["import customer_sdk"] / got["import aiohttp"]
    print("| import | median ms (start-up subtracted) |\n|---|---|")
    for name, seconds in got.items():
        print(f"| `{name}` | {seconds * 1000:.0f} |")
    print(f"\nratio customer_sdk / aiohttp: {ratio:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
