"""The durable job journal (SQLite) that makes a bulk import resumable.

Each input row has one journal row, keyed by its 0-based index and checked by a hash of its
canonical wire content, moving through these states::

    (no record) ──> in_flight ──> done    (created / existed / updated / rejected / unknown w/o key)
                              └─> failed  (retried by the next run; a keyed row is looked up first)

A keyless row's ``in_flight`` is committed with an fsync *before* its request is sent (it is
never sent again after a crash: nothing could tell whether it was stored); a keyed row's is
lazy, because the server's unique ``external_key`` refuses a second create and the row is then
reconciled by lookup (``docs/faults.md`` F25). An outcome is committed before the row's result
is handed to the caller. The whole argument, kill -9 and power cut: ``docs/architecture.md``,
"The journal"; how group commit makes it cheap: :mod:`._writer`.

The journal stores no credentials and no customer data: only indexes, content hashes,
outcomes, ids and error texts. It sends no HTTP request and decides nothing about retries. Its
modules, each depending only on those after it::

    _cursor    JournalCursor: the last run's entries alongside the input, chunk by chunk
    _journal   Journal: the job-facing API (open, record states and outcomes, read, close)
    _writer    Writer: the loop's side of the SQLite thread; lazy writes; the durability promise
    _group     GroupCommitter: the thread: one transaction per group, FULL or NORMAL per group
    _schema    the file: opening it (WAL), its tables, every statement
    _records   RowState, JournalEntry, row_hash: the values recorded
"""

from customer_sdk._journal._cursor import JournalCursor
from customer_sdk._journal._journal import Journal
from customer_sdk._journal._records import JournalEntry, RowState, row_hash

__all__ = ["Journal", "JournalCursor", "JournalEntry", "RowState", "row_hash"]
