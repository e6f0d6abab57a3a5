"""The journal's SQLite file: how it is opened, its two tables, and every statement run on it.

Two tables: ``meta`` (schema version, the job id, creation time) and ``rows`` (one per input
row, keyed by its index). Every write is one upsert of whole rows (:data:`UPSERT`), so a row's
record is always one consistent state, whatever was recorded before it. The send window is the
row at index -1 (:func:`window_row`): its ``customer_id`` is one number, and every row below it
that has no record may have been sent (``docs/architecture.md``, "The journal"). Kept as a row,
it goes in the same single statement as the rows' records.

Opening sets the durability (see :mod:`customer_sdk._journal._writer` for what it buys):
``journal_mode=WAL`` (a commit appends to the ``-wal`` file beside the database: readers, such
as another process peeking at progress, never block the writer) and ``synchronous=FULL`` (the
WAL is fsynced at every commit, not only at checkpoints). The writer then lowers it to
``NORMAL`` for each group of commits that needs no fsync (:mod:`._group`).

Every function here runs on the journal's writer thread, never on the event loop; none of them
commits (the writer does, once per group).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any, Final

import orjson

from customer_sdk._journal._records import JournalEntry, RowState
from customer_sdk.errors import JournalMismatchError

__all__ = [
    "UPSERT",
    "connect",
    "count_states",
    "outcome_row",
    "outcome_rows",
    "read_entries",
    "window_row",
    "setup",
    "state_rows",
    "upsert",
]

# Version 2 added the send window (the row at index -1): rows below it with no record may have
# been sent. A version-1 file (no window) is read as it is and becomes version 2 when opened,
# so an SDK that knows only version 1 refuses it instead of sending those rows again.
_SCHEMA_VERSION: Final = "2"
_READABLE: Final = ("1", "2")
WINDOW_INDEX: Final = -1  # the send window's row: below every input row, never read as one
_ERROR_LIMIT: Final = 512  # error texts are cut here: the journal is a ledger, not a log

UPSERT: Final = (
    "INSERT INTO rows (idx, hash, state, outcome, customer_id, error, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idx) DO UPDATE SET hash = excluded.hash, "
    "state = excluded.state, outcome = excluded.outcome, "
    "customer_id = excluded.customer_id, error = excluded.error, updated = excluded.updated"
)
"""Write one whole row record; the parameters are a tuple from :func:`state_rows` or
:func:`outcome_rows`."""


UPSERT_JSON: Final = (
    "INSERT INTO rows (idx, hash, state, outcome, customer_id, error, updated) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
    "json_extract(value, '$[5]'), json_extract(value, '$[6]') FROM json_each(?) WHERE true "
    "ON CONFLICT(idx) DO UPDATE SET hash = excluded.hash, "
    "state = excluded.state, outcome = excluded.outcome, "
    "customer_id = excluded.customer_id, error = excluded.error, updated = excluded.updated"
)
""":data:`UPSERT` for many rows in one statement: their tuples as one JSON array, applied in
order (``json_each`` yields them so). One statement is one release of the GIL by the writer
thread instead of one per row, so the event loop is interrupted once per group, not per row."""


def has_json(conn: sqlite3.Connection) -> bool:
    """Whether SQLite's JSON functions are there (built in since 3.38, usually before).

    Args:
        conn: A connection.

    Returns:
        True when :data:`UPSERT_JSON` can run.
    """
    try:
        conn.execute("SELECT json_extract('[1]', '$[0]') FROM json_each('[1]')").fetchall()
    except sqlite3.Error:
        return False
    return True


def upsert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], json: bool) -> None:
    """Write rows' records, in order, later ones for an index winning.

    Args:
        conn: The writer's connection (inside its transaction).
        rows: :data:`UPSERT` parameter tuples.
        json: Whether :data:`UPSERT_JSON` may be used (see :func:`has_json`).
    """
    if json and len(rows) > 1:
        conn.execute(UPSERT_JSON, (orjson.dumps(rows).decode(),))
    else:
        conn.executemany(UPSERT, rows)


def connect(path: str) -> sqlite3.Connection:
    """Open (or create) the database file with the journal's durability settings.

    Args:
        path: The database file.

    Returns:
        A connection in autocommit mode (the writer opens and commits each transaction).

    Raises:
        sqlite3.Error: The file cannot be opened or is not a database.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL until the writer says otherwise: in WAL mode NORMAL may lose the last commits on
        # power loss, and a keyless row's "in flight before sent" must survive one (_group).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        conn.close()  # not a database (or unreadable): no connection left for the GC to find
        raise
    return conn


def setup(conn: sqlite3.Connection, path: str, job_id: str | None) -> tuple[int, int]:
    """Create the tables of a new journal, or check an existing one belongs to this job.

    Args:
        conn: The writer's connection (inside its transaction).
        path: The database file, for error messages.
        job_id: The input's fingerprint.

    Returns:
        The highest row index recorded (-1 for an empty journal), and the send window's end
        (0 for none: a new journal, or one of version 1).

    Raises:
        JournalMismatchError: The journal has another schema version or another job id.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS rows (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
        "state TEXT NOT NULL, outcome TEXT, customer_id INTEGER, error TEXT, updated REAL)"
    )
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if not meta:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("version", _SCHEMA_VERSION), ("job_id", job_id), ("created", time.time())],
        )
    else:
        if meta.get("version") not in _READABLE:
            raise JournalMismatchError(
                f"journal {path!r} has schema version {meta.get('version')!r}, and this "
                f"version of customer_sdk reads versions {', '.join(_READABLE)}: resume it with "
                "the customer_sdk that wrote it, or use a new journal path"
            )
        if meta.get("job_id") != job_id:
            raise JournalMismatchError(
                f"journal {path!r} belongs to another input (job_id "
                f"{meta.get('job_id')!r}, this job has {job_id!r}); "
                "use a new journal path for a new input"
            )
        if meta["version"] != _SCHEMA_VERSION:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (_SCHEMA_VERSION,))
    (top,) = conn.execute("SELECT coalesce(max(idx), -1) FROM rows").fetchone()
    found = conn.execute("SELECT customer_id FROM rows WHERE idx = ?", (WINDOW_INDEX,)).fetchone()
    return int(top), 0 if found is None else int(found[0])


def window_row(end: int) -> tuple[Any, ...]:
    """:data:`UPSERT` parameters that record the send window's end (the row at index -1).

    Args:
        end: The first index not covered: rows below it with no record may have been sent.

    Returns:
        The parameter tuple.
    """
    return (WINDOW_INDEX, "", "window", None, end, None, time.time())


def state_rows(entries: Iterable[tuple[int, str]], state: RowState) -> list[tuple[Any, ...]]:
    """:data:`UPSERT` parameters that move rows to ``state`` with no outcome, id or error.

    Args:
        entries: ``(index, hash)`` per row.
        state: ``in_flight`` (a re-send clears the last run's outcome).

    Returns:
        One parameter tuple per row.
    """
    now = time.time()
    return [(i, h, state.value, None, None, None, now) for i, h in entries]


_DONE: Final = RowState.DONE.value
_FAILED: Final = RowState.FAILED.value


def outcome_row(
    index: int,
    content_hash: str,
    final: bool,
    outcome: str,
    customer_id: int | None,
    error: str | None,
) -> tuple[Any, ...]:
    """:data:`UPSERT` parameters that record one row's outcome (the one-row :func:`outcome_rows`).

    Args:
        index: The row's index.
        content_hash: Its hash.
        final: True for ``done``, False for ``failed``.
        outcome: The outcome's name: any name, so a new outcome needs no change here.
        customer_id: The customer's id, if known.
        error: The error text (cut to 512 characters), or None.

    Returns:
        The parameter tuple.
    """
    return (
        index,
        content_hash,
        _DONE if final else _FAILED,
        outcome,
        customer_id,
        None if error is None else error[:_ERROR_LIMIT],
        time.time(),
    )


def outcome_rows(
    outcomes: Iterable[tuple[int, str, bool, str, int | None, str | None]],
) -> list[tuple[Any, ...]]:
    """:data:`UPSERT` parameters that record rows' outcomes (``done`` or ``failed``).

    Args:
        outcomes: Per row ``(index, hash, final, outcome, customer_id, error)``; ``final``
            True means ``done``, False ``failed``. Errors are cut to 512 characters.

    Returns:
        One parameter tuple per row.
    """
    return [outcome_row(*outcome) for outcome in outcomes]


def read_entries(conn: sqlite3.Connection, start: int, limit: int) -> list[JournalEntry]:
    """Entries with ``index >= start`` in index order, at most ``limit``.

    Args:
        conn: The writer's connection.
        start: The first index wanted.
        limit: The most entries returned.

    Returns:
        The entries.
    """
    cur = conn.execute(
        "SELECT idx, hash, state, outcome, customer_id, error FROM rows "
        "WHERE idx >= ? ORDER BY idx LIMIT ?",
        (max(start, 0), limit),
    )
    return [JournalEntry(r[0], r[1], RowState(r[2]), r[3], r[4], r[5]) for r in cur]


def count_states(conn: sqlite3.Connection) -> dict[str, int]:
    """How many rows are in each state.

    Args:
        conn: The writer's connection.

    Returns:
        State name to count (states with no rows left out).
    """
    rows = conn.execute("SELECT state, count(*) FROM rows WHERE idx >= 0 GROUP BY state")
    return dict(rows.fetchall())
