"""Bulk creates: the streaming, bounded, resumable job behind ``customers.create_many``.

The job is split by what each part does, and data flows one way through them::

    rows ─▶ _intake (validate, resume from the journal) ─▶ queue ─▶ _workers (send, settle)
                                                                      │
    caller ◀─ results queue ◀─ _outlet (journal, count, stop policy) ◀┘

- :mod:`._job`: :class:`BulkJob`'s lifecycle (start, iterate, close) and the wiring;
- :mod:`._intake`: reading and validating rows, resuming from the journal;
- :mod:`._workers`: sending rows one by one or in ``_bulk`` batches, rounds per row;
- :mod:`._policy`: the job's limiter (which also times each request) and the stop policy;
- :mod:`._concurrency`: how many rows may be in flight, from round trips and the paced rate;
- :mod:`._circuit`: the outage circuit, its probe (bounded by ``max_outage``), and the
  observer that feeds it;
- :mod:`._options`: ``create_many``'s options checked, every problem named;
- :mod:`._outlet`: results journaled, counted and handed out;
- :mod:`._dupes`: finding the rows that repeat an earlier row's ``external_key``;
- :mod:`._results`: the values handed out and the rules that turn a failure into an outcome.

Every request goes through the engine (:mod:`customer_sdk._engine`); this package builds no
wire strings and parses no responses.
"""

from customer_sdk._bulk._circuit import MAX_OUTAGE
from customer_sdk._bulk._dupes import FirstSeen, duplicate_error
from customer_sdk._bulk._job import BulkJob
from customer_sdk._bulk._results import BulkStats, RowOutcome, RowResult

__all__ = [
    "MAX_OUTAGE",
    "BulkJob",
    "BulkStats",
    "FirstSeen",
    "RowOutcome",
    "RowResult",
    "duplicate_error",
]
