"""The durable job journal (SQLite) that makes a bulk import resumable.

Each input row has one journal row, keyed by its 0-based index and checked by a hash of its
canonical wire content, moving through these states::

    pending ──> in_flight ──> done      (created / existed / updated / rejected / unknown w/o key)
                          └─> failed    (retried by the next run; a keyed row is looked up first)

``in_flight`` is committed durably *before* the row's request is sent, and the outcome is
committed before the row's result is handed to the caller, so a run killed at any point leaves
every row it may have sent in ``in_flight`` or later: the next run reconciles those by lookup
(``docs/faults.md`` F25) instead of sending them blindly again. What survives a kill -9 and
what a power cut, and how group commit makes that cheap: :mod:`._writer`.

The journal stores no credentials and no customer data: only indexes, content hashes,
outcomes, ids and error texts. It sends no HTTP request and decides nothing about retries. Its
modules, each depending only on those after it::

    _cursor    JournalCursor: the last run's entries alongside the input, chunk by chunk
    _journal   Journal: the job-facing API (open, record states and outcomes, read, close)
    _writer    Writer: the one SQLite thread, group commit, the durability promise
    _schema    the file: opening it (WAL, synchronous=FULL), its tables, every statement
    _records   RowState, JournalEntry, row_hash: the values recorded
"""

from customer_sdk._journal._cursor import JournalCursor
from customer_sdk._journal._journal import Journal
from customer_sdk._journal._records import JournalEntry, RowState, row_hash

__all__ = ["Journal", "JournalCursor", "JournalEntry", "RowState", "row_hash"]
