"""P6: a whole ``customer-sdk import`` of a generated CSV, as a subprocess, on the sandbox.

The sandbox (no rate limit) runs in its own process, a fresh one per variant so every import
starts from an empty account; the CLI reaches it through the ``CHARGEOVER_*`` variables, as a
user would reach ChargeOver. Measured from outside: wall time from spawn to exit (interpreter
start-up included), the CLI process's own CPU (``wait4``) and peak RSS (its ``VmHWM``,
polled every 20 ms). The sandbox's
``committed`` counter must equal the number of rows, or the run counts as failed. There is no
baseline: these are absolute figures for one machine, to be read with the P1/P2 ratios.

Run: ``python -m benchmarks.bench_cli [--rows 100000] [--variant plain journal batch25]``
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks._procs import Measured, SandboxProcess, run_measured

COLUMNS = (
    "external_key",
    "company",
    "superuser_name",
    "superuser_email",
    "bill_addr1",
    "bill_city",
    "bill_postcode",
    "bill_country",
    "currency_id",
    "no_taxes",
    "tags",
)


def write_csv(path: Path, n: int) -> None:
    """Write ``n`` distinct customers to ``path`` (streamed: never all in memory).

    The same fields as P1's payload, as CSV cells (``customer_sdk._rows`` converts them back).
    """
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for i in range(n):
            out.writerow(
                (
                    f"cli-{i:07d}",
                    f"Acme Widgets {i} GmbH",
                    "Jürgen Müller",
                    f"jm{i}@example.com",
                    "Hauptstraße 1",
                    "Berlin",
                    "10115",
                    "DE",
                    "1",
                    "false",
                    "bench;de",
                )
            )


VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "journal": ["--journal", "{tmp}/import.journal"],
    "batch25": ["--batch-size", "25"],
}


def cli() -> list[str]:
    """The console script next to this interpreter (the venv's), else ``python -m``."""
    script = Path(sys.executable).with_name("customer-sdk")
    if script.exists():
        return [str(script)]
    found = shutil.which("customer-sdk")
    return [found] if found else [sys.executable, "-m", "customer_sdk"]


def run_variant(csv_path: Path, tmp: Path, variant: str, n: int) -> tuple[Measured, int]:
    """Import ``csv_path`` into a fresh sandbox; return the measurement and rows committed."""
    extra = [a.replace("{tmp}", str(tmp)) for a in VARIANTS[variant]]
    report = tmp / f"failures-{variant}.csv"
    with SandboxProcess() as sb:
        got = run_measured(
            [*cli(), "import", str(csv_path), "--report", str(report), *extra], env=sb.env()
        )
        committed = int(sb.call("counters").get("committed", 0))
    if got.returncode != 0 or committed != n:
        raise RuntimeError(
            f"import ({variant}) exited {got.returncode}, {committed} of {n} rows committed:\n"
            f"{got.stderr[-3000:]}"
        )
    return got, committed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--variant", nargs="+", choices=sorted(VARIANTS), default=["plain"])
    args = parser.parse_args(argv)
    print(
        "| variant | rows | rows/s (wall, start-up included) | CPU/row (CLI process) "
        "| peak RSS (CLI process) |\n|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as name:
        tmp = Path(name)
        csv_path = tmp / "customers.csv"
        write_csv(csv_path, args.rows)
        size = csv_path.stat().st_size / 2**20
        for variant in args.variant:
            got, _ = run_variant(csv_path, tmp, variant, args.rows)
            flags = " ".join(VARIANTS[variant]).replace("{tmp}/", "") or "(defaults)"
            print(
                f"| {variant}: `{flags}` | {args.rows:,} | {args.rows / got.wall:,.0f} "
                f"| {got.cpu / args.rows * 1e6:.0f} us | {got.max_rss_mb:.1f} MB |",
                flush=True,
            )
    print(f"\nCSV: {args.rows:,} rows, {size:.1f} MiB; sandbox without a rate limit.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
