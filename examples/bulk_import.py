r"""Import a CSV of customers with ``create_many``: a journal, a progress line, a failure report.

Usage (credentials from ``CHARGEOVER_*``; ``customer-sdk sandbox`` prints them for a local one)::

    python examples/bulk_import.py examples/customers.csv --journal import.journal \\
        --report failures.csv

Kill it at any moment and run the same command again: rows the journal has finished are skipped,
rows that were in flight are looked up by their ``external_key`` (never sent twice). The exit
status is 0 when every row was created or already existed, 1 otherwise.

The ``customer-sdk import`` command does all of this and more (CSV dialects, progress bars,
sharding); this script shows the library calls it is built on. Cells are converted here the way
the CSV says them: empty is unset, ``*_id`` columns are whole numbers, ``no_*`` columns are
flags, ``tags`` is ``;``-separated. A cell that does not convert is passed on as it is, so the
SDK rejects that row naming the field, and the import goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from customer_sdk import BulkJob, ChargeOverClient, RowResult, ValidationError

FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
PROBLEMS = ("rejected", "unknown", "failed")


def convert(cells: dict[str, str]) -> dict[str, Any]:
    """One CSV row's cells as wire fields; a cell that does not convert is left for the SDK."""
    fields: dict[str, Any] = {}
    for name, text in cells.items():
        text = text.strip()
        if not text:
            continue  # an empty cell is an unset field: never sent
        if name.endswith("_id") and text.isdigit():
            fields[name] = int(text)
        elif name.startswith("no_") and text.lower() in FLAGS:
            fields[name] = FLAGS[text.lower()]
        elif name == "tags":
            fields[name] = [tag.strip() for tag in text.split(";") if tag.strip()]
        else:
            fields[name] = text
    return fields


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The file's rows, read lazily: memory stays flat however long the file."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        for cells in csv.DictReader(f):
            yield convert(cells)


def file_sha256(path: Path) -> str:
    """The file's fingerprint: a journal made for another file is refused."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def progress(job: BulkJob, started: float) -> str:
    """One progress line from the job's live counters."""
    s = job.stats
    done = s.created + s.existed + s.rejected + s.unknown + s.failed
    rate = done / max(time.monotonic() - started, 1e-9)
    return (
        f"{done:,} rows ({rate:,.0f}/s): {s.created:,} created, {s.existed:,} existed "
        f"({s.recovered:,} of them our own, their answer lost), "
        f"{s.rejected:,} rejected, {s.unknown:,} unknown, {s.failed:,} failed; "
        f"{s.throttled:,} throttled"
    )


def reasons(result: RowResult) -> list[tuple[str, str]]:
    """A problem row's ``(field, reason)`` pairs: one per invalid field, else the error."""
    if isinstance(result.error, ValidationError):  # names every invalid field
        return [(e.path, e.message) for e in result.error.errors]
    return [("", f"{type(result.error).__name__}: {result.error}")]


async def run(path: Path, journal: Path | None, report: Path, concurrency: int | None) -> int:
    """Import ``path``; write every problem row to ``report``.

    Returns:
        0 when every row was created or already existed, else 1.
    """
    started = time.monotonic()
    problems = 0
    async with ChargeOverClient.from_env() as client:
        job = client.customers.create_many(
            read_rows(path),
            concurrency=concurrency,
            journal=journal,
            job_id=file_sha256(path),
            reject_duplicate_keys=True,
        )
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "external_key", "outcome", "field", "reason"])
            last_print = started
            async with job:
                async for result in job:
                    if result.outcome in PROBLEMS:
                        problems += 1
                        for field, reason in reasons(result):
                            # index 0 is the file's second line (the first is the header)
                            line = result.index + 2
                            writer.writerow([line, result.key, result.outcome, field, reason])
                    if time.monotonic() - last_print >= 1.0:
                        last_print = time.monotonic()
                        print(progress(job, started), file=sys.stderr, flush=True)
    print(progress(job, started))
    if job.stats.resumed:
        print(f"{job.stats.resumed:,} rows taken from the journal of an earlier run")
    if problems:
        print(f"{problems:,} rows not imported: see {report}")
    return 1 if problems else 0


def main() -> int:
    """Parse the command line and run the import."""
    parser = argparse.ArgumentParser(description="Import a CSV of customers into ChargeOver.")
    parser.add_argument("file", type=Path, help="CSV with ChargeOver field names as columns")
    parser.add_argument("--journal", type=Path, help="SQLite journal: makes the run resumable")
    parser.add_argument("--report", type=Path, default=Path("failures.csv"), help="problem rows")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="requests in flight, fixed (default: adapted to the round trip, 16 to 256)",
    )
    args = parser.parse_args()
    return asyncio.run(run(args.file, args.journal, args.report, args.concurrency))


if __name__ == "__main__":
    sys.exit(main())
