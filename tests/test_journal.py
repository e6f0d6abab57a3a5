"""The SQLite job journal: states, durability, group commit off the loop, resume cursor."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import JournalMismatchError
from customer_sdk._journal import Journal, JournalCursor, RowState, row_hash


def peek(path: Path, sql: str) -> list[Any]:
    """Read the journal through a separate connection, as another process would."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql).fetchall()


async def test_a_new_journal_is_wal_and_records_its_job_id(tmp_path: Path) -> None:
    """The file is in WAL mode with the job id in its meta table."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, "sha-1")
    await journal.aclose()
    assert peek(path, "PRAGMA journal_mode") == [("wal",)]
    assert ("job_id", "sha-1") in peek(path, "SELECT key, value FROM meta")


async def test_each_state_change_is_committed_when_awaited(tmp_path: Path) -> None:
    """After each await, another connection sees the new state (no close needed)."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        journal.record_outcomes_nowait([(0, "h0", True, "rejected", None, "bad")])
        await journal.record_in_flight([(1, "h1")])
        # The lazy write went in ahead of the awaited one, so it is committed too.
        assert peek(path, "SELECT idx, state FROM rows ORDER BY idx") == [
            (0, "done"),
            (1, "in_flight"),
        ]
        await journal.record_outcomes([(1, "h1", True, "created", 42, None)])
        await journal.record_outcomes([(0, "h0", False, "failed", None, "x" * 2000)])
        rows = peek(path, "SELECT idx, state, outcome, customer_id, length(error) FROM rows")
        assert sorted(rows) == [
            (0, "failed", "failed", None, 512),
            (1, "done", "created", 42, None),
        ]
        assert await journal.counts() == {"done": 1, "failed": 1}
    finally:
        await journal.aclose()


async def test_reopening_keeps_every_row_and_the_max_index(tmp_path: Path) -> None:
    """A closed journal reopens with its rows and knows the highest recorded index."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, "a")
    await journal.record_in_flight([(i, f"h{i}") for i in range(5)])
    await journal.aclose()
    await journal.aclose()  # idempotent
    again = await Journal.open(path, "a")
    try:
        assert again.max_index == 4
        entries = await again.read(0)
        assert [(e.index, e.state) for e in entries] == [(i, RowState.IN_FLIGHT) for i in range(5)]
    finally:
        await again.aclose()


@pytest.mark.parametrize(("first", "second"), [("a", "b"), ("a", None), (None, "b")])
async def test_a_journal_for_another_job_is_refused(
    tmp_path: Path, first: str | None, second: str | None
) -> None:
    """Opening with a different job_id raises JournalMismatchError and leaves no thread."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, first)
    await journal.aclose()
    threads = threading.active_count()
    with pytest.raises(JournalMismatchError, match="another input"):
        await Journal.open(path, second)
    assert threading.active_count() == threads


async def test_a_file_that_is_not_a_database_raises(tmp_path: Path) -> None:
    """A corrupt or foreign file fails to open with sqlite3's error; no thread is left."""
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 100)
    threads = threading.active_count()
    with pytest.raises(sqlite3.DatabaseError):
        await Journal.open(path, None)
    assert threading.active_count() == threads


async def test_concurrent_writes_share_commits_on_one_thread(tmp_path: Path) -> None:
    """200 concurrent in-flight writes take far fewer than 200 commits, none on the loop."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        before = journal.commits
        await asyncio.gather(*(journal.record_in_flight([(i, f"h{i}")]) for i in range(200)))
        assert journal.commits - before < 50
        where = await journal._submit("read", lambda conn: threading.current_thread().name)
        assert where == "customer-sdk-journal"
        assert where != threading.current_thread().name
    finally:
        await journal.aclose()


async def test_the_cursor_walks_entries_in_chunks_alongside_the_input(tmp_path: Path) -> None:
    """Across chunk boundaries every recorded index is found; gaps give None."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        await journal.record_in_flight([(i, f"h{i}") for i in range(0, 3000) if i % 7])
        journal.max_index = 2999  # as when it was opened after the earlier run
        cursor = JournalCursor(journal)
        found = 0
        for index in range(3200):
            entry = await cursor.get(index)
            if index % 7 and index < 3000:
                assert entry is not None
                assert (entry.index, entry.hash) == (index, f"h{index}")
                found += 1
            else:
                assert entry is None
            assert len(cursor._buffer) <= 1024
        assert found == 3000 - len(range(0, 3000, 7))
    finally:
        await journal.aclose()


def test_row_hash_is_canonical() -> None:
    """Field order does not change the hash; content does; odd rows still hash."""
    assert row_hash({"a": 1, "b": "x"}) == row_hash({"b": "x", "a": 1})
    assert row_hash({"a": 1}) != row_hash({"a": 2})
    assert len(row_hash(object())) == 32
