"""P7: a whole ``customer-sdk import`` with ``--journal`` vs without, keyed and keyless rows.

P6's method (:mod:`benchmarks.bench_cli`): the CLI as a subprocess, a fresh sandbox process (no
rate limit, an empty account) per run, reached through the ``CHARGEOVER_*`` variables; wall time
from spawn to exit, the CLI's own CPU from ``wait4``. Each round runs the plain import and the
journaled one back to back, in an order that alternates round by round, on a keyed CSV (every row
has an ``external_key``: its send window is never fsynced) and on a keyless one (the same rows
without the column: a row leaves only once a send window covering it is fsynced). The ratio of
a round is journal rows/s over plain rows/s; the table gives the median over rounds and the
spread. The sandbox's ``committed`` counter must equal the number of rows, or the run fails.
Target: journal/plain >= 0.9 for both inputs.

Run: ``python -m benchmarks.bench_journal [--rows 40000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from pathlib import Path

from benchmarks._procs import Measured, SandboxProcess, run_measured
from benchmarks.bench_cli import COLUMNS, cli, write_csv

TARGET = 0.9


def write_keyless_csv(source: Path, path: Path) -> None:
    """``source`` without its ``external_key`` column (streamed: never all in memory)."""
    with source.open(newline="", encoding="utf-8") as f, path.open("w", newline="") as g:
        out = csv.writer(g)
        for record in csv.reader(f):
            out.writerow(record[1:])
    assert COLUMNS[0] == "external_key"


def run_once(src: Path, journal: Path | None, n: int) -> Measured:
    """Import ``src`` into a fresh sandbox, with ``journal`` if given; check every row landed."""
    extra = [] if journal is None else ["--journal", str(journal)]
    with SandboxProcess() as sb:
        got = run_measured([*cli(), "import", str(src), "--quiet", *extra], env=sb.env())
        committed = int(sb.call("counters").get("committed", 0))
    if got.returncode != 0 or committed != n:
        raise RuntimeError(
            f"import of {src.name} (journal={journal is not None}) exited {got.returncode}, "
            f"{committed} of {n} rows committed:\n{got.stderr[-3000:]}"
        )
    return got


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.rows
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as name:
        tmp = Path(name)
        inputs = {"keyed": tmp / "keyed.csv", "keyless": tmp / "keyless.csv"}
        write_csv(inputs["keyed"], n)
        write_keyless_csv(inputs["keyed"], inputs["keyless"])
        runs: dict[tuple[str, bool], list[Measured]] = {}
        ratios: dict[str, list[float]] = {kind: [] for kind in inputs}
        for r in range(args.rounds):
            for kind, src in inputs.items():
                got: dict[bool, Measured] = {}
                for journaled in (False, True) if r % 2 == 0 else (True, False):
                    journal = tmp / f"{kind}-{r}.journal" if journaled else None
                    got[journaled] = run_once(src, journal, n)
                    runs.setdefault((kind, journaled), []).append(got[journaled])
                ratios[kind].append(got[False].wall / got[True].wall)
        for kind in inputs:
            plain, jrn = runs[(kind, False)], runs[(kind, True)]
            ratio = statistics.median(ratios[kind])
            verdict = "met" if ratio >= TARGET else "**missed**"
            lines.append(
                f"| {kind} | {statistics.median(n / m.wall for m in plain):,.0f} "
                f"| {statistics.median(n / m.wall for m in jrn):,.0f} "
                f"| {ratio:.2f}x | {min(ratios[kind]):.2f}-{max(ratios[kind]):.2f} "
                f"| {statistics.median(m.cpu for m in plain) / n * 1e6:.0f} us "
                f"| {statistics.median(m.cpu for m in jrn) / n * 1e6:.0f} us "
                f"| >= {TARGET}x: {verdict} |"
            )
    print(
        "| input | plain rows/s (median) | `--journal` rows/s (median) | journal/plain "
        "(median of rounds) | spread | CPU/row plain | CPU/row journal | target |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(lines))
    print(
        f"\n{n:,} rows per import, {args.rounds} rounds, plain and journaled back to back in "
        "alternating order; a fresh sandbox (no rate limit) per import; wall time from spawn "
        "to exit."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
