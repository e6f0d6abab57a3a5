"""The sandbox's customer listing and ``_count``: query parameters in, ChargeOver's answers out.

``GET /api/v3/customer?where=...&order=...&limit=N&offset=M`` answers with a list of customer
objects, ``[]`` past the end (recordings: ``tests/recordings/list_200_2026.json``,
``tests/recordings/query_by_key_200.json``, ``tests/recordings/query_empty_page_200.json``);
``GET /api/v3/customer/_count?where=...`` answers with the number of matches as ``response``
(docs/chargeover-api.md, "Counting"). Parameters the server cannot use are a 400 with the
documented "Missing or invalid parameter." (docs/chargeover-api.md, "Errors"). This module
knows nothing of faults, auth or sockets, and records nothing in the audit log.
"""

from __future__ import annotations

import itertools
from typing import Final, NamedTuple
from urllib.parse import parse_qsl

from customer_sdk.sandbox import _wire
from customer_sdk.sandbox._store import INVALID, Store
from customer_sdk.sandbox._where import WhereError, parse_order, parse_where

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "count_answer", "list_answer"]

# docs/chargeover-api.md, "Paging": neither number is documented. invented: 10 is what
# ChargeOver's Python SDK and PHP paging example use; 500 is the largest page seen asked of a
# live account (a third-party connector). Above it the sandbox answers 400.
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 500
_BY_ID: Final = [("customer_id", False)]


class _Params(NamedTuple):
    clauses: list[tuple[str, str, str | None]]
    order: list[tuple[str, bool]]
    limit: int
    offset: int


def _params(query: str) -> _Params | None:
    """The listing's parameters, or None when the server cannot use them."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    try:
        clauses = parse_where(params["where"]) if params.get("where") else []
        order = parse_order(params.get("order"))
        limit = int(params.get("limit") or DEFAULT_LIMIT)
        offset = int(params.get("offset") or 0)
    except (WhereError, ValueError):
        return None
    if not (0 < limit <= MAX_LIMIT and offset >= 0):
        return None
    return _Params(clauses, order, limit, offset)


def list_answer(store: Store, query: str, lag: float) -> tuple[int, bytes]:
    """One page of a listing (``where``, ``order``, ``limit``, ``offset``; all optional).

    Args:
        store: The customers.
        query: The raw query string.
        lag: Customers stored less than this many seconds ago are invisible (0: none).

    Returns:
        200 and the envelope whose ``response`` is the page's list, or 400.
    """
    p = _params(query)
    if p is None:
        # docs/chargeover-api.md, "Errors": ChargeOver's documented 400 text (doc [S2], [S7]).
        return 400, _wire.envelope(400, False, INVALID)
    if not p.clauses and p.order in ([], _BY_ID) and lag <= 0:
        # An export's plain listing: ids are handed out in ascending order and the table keeps
        # insertion order, so a page is a slice, not a sort of every customer per page.
        end = p.offset + p.limit
        rows = list(itertools.islice(store.customers.values(), p.offset, end))
    else:
        rows = store.query(p.clauses, order=p.order, limit=p.limit, offset=p.offset, lag=lag)
    # The message "" and details {} of a 200: tests/recordings/list_200_2026.json.
    return 200, _wire.envelope(200, rows)


def count_answer(store: Store, query: str) -> tuple[int, bytes]:
    """``GET /api/v3/customer/_count``: how many customers match ``where`` (all when absent).

    Args:
        store: The customers.
        query: The raw query string (``limit``, ``offset`` and ``order`` are checked, unused).

    Returns:
        200 and the envelope whose ``response`` is the count, or 400.
    """
    p = _params(query)
    if p is None:
        # docs/chargeover-api.md, "Errors": ChargeOver's documented 400 text (doc [S2], [S7]).
        return 400, _wire.envelope(400, False, INVALID)
    # No recorded _count answer exists: the integer response is ChargeOver's PHP example's
    # (docs/chargeover-api.md, "Counting"), the empty message that of every recorded 200.
    everything = max(1, len(store.customers))
    matches = store.query(p.clauses, order=[], limit=everything, offset=0)
    return 200, _wire.envelope(200, len(matches))
