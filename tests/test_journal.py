"""The SQLite job journal: states, durability per row kind, group commit, resume, old files."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import JournalMismatchError, RowOutcome
from customer_sdk._journal import Journal, JournalCursor, RowState, row_hash
from customer_sdk._journal._window import REACH_SECONDS, WINDOW, WINDOW_MAX
from customer_sdk.sandbox import Sandbox
from tests._helpers import client_for, journal_in_flight, journal_outcomes, journal_window


def set_clock(journal: Journal) -> list[float]:
    """Give the journal's send window a clock the test sets: ``now[0]`` is the time."""
    now = [0.0]
    journal._send._clock = lambda: now[0]
    return now


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
        await journal_in_flight(journal, [(1, "h1")])
        # The lazy write went in ahead of the awaited one, so it is committed too.
        assert peek(path, "SELECT idx, state FROM rows ORDER BY idx") == [
            (0, "done"),
            (1, "in_flight"),
        ]
        await journal_outcomes(journal, [(1, "h1", True, "created", 42, None)])
        await journal_outcomes(journal, [(0, "h0", False, "failed", None, "x" * 2000)])
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
    await journal_in_flight(journal, [(i, f"h{i}") for i in range(5)])
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
        await asyncio.gather(*(journal_in_flight(journal, [(i, f"h{i}")]) for i in range(200)))
        assert journal.commits - before < 50
        where = await journal._submit("call", lambda conn: threading.current_thread().name)
        assert where == "customer-sdk-journal"
        assert where != threading.current_thread().name
    finally:
        await journal.aclose()


async def test_the_cursor_walks_entries_in_chunks_alongside_the_input(tmp_path: Path) -> None:
    """Across chunk boundaries every recorded index is found; gaps give None."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        await journal_in_flight(journal, [(i, f"h{i}") for i in range(0, 3000) if i % 7])
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


async def test_a_keyed_mark_is_lazy_and_costs_no_fsync(tmp_path: Path) -> None:
    """Keyed in-flight marks return nothing to await, ride the next commit, and fsync nothing."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        syncs = journal.syncs
        assert journal.mark_in_flight([(0, "h0", True), (1, "h1", True)]) is None
        await journal.committed()
        assert peek(path, "SELECT idx, state FROM rows ORDER BY idx") == [
            (0, "in_flight"),
            (1, "in_flight"),
        ]
        assert journal.syncs == syncs
    finally:
        await journal.aclose()


async def test_a_keyless_mark_is_committed_with_an_fsync_before_its_future_resolves(
    tmp_path: Path,
) -> None:
    """A keyless row's mark (and a keyed one with it) is durable once the returned future is."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        syncs = journal.syncs
        pending = journal.mark_in_flight([(0, "h0", True), (1, "h1", False)])
        assert pending is not None
        await pending
        assert journal.syncs == syncs + 1
        assert peek(path, "SELECT idx, state FROM rows ORDER BY idx") == [
            (0, "in_flight"),
            (1, "in_flight"),
        ]
    finally:
        await journal.aclose()


async def test_one_fsync_covers_a_window_of_keyless_rows_and_writes_no_row(
    tmp_path: Path,
) -> None:
    """Keyless rows taken in order share one durable window commit; none gets a record."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        syncs = journal.syncs
        first = journal.cover(0, keyed=False)
        assert first is not None  # the first row waits for the window's fsync
        await first
        assert journal.syncs == syncs + 1
        assert all(journal.cover(i, keyed=False) is None for i in range(1, WINDOW // 2))
        assert journal.syncs == syncs + 1
        assert journal_window(path) == WINDOW
        assert peek(path, "SELECT count(*) FROM rows WHERE idx >= 0") == [(0,)]
    finally:
        await journal.aclose()


async def test_keyed_rows_move_the_window_without_an_fsync(tmp_path: Path) -> None:
    """A window moved for keyed rows costs no fsync; a keyless row under it asks for one."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        syncs = journal.syncs
        assert all(journal.cover(i, keyed=True) is None for i in range(10))
        await journal.committed()
        assert journal_window(path) == WINDOW
        assert journal.syncs == syncs
        journal.record_outcomes_nowait([(0, "h0", True, "created", 1, None)])  # lazy, queued
        keyless = journal.cover(10, keyed=False)
        assert keyless is not None
        await asyncio.wait_for(keyless, 10)  # the queued lazy write goes durable, not later
        assert journal.syncs == syncs + 1
    finally:
        await journal.aclose()


async def test_the_window_moves_ahead_before_the_workers_reach_its_end(tmp_path: Path) -> None:
    """Half-way through a window the next one is written; rows of the old one need no wait."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    now = set_clock(journal)
    try:
        first = journal.cover(0, keyed=False)
        assert first is not None
        await first
        half = WINDOW // 2
        now[0] = 10.0  # a slow send rate: the window keeps its least reach
        # Moves the end to half + WINDOW, in a commit of its own; row `half` was covered.
        assert journal.cover(half, keyed=False) is None
        assert journal.cover(half + 1, keyed=False) is None
        await journal.committed()
        assert journal_window(path) == half + WINDOW
        now[0] = 20.0
        beyond = journal.cover(WINDOW, keyed=False)  # under the second window; moves it again
        if beyond is not None:
            await beyond
        await journal.committed()
        assert journal_window(path) == 2 * WINDOW
    finally:
        await journal.aclose()


async def test_the_window_reaches_further_at_a_high_send_rate_and_back(tmp_path: Path) -> None:
    """A move reaches 0.2 s of rows at the measured rate (doubling at most, capped), then 256."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    now = set_clock(journal)
    try:
        index = 0

        def send(rows: int, rate: float) -> list[int]:
            # Rows taken one by one at `rate` rows a second; the reach after each move.
            nonlocal index
            reaches = []
            for _ in range(rows):
                now[0] += 1 / rate
                end = journal._send._end
                journal.cover(index, keyed=True)
                if journal._send._end != end:
                    reaches.append(journal._send.reach)
                index += 1
            return reaches

        fast = send(20_000, 10_000)
        # 10,000 rows/s x 0.2 s = 2,000 rows, reached by doubling from the least reach.
        assert fast[:4] == [WINDOW, 2 * WINDOW, 4 * WINDOW, round(10_000 * REACH_SECONDS)]
        assert set(fast[3:]) == {2000}
        await journal.committed()
        assert journal_window(path) == journal._send._end
        assert send(5_000, 100)[-1] == WINDOW  # back to the least reach at 100 rows/s
        assert max(send(100_000, 1_000_000)) == WINDOW_MAX  # never beyond the cap
    finally:
        await journal.aclose()


async def test_an_orderly_close_pulls_the_window_back_to_the_first_untaken_row(
    tmp_path: Path,
) -> None:
    """aclose(unsent_from=) leaves only taken rows inside it, never below an earlier window."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    journal.cover(0, keyed=True)
    await journal.aclose(unsent_from=5)
    assert journal_window(path) == 5
    again = await Journal.open(path, None)
    assert again.window == 5
    again.cover(5, keyed=True)
    await again.aclose(unsent_from=2)  # nothing of this run taken below 5: the earlier window
    assert journal_window(path) == 5
    kept = await Journal.open(path, None)
    kept.cover(5, keyed=True)
    await kept.aclose()  # no unsent_from (a caller that cannot tell): the window stays
    assert journal_window(path) == 5 + WINDOW


async def test_lazy_outcomes_of_many_rows_go_in_one_commit(tmp_path: Path) -> None:
    """Outcomes written without waiting are gathered: 200 rows, one commit, no fsync."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        commits, syncs = journal.commits, journal.syncs
        for i in range(200):
            journal.record_outcomes_nowait([(i, f"h{i}", True, "created", i + 1, None)])
        await journal.committed()
        assert journal.commits == commits + 1
        assert journal.syncs == syncs
        assert peek(path, "SELECT count(*) FROM rows WHERE state = 'done'") == [(200,)]
    finally:
        await journal.aclose()


async def test_closing_commits_lazy_writes_with_an_fsync(tmp_path: Path) -> None:
    """Lazy writes still queued at close are committed, in a durable commit."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    syncs = journal.syncs
    journal.record_outcomes_nowait([(0, "h0", True, "created", 7, None)])
    assert journal.mark_in_flight([(1, "h1", True)]) is None
    await journal.aclose()
    assert journal.syncs == syncs + 1
    assert peek(path, "SELECT idx, state FROM rows ORDER BY idx") == [(0, "done"), (1, "in_flight")]


async def test_a_failed_commit_fails_its_waiters(tmp_path: Path) -> None:
    """A group whose commit fails raises its error to the waiters of its window and marks."""
    journal = await Journal.open(tmp_path / "j.db", None)
    try:
        journal._writer.write_nowait([("not an index", "h", "in_flight", None, None, None, 0.0)])
        window = journal.cover(0, keyed=False)
        waiter = journal.mark_in_flight([(1, "h1", False)])
        assert window is not None
        assert waiter is not None
        with pytest.raises(sqlite3.IntegrityError):
            await window
        with pytest.raises(sqlite3.IntegrityError):
            await waiter
    finally:
        await journal.aclose()


# --- files written by earlier versions -----------------------------------------------------------

# The layout every earlier version wrote (schema version 1), as it wrote it: it still resumes.
_V1_TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID",
    "CREATE TABLE rows (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL, state TEXT NOT NULL, "
    "outcome TEXT, customer_id INTEGER, error TEXT, updated REAL)",
)


def _write_v1(path: Path, version: str, rows: list[tuple[Any, ...]]) -> None:
    """A journal file as an earlier version left it (WAL, ``pending`` rows and all)."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for ddl in _V1_TABLES:
            conn.execute(ddl)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("version", version), ("job_id", "job-1"), ("created", "1700000000.0")],
        )
        conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, 1700000000.0)", rows)


async def test_a_journal_of_the_previous_version_resumes(
    chargeover_sandbox: Sandbox, tmp_path: Path
) -> None:
    """Done rows are kept, pending ones sent, in-flight keyed looked up, keyless never resent."""
    rows: list[dict[str, Any]] = [
        {"external_key": "v1-0", "company": "Done"},
        {"external_key": "v1-1", "company": "Pending"},
        {"external_key": "v1-2", "company": "In flight, stored"},
        {"company": "In flight, keyless"},
        {"external_key": "v1-4", "company": "Failed"},
        {"company": "Pending, keyless"},
    ]
    h = [row_hash(r) for r in rows]
    path = tmp_path / "old.db"
    _write_v1(
        path,
        "1",
        [
            (0, h[0], "done", "created", 41, None),
            (1, h[1], "pending", None, None, None),
            (2, h[2], "in_flight", None, None, None),
            (3, h[3], "in_flight", None, None, None),
            (4, h[4], "failed", "failed", None, "ServerError: 503"),
            (5, h[5], "pending", None, None, None),
        ],
    )
    async with client_for(chargeover_sandbox) as client:
        await client.customers.create(**rows[2])  # the earlier run's request got through
        job = client.customers.create_many(rows, journal=path, job_id="job-1")
        got = {r.index: r async for r in job}
    assert (got[0].outcome, got[0].customer_id, got[0].resumed) == (RowOutcome.CREATED, 41, True)
    assert got[1].outcome is RowOutcome.CREATED
    assert (got[2].outcome, got[2].recovered) == (RowOutcome.EXISTED, True)
    assert got[3].outcome is RowOutcome.UNKNOWN
    assert got[4].outcome is RowOutcome.CREATED
    assert got[5].outcome is RowOutcome.CREATED
    companies = sorted(str(c["company"]) for c in chargeover_sandbox.customers.values())
    assert companies == ["Failed", "In flight, stored", "Pending", "Pending, keyless"]
    assert peek(path, "SELECT DISTINCT state FROM rows WHERE idx >= 0") == [("done",)]


async def test_a_journal_of_an_unknown_schema_version_is_refused_clearly(tmp_path: Path) -> None:
    """A file of another schema version is refused, naming both versions and what to do."""
    path = tmp_path / "new.db"
    _write_v1(path, "3", [])
    with pytest.raises(JournalMismatchError, match=r"schema version '3'.*reads versions 1, 2"):
        await Journal.open(path, "job-1")


async def test_a_version_1_journal_becomes_version_2_when_opened(tmp_path: Path) -> None:
    """Opening a version-1 file marks it version 2, so an SDK that knows only 1 refuses it."""
    path = tmp_path / "old.db"
    _write_v1(path, "1", [])
    journal = await Journal.open(path, "job-1")
    assert journal.window == 0
    await journal.aclose()
    assert ("version", "2") in peek(path, "SELECT key, value FROM meta")


@pytest.mark.parametrize("json", [True, False])
def test_a_group_of_writes_applies_in_order_later_ones_winning(tmp_path: Path, json: bool) -> None:
    """One statement (JSON) or one per row: the same records, the last write of an index wins."""
    from customer_sdk._journal._schema import connect, has_json, setup, upsert

    conn = connect(str(tmp_path / "j.db"))
    try:
        assert has_json(conn)  # the SQLite bundled with every supported Python has it
        setup(conn, str(tmp_path / "j.db"), None)
        upsert(
            conn,
            [
                (0, "h0", "in_flight", None, None, None, 1.0),
                (1, "h1", "in_flight", None, None, None, 1.0),
                (0, "h0", "done", "created", 9, None, 2.5),
            ],
            json,
        )
        rows = conn.execute("SELECT * FROM rows ORDER BY idx").fetchall()
    finally:
        conn.close()
    assert rows == [
        (0, "h0", "done", "created", 9, None, 2.5),
        (1, "h1", "in_flight", None, None, None, 1.0),
    ]


async def test_a_lazy_write_of_no_rows_is_committed_like_any_other(tmp_path: Path) -> None:
    """write_nowait([]) leaves no future unresolved: committed() resolves, later writes land."""
    path = tmp_path / "j.db"
    journal = await Journal.open(path, None)
    try:
        journal._writer.write_nowait([])
        empty = journal.committed()
        journal.flush()
        await asyncio.wait_for(empty, 10)
        journal.record_outcomes_nowait([(3, "h3", True, "created", 7, None)])
        journal.flush()
        await asyncio.wait_for(journal.committed(), 10)
        assert peek(path, "SELECT idx, customer_id FROM rows WHERE idx >= 0") == [(3, 7)]
    finally:
        await journal.aclose()
