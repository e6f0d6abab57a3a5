"""What an import shows and writes (customer_sdk._progress): progress line, summary, report."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from customer_sdk._progress import FailureReport, Progress, Tally, format_summary, render_line
from customer_sdk._rows import read_rows


def test_progress_line_shows_bar_counts_rate_eta_and_throttles() -> None:
    """The TTY line has a bar, done/total, rows/s, an ETA, counts and the throttled count."""
    tally = Tally()
    for _ in range(50):
        tally.add("created")
    tally.add("rejected")
    line = render_line(tally, 204, 2.0, throttled=7, requests=60, width=120, bar=True)
    assert re.match(r" 25% \[#{8,10}\.{20,}\] ", line), line
    assert "51/204" in line
    assert "26 rows/s" in line
    assert "ETA 0:06" in line
    assert "50 created" in line
    assert "1 rejected" in line
    assert "7 throttled" in line
    assert len(line) < 120
    # 80 columns: short labels, so the throttled count still shows.
    narrow = render_line(tally, 204, 2.0, throttled=7, requests=60, width=80, bar=True)
    assert narrow.endswith("| 50 new 0 found 1 rej 7 429s"), narrow
    assert re.match(r" 25% \[#+\.+\] 51/204 26 rows/s ETA 0:06 \| ", narrow)
    assert len(narrow) < 80
    tiny = render_line(tally, 204, 2.0, throttled=7, requests=60, width=60, bar=True)
    assert len(tiny) == 59
    assert tiny.startswith(" 25% [##........] 51/204 26 rows/s ETA 0:06 | 50 new")
    plain = render_line(tally, 204, 2.0, throttled=7, requests=60, width=120, bar=False)
    assert "[" not in plain
    assert "60 requests" in plain


def test_progress_prints_plain_lines_only_every_interval() -> None:
    """Off a terminal, ticks inside the interval print nothing; no carriage returns at all."""
    now = [0.0]
    buf = io.StringIO()
    progress = Progress(buf, 10, tty=False, interval=2.0, clock=lambda: now[0])
    tally = Tally()
    for t in (0.5, 1.0, 1.9, 2.1, 3.0, 4.2):
        now[0] = t
        tally.add("created")
        progress.tick(tally, throttled=0, requests=0)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert "\r" not in buf.getvalue()


def test_summary_table_lists_every_outcome() -> None:
    """The summary names every outcome, the resumed count, elapsed, rows/s and requests."""
    tally = Tally()
    tally.add("created")
    tally.add("existed", resumed=True)
    text = format_summary(tally, elapsed=2.0, requests=9, throttled=1)
    for label in ("created", "existed (found by key)", "rejected", "unknown", "failed", "resumed"):
        assert label in text
    assert "HTTP requests" in text
    assert "rows/s" in text


def test_failure_report_is_safe_to_open_in_a_spreadsheet(tmp_path: Path) -> None:
    """One line per field problem; formula-like cells are defused; secrets are masked."""
    from customer_sdk.errors import FieldError

    report = FailureReport(tmp_path / "f.csv", secrets=["hunter2"])
    report.add(7, "=cmd()", "rejected", [FieldError("a", "x"), FieldError("b", "y")])
    report.add(9, None, "failed", reason="boom hunter2")
    report.close()
    with (tmp_path / "f.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "external_key", "outcome", "field", "reason"]
    assert rows[1:] == [
        ["7", "'=cmd()", "rejected", "a", "x"],
        ["7", "'=cmd()", "rejected", "b", "y"],
        ["9", "", "failed", "", "boom ***"],
    ]


def test_failure_report_survives_a_key_that_is_not_utf8(tmp_path: Path) -> None:
    """A row whose key (or column name) has undecodable bytes is reported, not a crash."""
    src = tmp_path / "bad.csv"
    src.write_bytes(b"external_key,comp\xffany\nk\xff1,Co\n")
    [row] = list(read_rows(src))
    report = FailureReport(tmp_path / "f.csv")
    report.add(row.line, row.key, "rejected", row.errors)
    report.close()
    with (tmp_path / "f.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))[1:]
    assert {(r[0], r[1]) for r in lines} == {("2", "k\\udcff1")}
    assert {r[3] for r in lines} >= {"external_key", "comp\\udcffany"}
