"""The problems of an import grouped by reason, each with a count and a few example rows.

The failures report lists every problem of every row; the end of a run needs the shape of
them instead: which reasons, how many rows each, and a few rows to look at first
(``rejected 2: company: is required (rows 4 "k-4", 9 "k-9")``). :class:`Problems` counts them
as they come, in bounded memory (a few examples per reason, a capped number of reasons), and
:func:`format_problems` renders the lines under the summary. A reason is the problem's text
without the value it quotes (``expected a whole number, got 'abc'`` and ``..., got '1.5'``
are one reason), so a messy file gives a few groups rather than one per bad value.

Keys and reasons are customer and server text shown on a terminal: they are masked
(:func:`~customer_sdk._progress.scrub`), cut short, and their control characters escaped, so
no cell can move the cursor or rewrite the screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from customer_sdk._progress._scrub import scrub
from customer_sdk._progress._tally import OUTCOMES

__all__ = ["Problems", "format_problems"]

EXAMPLES: Final = 3
"""Example rows kept (and shown) per reason."""
_MAX_GROUPS: Final = 200  # distinct reasons kept; later ones are counted as "other reasons"
_OTHER: Final = "(other reasons)"
_REASON_WIDTH: Final = 100
_KEY_WIDTH: Final = 30


def _printable(text: str, width: int) -> str:
    """``text`` cut to ``width``, each control character escaped as its repr does it."""
    if len(text) > width:
        text = text[: width - 1] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _reason(text: str) -> str:
    """The reason without the value it quotes: ``, got ...`` is where messages echo it."""
    head, sep, _ = text.partition(", got ")
    return head if sep else text


@attrs.define
class _Group:
    """One reason's count and first few rows (line, key)."""

    count: int = 0
    examples: list[tuple[int, str | None]] = attrs.field(factory=list)


class Problems:
    """Rows' problems grouped by outcome and reason, counted as they are reported.

    A row with two problems counts once under each of its reasons.

    Attributes:
        groups: ``(outcome, reason)`` to its group, in the order first seen.
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], _Group] = {}

    def add(self, outcome: str, reason: str, line: int, key: str | None) -> None:
        """Count one problem of one row.

        Args:
            outcome: ``rejected``, ``unknown`` or ``failed``.
            reason: The problem, e.g. ``company: is required`` or ``AuthenticationError: ...``.
            line: The row's line in the input file.
            key: The row's ``external_key``, if any.
        """
        name = (outcome, _reason(reason))
        group = self.groups.get(name)
        if group is None:
            if len(self.groups) >= _MAX_GROUPS:
                name = (outcome, _OTHER)
            group = self.groups.setdefault(name, _Group())
        group.count += 1
        if len(group.examples) < EXAMPLES:
            group.examples.append((line, key))

    def __bool__(self) -> bool:
        return bool(self.groups)


def _example(line: int, key: str | None, secrets: Iterable[str]) -> str:
    if not key:
        return str(line)
    return f'{line} "{_printable(scrub(key, secrets), _KEY_WIDTH)}"'


def format_problems(
    problems: Problems, *, report: str | None, secrets: Iterable[str] = (), limit: int = 12
) -> str:
    """Render the problems under the summary: one line per reason, most frequent first.

    Args:
        problems: The problems counted.
        report: The failures report's path, where the full list is; None when the run wrote
            none (the last line then says ``--report FILE`` would).
        secrets: Values to mask in keys and reasons.
        limit: Reasons shown; the rest are summed up in one line.

    Returns:
        Zero lines when there were no problems, else a heading and one line per reason, each
        ending with a newline.
    """
    if not problems:
        return ""
    secrets = tuple(secrets)
    order = {o: i for i, o in enumerate(OUTCOMES)}
    groups = sorted(problems.groups.items(), key=lambda kv: (order.get(kv[0][0], 99), -kv[1].count))
    where = report if report is not None else "--report FILE"
    lines = [f"problems by reason (full list: {where}):"]
    for (outcome, reason), group in groups[:limit]:
        rows = ", ".join(_example(line, key, secrets) for line, key in group.examples)
        more = ", …" if group.count > len(group.examples) else ""
        noun = "row" if group.count == 1 else "rows"
        why = _printable(scrub(reason, secrets), _REASON_WIDTH)
        lines.append(f"  {outcome} {group.count:,}: {why} ({noun} {rows}{more})")
    rest = groups[limit:]
    if rest:
        count = sum(g.count for _, g in rest)
        reasons = "reason" if len(rest) == 1 else "reasons"
        rows = "problem" if count == 1 else "problems"
        lines.append(f"  … {len(rest)} more {reasons} ({count:,} {rows}): see {where}")
    return "\n".join(lines) + "\n"
