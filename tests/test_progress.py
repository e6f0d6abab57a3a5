"""What an import shows and writes (customer_sdk._progress): progress line, summary, report."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from customer_sdk._progress import (
    FailureReport,
    Problems,
    Progress,
    Tally,
    format_problems,
    format_summary,
    render_line,
)
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
    for label in ("created", "already existed", "recovered", "rejected", "unknown", "failed"):
        assert label in text
    assert "HTTP requests" in text
    assert "rows/s" in text


def test_existed_is_split_into_already_existed_and_recovered() -> None:
    """An existed row whose create was ours (reply lost) counts as recovered, not already there."""
    tally = Tally()
    tally.add("existed")
    tally.add("existed", recovered=True)
    tally.add("existed", recovered=True)
    text = format_summary(tally, elapsed=1.0, requests=3, throttled=0)
    rows = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in text.splitlines()[2:-1]
    }
    assert rows["already existed"] == "1"
    assert rows["recovered (ours, reply lost)"] == "2"


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


def test_a_resumed_runs_rate_and_eta_count_only_its_own_rows() -> None:
    """Rows taken from the journal are not this run's rows/s: rate and ETA use the fresh ones."""
    tally = Tally()
    for _ in range(900):
        tally.add("created", resumed=True)
    for _ in range(100):
        tally.add("created")
    assert tally.fresh == 100
    # 100 rows in 10 s is 10 rows/s, and the 1,000 rows left take 100 s (not 10 s).
    line = render_line(tally, 2000, 10.0, throttled=0, requests=100, width=200, bar=False)
    assert "1000/2000 10 rows/s ETA 1:40" in line
    summary = format_summary(tally, elapsed=10.0, requests=100, throttled=0)
    assert re.search(r"rows/s\s+10\n", summary)


def test_problems_are_grouped_by_reason_with_up_to_three_example_rows() -> None:
    """Each reason: its outcome, row count, and three rows (line and key), the quoted value cut."""
    problems = Problems()
    problems.add("failed", "AuthenticationError: HTTP 401", 12, "k-12")
    for line in (4, 9, 15, 22):
        problems.add("rejected", "company: is required", line, f"k-{line}")
    problems.add("rejected", "language_id: expected a whole number, got 'abc'", 5, None)
    problems.add("rejected", "language_id: expected a whole number, got '1.5'", 6, "k-6")
    assert format_problems(problems, report="failures.csv") == (
        "problems by reason (full list: failures.csv):\n"
        '  rejected 4: company: is required (rows 4 "k-4", 9 "k-9", 15 "k-15", …)\n'
        '  rejected 2: language_id: expected a whole number (rows 5, 6 "k-6")\n'
        '  failed 1: AuthenticationError: HTTP 401 (row 12 "k-12")\n'
    )
    assert format_problems(Problems(), report=None) == ""


def test_problems_point_to_report_and_sum_up_reasons_past_the_limit() -> None:
    """Without a report the lines say --report FILE; reasons past the limit are one line."""
    problems = Problems()
    for n in range(5):
        problems.add("rejected", f"custom_{n}: bad", n + 2, None)
    text = format_problems(problems, report=None, limit=3)
    assert text.startswith("problems by reason (full list: --report FILE):\n")
    assert text.endswith("  … 2 more reasons (2 problems): see --report FILE\n")
    assert text.count("\n") == 5


def test_problems_mask_secrets_and_escape_control_characters() -> None:
    """A hostile key or reason cannot move the terminal's cursor or show a credential."""
    problems = Problems()
    problems.add("failed", "ServerError: echoed hunter2 \x1b[2J", 3, "\x1b]0;pwned\x07" + "k" * 50)
    text = format_problems(problems, report=None, secrets=["hunter2"])
    assert "hunter2" not in text
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "***" in text
    assert "\\x1b" in text  # escaped, still visible
