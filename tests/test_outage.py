"""Bounded outages: a bulk job never waits forever for a server (docs/faults.md F26).

A server that never answered (refused, silent) stops the job after about 20 s; an outage after
it had answered stops it after ``max_outage``; either way the stop is resumable and the rows it
held are reported as not sent, never as unknown. Library tests fake the waits (the probe's
schedule is its own clock); the command-line tests run over real sockets with short limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import sqlite3
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from customer_sdk import (
    BulkJob,
    ChargeOverClient,
    ConfigurationError,
    OutageError,
    RowOutcome,
    RowResult,
)
from customer_sdk._bulk import _circuit as bulk
from customer_sdk.cli import main
from customer_sdk.sandbox import Sandbox
from tests import _scripted as s
from tests._helpers import PASSWORD, USER, Sleeps, free_port_socket, keyed, make_client, write_csv


async def consume(job: BulkJob, results: list[RowResult], then: Any = None) -> None:
    """Run a job to its end, appending each result and calling ``then(results)`` after it."""
    async with job:
        async for r in job:
            results.append(r)
            if then is not None:
                then(results)


async def run_to_stop(job: BulkJob) -> tuple[list[RowResult], OutageError]:
    """Run a job that must end with an OutageError: its results and that error."""
    results: list[RowResult] = []
    with pytest.raises(OutageError) as info:
        await consume(job, results)
    return results, info.value


def journal_states(path: Path) -> dict[str, int]:
    """Rows per state in a journal."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT state, count(*) FROM rows WHERE idx >= 0 GROUP BY state")
        return dict(rows.fetchall())


def probe_waits(sleeps: Sleeps) -> list[float]:
    """The probe's waits: the schedule after the first (0.5 s) one."""
    calls = sleeps.calls
    first = calls.index(bulk.PROBE_FIRST)
    return calls[first:]


class SilentAfter(s.ScriptedServer):
    """Answers normally until ``silent`` is set, then reads requests and never answers."""

    silent = False
    answered = 0

    def default_post(self, ex: s.Exchange) -> None:
        """Create (while answering), else say nothing."""
        if not self.silent:
            self.answered += 1
            super().default_post(ex)

    def default_get(self, ex: s.Exchange) -> None:
        """Look up (while answering), else say nothing."""
        if not self.silent:
            super().default_get(ex)


@pytest.fixture
async def silent_after() -> AsyncIterator[SilentAfter]:
    """A server that can fall silent, on a free loopback port."""
    async with SilentAfter() as server:
        yield server


# --- never answered: about 20 s -----------------------------------------------------------------


async def test_a_refused_port_stops_the_job_after_about_20_s_naming_host_and_cause(
    sleeps: Sleeps, tmp_path: Path
) -> None:
    """Connection refused from the start: OutageError after 20 s of probes, every row not sent."""
    with free_port_socket() as sock:
        port = sock.getsockname()[1]
        journal = tmp_path / "j.db"
        async with make_client(f"http://127.0.0.1:{port}", sleeps) as client:
            job = client.customers.create_many(keyed(50), concurrency=4, journal=journal)
            results, error = await run_to_stop(job)
    assert error.answered is False
    assert error.host == f"127.0.0.1:{port}"
    assert error.held == pytest.approx(bulk.NEVER_ANSWERED)
    assert str(error).startswith(f"cannot reach 127.0.0.1:{port}: no answer in 20 s")
    assert "ConnectError" in error.cause
    # The probe waited 0.5, 1, 2, 4, 8 s and then only up to the limit: 20 s in all.
    assert probe_waits(sleeps) == [0.5, 1.0, 2.0, 4.0, 8.0, 4.5]
    assert results, "the rows held and queued get their result"
    for r in results:
        assert r.outcome is RowOutcome.FAILED
        assert isinstance(r.error, OutageError)
        assert str(r.error).startswith("not sent: cannot reach")
    assert job.stats.unknown == 0
    assert journal_states(journal).keys() <= {"failed", "pending"}


async def test_a_name_that_does_not_resolve_stops_the_job_like_a_refused_port(
    sleeps: Sleeps,
) -> None:
    """DNS failure (``.invalid`` never resolves, RFC 6761): OutageError naming host and cause."""
    async with asyncio.timeout(120), make_client("https://no-such-host.invalid", sleeps) as client:
        job = client.customers.create_many(keyed(8), concurrency=2)
        results, error = await run_to_stop(job)
    assert error.answered is False
    assert str(error).startswith("cannot reach no-such-host.invalid: no answer in 20 s")
    assert "ConnectError" in error.cause
    assert {r.outcome for r in results} == {RowOutcome.FAILED}


async def test_a_silent_host_stops_the_job_within_the_shorter_max_outage(
    silent_after: SilentAfter, sleeps: Sleeps
) -> None:
    """A host that accepts and never answers: timeouts only, so max_outage (3 s) bounds it."""
    silent_after.silent = True
    async with make_client(silent_after.base_url, sleeps, timeout=0.2) as client:
        job = client.customers.create_many(keyed(20), concurrency=5, max_outage=3)
        results, error = await run_to_stop(job)
    assert error.answered is False
    assert "RequestTimeoutError" in error.cause
    assert error.held == pytest.approx(3.0)  # the probe's own waits (workers back off too)
    # Every create that went out is unknown: a silent server may have stored it; the rest
    # were held at the circuit and are not sent. Keyed unknown rows are looked up next run.
    outcomes = {r.outcome for r in results}
    assert outcomes <= {RowOutcome.UNKNOWN, RowOutcome.FAILED}
    for r in results:
        if r.outcome is RowOutcome.FAILED:
            assert str(r.error).startswith("not sent:")


# --- answered, then an outage: max_outage ---------------------------------------------------------


async def test_an_outage_after_answers_is_held_for_max_outage_then_stops_resumably(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """All-503 after 10 rows: held max_outage (60 s), then OutageError; a re-run finishes."""
    outage = False
    original_post, original_get = server.default_post, server.default_get

    def post(ex: s.Exchange) -> None:
        nonlocal outage
        # The server goes down after its 10th create: decided where the requests arrive, as a
        # journaled job hands results out only after their commit (later than they are sent).
        outage = outage or len(server.customers) >= down_after
        if outage:
            ex.respond(503, s.envelope(503, None, "down"))
        else:
            original_post(ex)

    def get(ex: s.Exchange) -> None:
        if outage:
            ex.respond(503, s.envelope(503, None, "down"))
        else:
            original_get(ex)

    down_after: float = 10

    server.default_post = post  # type: ignore[method-assign]
    server.default_get = get  # type: ignore[method-assign]
    rows = keyed(80, "mid")
    journal = tmp_path / "j.db"
    results: list[RowResult] = []
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(rows, concurrency=4, journal=journal, max_outage=60)
        with pytest.raises(OutageError) as info:
            await consume(job, results)
    error = info.value
    assert error.answered is True
    assert error.cause == "HTTP 503"
    assert str(error).startswith(
        f"the server at 127.0.0.1:{server.port} answered only with errors for 60 s (HTTP 503)"
    )
    assert error.held == pytest.approx(60.0)  # the probe's own waits (workers back off too)
    by = {o: [r for r in results if r.outcome is o] for o in RowOutcome}
    assert len(by[RowOutcome.CREATED]) >= 10
    for r in by[RowOutcome.FAILED]:
        assert str(r.error).startswith("not sent: the server at")
    # A row whose create met a 503 may exist: unknown (looked up next run), never "not sent".
    for r in by[RowOutcome.UNKNOWN]:
        assert not isinstance(r.error, OutageError)
    assert not by[RowOutcome.REJECTED]
    assert not by[RowOutcome.EXISTED]

    outage, down_after = False, math.inf
    async with make_client(server.base_url, sleeps) as client:
        again = [r async for r in client.customers.create_many(rows, journal=journal)]
    assert sorted(r.index for r in again) == list(range(80))
    assert {r.outcome for r in again} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    assert len(server.customers) == 80  # none lost, none twice (the store is keyed)


async def test_a_server_whose_every_answer_is_a_5xx_stops_after_max_outage(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Every request 502 (lookups and probes too): answered, so held max_outage, then stops."""

    def down(ex: s.Exchange) -> None:
        ex.respond(502, raw=b"<html>bad gateway</html>")

    server.default_post = down  # type: ignore[method-assign]
    server.default_get = down  # type: ignore[method-assign]
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(30), concurrency=4, max_outage=45)
        results, error = await run_to_stop(job)
    assert error.answered is True
    assert error.cause == "HTTP 502"
    assert error.held == pytest.approx(45.0)  # the probe's own waits (workers back off too)
    assert {r.outcome for r in results} <= {RowOutcome.UNKNOWN, RowOutcome.FAILED}


async def test_keyless_rows_held_by_an_outage_are_not_sent_and_a_rerun_sends_them(
    sleeps: Sleeps, tmp_path: Path
) -> None:
    """Keyless rows never sent are failed (not unknown) in the journal, so a re-run sends them."""
    rows = [{"company": f"Keyless {i}"} for i in range(12)]
    journal = tmp_path / "j.db"
    with free_port_socket() as sock:
        port = sock.getsockname()[1]
        async with make_client(f"http://127.0.0.1:{port}", sleeps) as client:
            job = client.customers.create_many(rows, concurrency=2, journal=journal)
            results, _ = await run_to_stop(job)
    assert {r.outcome for r in results} == {RowOutcome.FAILED}
    async with s.ScriptedServer() as srv:
        srv.post_script.clear()
        async with make_client(srv.base_url, sleeps) as client:
            again = [r async for r in client.customers.create_many(rows, journal=journal)]
        assert {r.outcome for r in again} == {RowOutcome.CREATED}
        assert srv.count("POST") == 12


async def test_a_short_outage_still_resumes_by_itself(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """An outage shorter than max_outage: the job resumes and every row is created once."""
    probes = 0
    original_get, original_post = server.default_get, server.default_post
    state = {"down": False}

    def post(ex: s.Exchange) -> None:
        if state["down"]:
            ex.respond(503, s.envelope(503, None, "down"))
        else:
            original_post(ex)

    def get(ex: s.Exchange) -> None:
        nonlocal probes
        if bulk._PROBE_KEY in ex.target:
            probes += 1
            state["down"] = probes < 3
        if state["down"]:
            ex.respond(503, s.envelope(503, None, "down"))
        else:
            original_get(ex)

    server.default_post = post  # type: ignore[method-assign]
    server.default_get = get  # type: ignore[method-assign]
    results: list[RowResult] = []
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(40), concurrency=4, max_outage=10)
        async with job:
            async for r in job:
                results.append(r)
                if len(results) == 5:
                    state["down"] = True
    assert sorted(r.index for r in results) == list(range(40))
    assert {r.outcome for r in results} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    assert len(server.customers) == 40


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, "10", True])
async def test_an_invalid_max_outage_is_refused(server: s.ScriptedServer, bad: Any) -> None:
    """max_outage must be finite seconds > 0 (or None): anything else is a ConfigurationError."""
    async with ChargeOverClient(server.base_url, username=USER, password=PASSWORD) as client:
        with pytest.raises(ConfigurationError, match="max_outage"):
            client.customers.create_many([], max_outage=bad)
        assert client.customers.create_many([], max_outage=None) is not None


# --- the command line over real sockets ---------------------------------------------------------


def _env(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("CHARGEOVER_BASE_URL", base_url)
    monkeypatch.setenv("CHARGEOVER_USERNAME", USER)
    monkeypatch.setenv("CHARGEOVER_PASSWORD", PASSWORD)


def _csv(tmp_path: Path, n: int) -> Path:
    rows = [{"company": f"C {i}", "external_key": f"cli-{i}"} for i in range(n)]
    return write_csv(tmp_path / "in.csv", ["company", "external_key"], rows)


async def test_the_cli_exits_2_naming_a_refused_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused port: exit 2, the host and the cause named, the summary printed, no traceback."""
    with free_port_socket() as sock:
        port = sock.getsockname()[1]
        _env(monkeypatch, f"http://127.0.0.1:{port}")
        argv = ["import", str(_csv(tmp_path, 30)), "--max-outage", "1", "--quiet"]
        status = await asyncio.to_thread(main, [*argv, "--journal", str(tmp_path / "j.db")])
    out, err = capsys.readouterr()
    assert status == 2
    assert f"error: the import stopped: cannot reach 127.0.0.1:{port}" in err
    assert "ConnectError" in err
    assert "re-run with the same --journal" in err
    assert "Traceback" not in out + err
    assert re.search(r"failed\s+\d+\n", out)
    assert "never sent" in out


async def test_the_cli_exits_2_when_a_listener_never_answers(
    silent_after: SilentAfter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listener that accepts and never answers, a short --max-outage: exit 2, no traceback."""
    silent_after.silent = True
    _env(monkeypatch, silent_after.base_url)
    argv = ["import", str(_csv(tmp_path, 10)), "--max-outage", "1", "--timeout", "0.3", "-q"]
    status = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    assert status == 2
    assert f"cannot reach 127.0.0.1:{silent_after.port}" in err
    assert "RequestTimeoutError" in err
    assert "no --journal" in err  # without a journal it says what it cannot reconcile
    assert "Traceback" not in out + err


async def test_the_cli_stops_a_mid_run_outage_with_exit_1_and_resumes(
    silent_after: SilentAfter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answers, then silence past --max-outage: exit 1, "re-run"; the re-run finishes once each."""
    _env(monkeypatch, silent_after.base_url)
    src, journal = _csv(tmp_path, 60), tmp_path / "j.db"
    original = silent_after.default_post

    def post(ex: s.Exchange) -> None:
        if silent_after.answered >= 15:
            silent_after.silent = True
        original(ex)

    silent_after.default_post = post  # type: ignore[method-assign]
    argv = ["import", str(src), "--journal", str(journal), "--concurrency", "4", "-q"]
    status = await asyncio.to_thread(main, [*argv, "--max-outage", "1", "--timeout", "0.5"])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"the server at 127.0.0.1:{silent_after.port} did not answer for" in err
    assert "(--max-outage); re-run with the same --journal to resume" in err
    assert "Traceback" not in out + err
    created = re.search(r"\ncreated\s+(\d+)\n", out)
    assert created is not None
    assert 1 <= int(created.group(1)) <= 15  # (a slow answer may have been taken for lost)

    silent_after.silent = False
    silent_after.default_post = original  # type: ignore[method-assign]
    assert await asyncio.to_thread(main, argv) == 0
    assert len(silent_after.customers) == 60
    assert sorted(silent_after.customers) == sorted(f"cli-{i}" for i in range(60))


async def test_the_cli_exits_2_naming_the_host_on_an_untrusted_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS failure stops the import with exit 2 naming host and cause (was a traceback)."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    async with Sandbox(username=USER, password=PASSWORD, ssl_context=server_ctx) as sb:
        _env(monkeypatch, sb.base_url)
        status = await asyncio.to_thread(main, ["import", str(_csv(tmp_path, 20)), "-q"])
        assert sb.audit == []
    out, err = capsys.readouterr()
    host = sb.base_url.removeprefix("https://")
    assert status == 2
    assert f"error: the import stopped: cannot reach {host}: TLSError" in err
    assert "Traceback" not in out + err
