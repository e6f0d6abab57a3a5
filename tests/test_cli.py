"""The customer-sdk command line: import (dry run, sandbox, env), progress, exit codes, secrets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import cli
from customer_sdk.cli import build_parser, main
from customer_sdk.sandbox import Sandbox
from tests._helpers import PASSWORD, USER, cli_argv, sandbox_env, write_csv

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "customers.csv"


def _write_csv(path: Path, n: int, *, bad: dict[int, dict[str, str]] | None = None) -> Path:
    """Write n customers; ``bad`` overrides cells of some rows (0-based) to make them invalid."""
    bad = bad or {}
    columns = ["external_key", "company", "language_id", "no_taxes", "tags", "bill_country"]
    rows = (
        {
            "external_key": f"cli-{i:05d}",
            "company": f"Company {i} Ltd",
            "language_id": "1",
            "no_taxes": "no",
            "tags": "a;b",
            "bill_country": "Ísland",
            **bad.get(i, {}),
        }
        for i in range(n)
    )
    return write_csv(path, columns, rows)


def _sandbox_import(src: Path, *extra: str) -> list[str]:
    """The arguments of an import of ``src`` into an in-process sandbox without faults."""
    return ["import", str(src), "--sandbox", "--faults", "", *extra]


def _use_sandbox(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> None:
    """Point this process's CHARGEOVER_* variables at the sandbox for the test."""
    for name, value in sandbox_env(sb).items():
        if name.startswith("CHARGEOVER_"):
            monkeypatch.setenv(name, value)


@contextlib.contextmanager
def _running(argv: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """A text-mode child process; killed and reaped if still running when the block ends."""
    proc = subprocess.Popen(argv, text=True, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CHARGEOVER_* variables in the environment."""
    for name in list(os.environ):
        if name.startswith("CHARGEOVER_"):
            monkeypatch.delenv(name)


# --- dry run and usage -----------------------------------------------------------------------


def test_dry_run_reports_every_invalid_row_of_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """--dry-run sends nothing, needs no credentials, and lists all 12 invalid example rows."""
    report = tmp_path / "failures.csv"
    status = main(["import", str(EXAMPLE), "--dry-run", "--report", str(report)])
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"valid\s+2,988", out)
    assert re.search(r"rejected\s+12", out)
    rows = _report_rows(report)
    assert len({r["row"] for r in rows}) == 12
    assert len(rows) == 13  # one row has two bad fields: one line each
    by_field = {r["field"]: r for r in rows}
    assert by_field["language_id"]["reason"].startswith("expected a whole number")
    assert by_field["superuser_email"]["reason"] == "is not an e-mail address"
    # A company of spaces only is trimmed to nothing: missing, like the empty one.
    assert [r["row"] for r in rows if r["field"] == "company"][:2] == ["231", "1841"]
    assert {r["outcome"] for r in rows} == {"rejected"}
    # Row numbers are the file's lines: the line really holds that key.
    lines = EXAMPLE.read_bytes().decode("utf-8").split("\n")  # LF only, as grep -n counts
    for r in rows:
        assert lines[int(r["row"]) - 1].lstrip('"').startswith(r["external_key"])


def test_dry_run_of_a_clean_file_exits_0(tmp_path: Path, no_env: None) -> None:
    """A file without invalid rows passes the dry run with status 0."""
    assert main(["import", str(_write_csv(tmp_path / "ok.csv", 20)), "--dry-run"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.csv"], "no such file"),
        (["import", "{f}", "--burst", "5"], "--burst needs --rate"),
        (["import", "{f}", "--redis", "redis://127.0.0.1:1"], "--redis needs --rate"),
        (["import", "{f}", "--faults", "create:400=1"], "add --sandbox"),
        (["import", "{f}", "--batch-size", "30"], "at most 25"),
        (["import", "{f}", "--sandbox", "--faults", "create:nope=1"], "--faults"),
        (["import", "{f}"], "missing environment variables"),
        (["import", "{f}", "--shard", "4/4"], "shard index"),
        (["import", "{f}", "--concurrency", "0"], "must be >= 1"),
        (["import", "{f}", "--journal", "{f}"], "must not be the input file"),
        (["import", "{f}", "--journal", "{tmp}/x.db", "--report", "{tmp}/x.db"], "different"),
        (["import", "{f}", "--dry-run", "--report", "{f}"], "must not be the input file"),
        (["import", "{f}", "--sandbox", "--journal", "{notdb}"], "not a usable journal"),
        (["frobnicate"], "invalid choice"),
        (["import", "{f}", "--redis", "redis://:pw-canary@127.0.0.1:1/0", "--rate", "5"], "Redis"),
        (["create", "--company", "X"], "missing environment variables"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_env: None,
    args: list[str],
    message: str,
) -> None:
    """Bad options, bad combinations and missing credentials exit 2 with a one-line reason."""
    f = _write_csv(tmp_path / "in.csv", 3)
    notdb = tmp_path / "not-a.db"
    notdb.write_text("this is not a SQLite database, just text long enough to be read\n" * 20)
    argv = [a.replace("{f}", str(f)).replace("{notdb}", str(notdb)) for a in args]
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert "pw-canary" not in err
    assert f.read_text(encoding="utf-8").startswith("external_key,company")  # input untouched
    assert not (tmp_path / "x.db").exists()  # nothing is created before the options are checked


def test_an_unknown_csv_column_is_refused_before_anything_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """Unknown header names exit 2 naming each with a "did you mean", before credentials."""
    src = tmp_path / "in.csv"
    src.write_text("external_key;compnay;notes\nk1;Co;hi\n", encoding="utf-8")
    report = tmp_path / "failures.csv"
    status = main(["import", str(src), "--report", str(report)])
    err = capsys.readouterr().err
    assert status == 2
    assert "'compnay' (did you mean 'company'?), 'notes';" in err
    assert "--ignore-unknown-columns" in err
    assert "missing environment variables" not in err  # checked first
    assert not report.exists()


def test_ignore_unknown_columns_imports_without_them_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """--ignore-unknown-columns drops their values and the summary names the columns ignored."""
    src = tmp_path / "in.csv"
    src.write_text("external_key,company,notes\nk1,Co,call back\nk2,Co,\n", encoding="utf-8")
    status = main(["import", str(src), "--dry-run", "--ignore-unknown-columns"])
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"valid\s+2\n", out)
    assert "ignored columns (--ignore-unknown-columns): 'notes'\n" in out


def test_an_unknown_jsonl_key_stays_the_rows_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """JSONL has no header: a row with an unknown key is rejected, grouped under its reason."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"external_key": "j1", "company": "A"}\n'
        '{"external_key": "j2", "company": "B", "memo": 1}\n',
        encoding="utf-8",
    )
    assert main(["import", str(src), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert (
        '  rejected 1: memo: unknown column (not a ChargeOver customer field) (row 2 "j2")' in out
    )
    assert main(["import", str(src), "--dry-run", "--ignore-unknown-columns"]) == 0
    assert "ignored columns (--ignore-unknown-columns): 'memo'" in capsys.readouterr().out


def test_python_dash_m_works() -> None:
    """`python -m customer_sdk --version` runs the same command line."""
    done = subprocess.run(cli_argv("--version"), capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("customer-sdk ")


def test_every_option_of_every_command_has_a_help_text() -> None:
    """`--help` explains every option and argument of every command, none is left bare."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = [
        f"{name} {action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not action.help
    ]
    assert sorted(commands.choices) == ["create", "export", "import", "sandbox"]
    assert bare == []


def test_the_package_keeps_the_names_cli_py_exported() -> None:
    """`customer_sdk.cli` still exports every name the single-module cli.py did."""
    before = {
        "EXIT_AUTH": 3,
        "EXIT_FAILED": 1,
        "EXIT_INTERRUPTED": 130,
        "EXIT_OK": 0,
        "EXIT_USAGE": 2,
    }
    assert {name: getattr(cli, name) for name in before} == before
    assert {"build_parser", "main", "redis_budget_name"} <= set(cli.__all__)
    assert cli.main is main
    assert issubclass(cli.UsageError, Exception)


# --- imports into a sandbox ------------------------------------------------------------------


async def test_import_via_env_into_an_in_process_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHARGEOVER_* point the import at a sandbox; valid rows land once, bad rows are reported."""
    src = _write_csv(
        tmp_path / "in.csv",
        60,
        bad={7: {"language_id": "abc"}, 30: {"company": ""}, 31: {"no_taxes": "maybe"}},
    )
    report = tmp_path / "failures.csv"
    faults = "create:reset_after_commit=0.1,503_before_commit=0.1,truncated_201=0.05"
    async with Sandbox(username=USER, password=PASSWORD, faults=faults, seed=3) as sb:
        _use_sandbox(monkeypatch, sb)
        journal = tmp_path / "job.db"
        args = ["import", str(src), "--report", str(report), "--concurrency", "4", "-vv"]
        status = await asyncio.to_thread(main, [*args, "--journal", str(journal)])
        assert sb.counters["faulted"] > 0
        stored = sorted(c["external_key"] for c in sb.customers.values())
    out, err = capsys.readouterr()
    assert status == 1
    assert stored == sorted(f"cli-{i:05d}" for i in range(60) if i not in {7, 30, 31})
    created = re.search(r"created\s+(\d+)", out)
    recovered = re.search(r"recovered \(ours, reply lost\)\s+(\d+)", out)
    assert created
    assert recovered
    # A create whose answer was lost is found by key: made by this run, so "recovered"; the
    # sandbox started empty, so no row "already existed".
    assert int(created[1]) + int(recovered[1]) == 57
    assert re.search(r"already existed\s+0\n", out)
    assert re.search(r"rejected\s+3", out)
    rows = _report_rows(report)
    assert [(r["row"], r["field"]) for r in rows] == [
        ("9", "language_id"),
        ("32", "company"),
        ("33", "no_taxes"),
    ]
    assert "DEBUG" in err  # -vv logged every request, and still no secret in it
    journal_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("job.db*"))
    for text in (out, err, report.read_text(encoding="utf-8"), journal_bytes.decode("latin-1")):
        assert PASSWORD not in text
        assert USER not in text


async def test_the_report_masks_a_credential_that_appears_in_a_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row carrying the API password (pasted into a key by mistake) is masked in the report."""
    src = _write_csv(
        tmp_path / "in.csv", 3, bad={1: {"external_key": PASSWORD, "language_id": "x"}}
    )
    report = tmp_path / "failures.csv"
    async with Sandbox(username=USER, password=PASSWORD) as sb:
        _use_sandbox(monkeypatch, sb)
        status = await asyncio.to_thread(main, ["import", str(src), "--report", str(report)])
    capsys.readouterr()
    assert status == 1
    rows = _report_rows(report)
    assert [(r["row"], r["field"]) for r in rows] == [("3", "language_id")]
    assert PASSWORD not in report.read_text(encoding="utf-8")
    assert rows[0]["external_key"] != ""  # masked, not dropped


async def test_a_clean_import_exits_0_and_a_second_run_finds_every_row_existing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status 0 when all rows are created; re-running reports them all as already existing."""
    src = _write_csv(tmp_path / "in.csv", 25)
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        first = await asyncio.to_thread(main, ["import", str(src), "--quiet"])
        second = await asyncio.to_thread(main, ["import", str(src), "--quiet"])
        assert len(sb.customers) == 25
    out = capsys.readouterr().out
    assert (first, second) == (0, 0)
    assert re.search(r"already existed\s+25\n", out)  # the second run: there before it
    assert re.search(r"recovered \(ours, reply lost\)\s+0\n", out)


async def test_wrong_credentials_stop_the_job_with_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """401s stop the import early (status 3) and the wrong password is never printed."""
    src = _write_csv(tmp_path / "in.csv", 200)
    report = tmp_path / "failures.csv"
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        monkeypatch.setenv("CHARGEOVER_PASSWORD", PASSWORD)
        status = await asyncio.to_thread(main, ["import", str(src), "--report", str(report)])
        assert sb.counters["create"] < 50  # stopped early, not after 200 failures
        assert not sb.customers
    out, err = capsys.readouterr()
    assert status == 3
    assert "AuthenticationError" in err
    for text in (out, err, report.read_text(encoding="utf-8")):
        assert PASSWORD not in text


async def test_the_summary_groups_failures_by_reason_without_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --report, failed and rejected rows show by reason with example rows and keys."""
    src = _write_csv(tmp_path / "in.csv", 40, bad={0: {"company": ""}})
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        monkeypatch.setenv("CHARGEOVER_PASSWORD", PASSWORD)
        status = await asyncio.to_thread(main, ["import", str(src), "--quiet"])
    out = capsys.readouterr().out
    assert status == 3
    failed = re.search(r"failed\s+(\d+)\n", out)
    assert failed
    assert int(failed[1]) > 0
    assert "problems by reason (full list: --report FILE):\n" in out
    assert '  rejected 1: company: is required (row 2 "cli-00000")\n' in out
    line = re.search(r"  failed (\d+): AuthenticationError: .*\(rows? (.*)\)\n", out)
    assert line, out
    assert line[1] == failed[1]  # every failed row has the one reason
    assert re.match(r'\d+ "cli-\d{5}"', line[2])
    assert PASSWORD not in out


async def test_create_command_prints_the_id_then_existed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`create` prints 'created ID', and 'existed ID' for the same key; bad fields exit 1."""
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        args = ["create", "--company", "Åsa AB", "--external-key", "one", "--field", "tags=x;y"]
        first = await asyncio.to_thread(main, args)
        second = await asyncio.to_thread(main, args)
        bad = await asyncio.to_thread(
            main, ["create", "--company", "X", "--field", "language_id=abc"]
        )
        stored = sb.by_key("one")
    out, err = capsys.readouterr()
    assert (first, second, bad) == (0, 0, 1)
    assert stored is not None
    assert out.splitlines() == [
        f"created {stored['customer_id']}",
        f"existed {stored['customer_id']}",
    ]
    assert "language_id: expected a whole number" in err


def test_journal_in_use_by_another_process_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """A journal locked by another import is refused (status 2) before anything is sent."""
    src = _write_csv(tmp_path / "in.csv", 5)
    journal = tmp_path / "job.db"
    with (tmp_path / "job.db.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        status = main(["import", str(src), "--sandbox", "--journal", str(journal)])
    assert status == 2
    assert "in use by another import" in capsys.readouterr().err


def test_a_shard_refuses_another_shards_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """Shards must not share a journal: shard 1/2 on shard 0/2's journal exits 2."""
    src = _write_csv(tmp_path / "in.csv", 10)
    journal = str(tmp_path / "job.db")
    base = _sandbox_import(src, "--journal", journal, "--quiet")
    assert main([*base, "--shard", "0/2"]) == 0
    assert main([*base, "--shard", "1/2"]) == 2
    assert "--journal" in capsys.readouterr().err


# --- progress and the sandbox subcommand (subprocesses) --------------------------------------


def _read_pty(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Read everything the child writes to its pty until it exits (EIO at end on Linux)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    return b"".join(chunks)


def test_progress_is_a_redrawn_bar_on_a_tty(tmp_path: Path) -> None:
    """On a terminal the progress line is redrawn in place (CR), with bar, rate, ETA, counts."""
    src = _write_csv(tmp_path / "in.csv", 300)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    args = _sandbox_import(src, "--sandbox-rate", "200", "--rate", "150")
    proc = subprocess.Popen(cli_argv(*args), stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    try:
        text = _read_pty(master, proc, 60).decode("utf-8")
    finally:
        os.close(master)
    assert proc.returncode == 0, text
    redraws = [part for part in text.split("\r") if "rows/s" in part]
    assert len(redraws) >= 3
    assert re.search(r"\d+% \[#*\.*\] \d+/300 ", text), text
    assert all(len(part.rstrip("\n")) < 120 for part in redraws)
    assert "ETA " in text
    # Each drawn progress line (not just the summary table) carries the throttled count.
    bars = [part for part in redraws if re.match(r"\s*\d+% \[", part)]
    assert len(bars) >= 3
    assert all("throttled" in part for part in bars)
    assert "300 created" in text
    assert re.search(r"created\s+300", text)


def test_progress_degrades_to_periodic_plain_lines_without_a_tty(tmp_path: Path) -> None:
    """Piped output gets a plain progress line per interval, never a carriage return."""
    src = _write_csv(tmp_path / "in.csv", 300)
    args = _sandbox_import(src, "--rate", "150", "--progress-interval", "0.3")
    done = subprocess.run(cli_argv(*args), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "rows/s" in line]
    summary = re.search(r"elapsed\s+([\d.]+) s", done.stdout)
    assert summary, done.stdout
    elapsed = float(summary[1])
    # >= 2 s of work at one line per 0.3 s (plus the final one): several lines, but no more
    # than the interval allows however slowly a loaded machine runs it (a TTY redraws 3x as often).
    assert 3 <= len(lines) <= elapsed / 0.3 + 2, (elapsed, done.stderr)
    assert "\r" not in done.stderr
    assert lines[-1].split()[1] == "300/300"


def test_sandbox_command_prints_exports_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`sandbox` prints export lines that work with `create`, and exits 0 on SIGTERM."""
    argv = cli_argv("sandbox", "--username", USER, "--password", PASSWORD, "--rate", "50")
    with _running(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEOVER_")}
        banner = proc.stdout.readline()
        for _ in range(3):
            name, _, value = proc.stdout.readline().removeprefix("export ").strip().partition("=")
            env[name] = value
        assert banner.startswith("# ChargeOver sandbox on http://127.0.0.1:")
        assert env["CHARGEOVER_USERNAME"] == USER
        assert env["CHARGEOVER_PASSWORD"] == PASSWORD
        created = subprocess.run(
            cli_argv("create", "--company", "Via Env", "--external-key", "e-1"),
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        assert created.stdout.startswith("created ")
        assert PASSWORD not in created.stdout + created.stderr
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped: 1 customers" in rest


def test_sigint_stops_an_import_with_a_summary_and_status_130(tmp_path: Path) -> None:
    """Ctrl-C mid-import prints the summary so far, reports unfinished rows, and exits 130."""
    src = _write_csv(tmp_path / "in.csv", 2000)
    journal = tmp_path / "job.db"
    report = tmp_path / "failures.csv"
    args = _sandbox_import(src, "--rate", "100")
    argv = cli_argv(
        *args, "--journal", str(journal), "--report", str(report), "--progress-interval", "0.2"
    )
    with _running(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the first progress line: the import is running
            if "rows/s" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT" in out
    assert "re-run with the same --journal" in out
    assert "Traceback" not in err
    # Rows handed to the job without a result are listed, not silently dropped.
    unfinished = [r for r in _report_rows(report) if r["outcome"] == "unfinished"]
    assert unfinished
    assert re.search(rf"unfinished: {len(unfinished)} rows", out)


async def test_batches_and_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSONL file imports through _bulk batches: 100 rows in 4 requests of 25."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            f'{{"external_key": "j-{i}", "company": "J {i}", "no_taxes": true, "tags": ["t"]}}\n'
            for i in range(100)
        ),
        encoding="utf-8",
    )
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        status = await asyncio.to_thread(main, ["import", str(src), "--batch-size", "25"])
        assert sb.counters["bulk"] == 4
        assert sb.counters["create"] == 0
        assert len(sb.customers) == 100
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"HTTP requests\s+4\n", out)


# --- duplicate keys within one file ----------------------------------------------------------


def _write_repeats(path: Path) -> Path:
    """Six rows; line 6 repeats line 3's key with other data, and two rows have no key."""
    rows = [
        {"external_key": "rep-0", "company": "Zero"},
        {"external_key": "rep-1", "company": "One"},
        {"external_key": "", "company": "Keyless A"},
        {"external_key": "", "company": "Keyless B"},
        {"external_key": "rep-1", "company": "One again"},
        {"external_key": "rep-2", "company": "Two"},
    ]
    return write_csv(path, ["external_key", "company"], rows)


def test_dry_run_rejects_a_repeated_key_naming_the_first_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_env: None
) -> None:
    """--dry-run rejects a row repeating an earlier key, naming that line, and exits 1."""
    report = tmp_path / "failures.csv"
    src = _write_repeats(tmp_path / "in.csv")
    status = main(["import", str(src), "--dry-run", "--report", str(report)])
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"rejected\s+1\b", out)
    rows = _report_rows(report)
    assert [(r["row"], r["external_key"], r["field"]) for r in rows] == [
        ("6", "rep-1", "external_key")
    ]
    assert rows[0]["reason"].startswith("duplicate_in_input: the same external_key as line 3")


async def test_an_import_never_sends_a_repeated_key_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import rejects the repeat (status 1); the first row's data is what is stored."""
    report = tmp_path / "failures.csv"
    src = _write_repeats(tmp_path / "in.csv")
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        status = await asyncio.to_thread(main, ["import", str(src), "--report", str(report)])
        stored = {c.get("external_key"): c["company"] for c in sb.customers.values()}
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"created\s+5\b", out)
    assert stored["rep-1"] == "One"
    assert "One again" not in stored.values()
    assert [(r["row"], r["outcome"]) for r in _report_rows(report)] == [("6", "rejected")]


async def test_an_import_rejects_a_200_kb_cell_and_imports_the_rows_around_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 KB cell mid-file rejects its row naming the column; the rows around it are created."""
    src = _write_csv(tmp_path / "in.csv", 6, bad={3: {"bill_country": "x" * 200_000}})
    report = tmp_path / "failures.csv"
    async with Sandbox() as sb:
        _use_sandbox(monkeypatch, sb)
        status = await asyncio.to_thread(main, ["import", str(src), "--report", str(report)])
        stored = sorted(c["external_key"] for c in sb.customers.values())
    capsys.readouterr()
    assert status == 1
    assert stored == [f"cli-{i:05d}" for i in (0, 1, 2, 4, 5)]
    [row] = _report_rows(report)
    assert (row["row"], row["field"]) == ("5", "bill_country")
    assert row["reason"] == "cell is 200,000 bytes, over the 65,536-byte limit"
