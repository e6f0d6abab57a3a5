"""The journaled outlet: results held per commit, handed out in parts, none dropped on a stop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from customer_sdk._bulk._outlet import BACKLOG, Outlet
from customer_sdk._bulk._results import BulkStats, Row, RowOutcome, RowResult
from customer_sdk._bulk._stop import StopPolicy
from customer_sdk._journal import Journal, _writer
from customer_sdk.errors import AuthenticationError


def row(i: int) -> Row:
    """A sent row as a worker holds it."""
    return Row(i, None, {"company": f"Row {i}"}, f"h{i}")


def created(i: int) -> RowResult:
    """A created row's result."""
    return RowResult(i, None, RowOutcome.CREATED, 100 + i, None)


def refused(i: int) -> RowResult:
    """A row refused with a 401 (a fatal error for the stop policy)."""
    error = AuthenticationError(401, "bad credentials")
    return RowResult(i, None, RowOutcome.FAILED, None, error)


def make_outlet(
    journal: Journal, maxsize: int, stops: list[BaseException], max_auth_failures: int = 3
) -> Outlet:
    """An outlet over a results queue of ``maxsize``, its stops recorded in ``stops``."""
    policy = StopPolicy(max_auth_failures, lambda: False, stops.append)
    results: asyncio.Queue[Any] = asyncio.Queue(maxsize)
    return Outlet(results, BulkStats(), journal, policy)


def taken(outlet: Outlet) -> list[int]:
    """Empty the results queue, as the caller iterating the job does; the indexes."""
    out = []
    while not outlet.results.empty():
        out.append(outlet.results.get_nowait().index)
    return out


async def commit(journal: Journal) -> None:
    """Commit what is queued now and wait for it.

    The outlet's callback was added to the commit's future before this wait, so it has run
    (futures call their callbacks in order) when this returns.
    """
    journal.flush()
    await journal.committed()


async def test_results_of_one_commit_are_handed_out_once_it_is_done(tmp_path: Path) -> None:
    """Nothing is handed out before the commit; all of it after, in order, with no worker call."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        outlet = make_outlet(journal, 64, [])
        for i in range(10):
            assert outlet.finish_now(row(i), created(i))
        assert taken(outlet) == []  # held until their outcomes are committed
        await commit(journal)
        assert taken(outlet) == list(range(10))
        assert outlet.stats.created == 10
    finally:
        await journal.aclose()


async def test_a_commit_larger_than_the_results_queue_goes_out_in_parts(tmp_path: Path) -> None:
    """With room for 4, a commit of 10 results goes out 4 at a time as the caller takes them."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        outlet = make_outlet(journal, 4, [])
        for i in range(10):
            assert outlet.finish_now(row(i), created(i))
        await commit(journal)
        assert taken(outlet) == [0, 1, 2, 3]
        assert outlet.finish_now(row(10), created(10))  # a worker's next result comes by
        assert taken(outlet) == [4, 5, 6, 7]
        await outlet.drain()  # the worker's end: every held result, with its commit
        assert taken(outlet) == [8, 9, 10]
        assert outlet.stats.created == 11
    finally:
        await journal.aclose()


async def test_a_result_that_stops_the_job_drops_none_of_its_commits_results(
    tmp_path: Path,
) -> None:
    """The policy stops on the first refusal; the other results of that commit still go out."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        stops: list[BaseException] = []
        outlet = make_outlet(journal, 64, stops, max_auth_failures=1)
        outlet.finish_now(row(0), refused(0))
        for i in range(1, 5):
            outlet.finish_now(row(i), created(i))
        await commit(journal)
        assert len(stops) == 1
        assert taken(outlet) == [0, 1, 2, 3, 4]
    finally:
        await journal.aclose()


async def test_a_full_backlog_starts_its_commit_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past BACKLOG held results a worker waits for the commit, which does not wait its timer."""
    monkeypatch.setattr(_writer, "LAZY_DELAY", 3600.0)  # the timer would never come in time
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        outlet = make_outlet(journal, BACKLOG + 64, [])
        for i in range(BACKLOG):
            assert outlet.finish_now(row(i), created(i))
        assert not outlet.finish_now(row(BACKLOG), created(BACKLOG))  # it would have to wait
        commits = journal.commits
        await asyncio.wait_for(outlet.finish([(row(BACKLOG), created(BACKLOG))]), 10)
        assert journal.commits > commits
        assert taken(outlet) == list(range(BACKLOG + 1))
    finally:
        await journal.aclose()
