"""What a CSV file's first bytes and first line say before any row is read.

:func:`sniff_delimiter` picks the file's delimiter among ``,``, ``;`` and tab (spreadsheets
export ``;`` where the decimal separator is a comma, and tab for "text"), and
:func:`unknown_columns` finds the header's names that are not ChargeOver customer fields, each
with the closest field name as a suggestion, so that a misspelt column is refused before
anything is sent instead of failing on every row that fills it. Nothing here opens a file.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable
from typing import Final

import attrs

from customer_sdk._fields import FIELD_NAMES

__all__ = ["DELIMITERS", "UnknownColumn", "sniff_delimiter", "unknown_columns"]

DELIMITERS: Final = ",;\t"
"""The delimiters a CSV file may use; anything else is read as ``,``."""

_KNOWN: Final = frozenset(FIELD_NAMES)


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV file, judged from its first few KB.

    :class:`csv.Sniffer`, restricted to :data:`DELIMITERS`, judges the complete lines of the
    sample (a line cut at the sample's end would skew its counts). When it cannot decide (a
    one-column file, say), the candidate the header line holds most of wins, and ``,`` when it
    holds none: header names are field names, which contain no delimiter.

    Args:
        sample: The start of the file, decoded.

    Returns:
        ``,``, ``;`` or a tab.
    """
    complete = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(complete, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        best = max(DELIMITERS, key=first.count)
        return best if first.count(best) else ","


@attrs.frozen
class UnknownColumn:
    """A header name that is not a ChargeOver customer field.

    Attributes:
        name: The name as the header has it (stripped).
        suggestion: The closest field name, or None when none is close.
    """

    name: str
    suggestion: str | None

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        return f"{self.name!r}{hint}"


def unknown_columns(names: Iterable[str]) -> list[UnknownColumn]:
    """The header's names that are not ChargeOver customer fields, in header order.

    Empty names (a spare column without a heading) are not reported here: a value under one is
    that row's problem. The suggestion is :func:`difflib.get_close_matches` against the field
    names, compared in lower case (``Company`` suggests ``company``), with a high cutoff: a
    wrong suggestion (``notes``: ``no_taxes``?) misleads more than none.

    Args:
        names: The header's column names.

    Returns:
        One :class:`UnknownColumn` per unknown name.
    """
    lower = {n.lower(): n for n in FIELD_NAMES}
    out = []
    for name in names:
        if name and name not in _KNOWN:
            close = difflib.get_close_matches(name.lower(), lower, n=1, cutoff=0.8)
            out.append(UnknownColumn(name, lower[close[0]] if close else None))
    return out
