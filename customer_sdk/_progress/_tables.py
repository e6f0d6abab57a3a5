"""The end-of-run summary: a two-column table of counts, time and requests.

Pure text in, text out; the command line prints it to stdout (the progress line is on stderr,
so ``customer-sdk import ... > summary.txt`` keeps just the table).
"""

from __future__ import annotations

from collections.abc import Iterable

from customer_sdk._progress._tally import Tally

__all__ = ["format_summary", "format_table"]


def format_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """Render a two-column table: labels left, values right-aligned.

    Args:
        title: The heading.
        rows: (label, value) pairs; at least one.

    Returns:
        The table, several lines ending with a newline.

    Raises:
        ValueError: ``rows`` is empty.
    """
    rows = list(rows)
    label_w = max(len(label) for label, _ in rows)
    value_w = max(len(value) for _, value in rows)
    rule = "-" * (label_w + value_w + 3)
    lines = [title, rule, *(f"{label:<{label_w}}   {value:>{value_w}}" for label, value in rows)]
    lines.append(rule)
    return "\n".join(lines) + "\n"


def format_summary(
    tally: Tally,
    *,
    elapsed: float,
    requests: int,
    throttled: int,
    title: str = "Import summary",
    extra: Iterable[tuple[str, str]] = (),
) -> str:
    """Render the end-of-run table.

    Args:
        tally: The final counts.
        elapsed: Seconds the run took.
        requests: HTTP requests made.
        throttled: 429 answers received.
        title: The table's heading.
        extra: More (label, value) lines to append.

    Returns:
        The table, several lines ending with a newline.
    """
    c = tally.counts
    done = tally.done
    rate = tally.fresh / elapsed if elapsed > 0 else 0.0  # not the rows taken from the journal
    return format_table(
        title,
        [
            ("rows", f"{done:,}"),
            ("created", f"{c['created']:,}"),
            ("already existed", f"{c['existed'] - tally.recovered:,}"),
            ("recovered (ours, reply lost)", f"{tally.recovered:,}"),
            # Only an upsert import (--update-existing) updates: other summaries are unchanged.
            *([("updated (upsert)", f"{c['updated']:,}")] if c["updated"] else []),
            ("rejected", f"{c['rejected']:,}"),
            ("unknown", f"{c['unknown']:,}"),
            ("failed", f"{c['failed']:,}"),
            ("resumed (from journal)", f"{tally.resumed:,}"),
            ("elapsed", f"{elapsed:.1f} s"),
            ("rows/s", f"{rate:,.0f}"),
            ("HTTP requests", f"{requests:,}"),
            ("throttled (429)", f"{throttled:,}"),
            *extra,
        ],
    )
