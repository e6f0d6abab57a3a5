r"""What an import shows and writes: the live progress line, the summary table, the failures CSV.

The progress line is redrawn in place (``\r``) on a terminal, and printed as a plain line every
few seconds when the output is a file or a pipe (a CI log must not fill with carriage returns).
Nothing here reads rows or talks to the network; it is handed counts and results. Every text that
reaches the screen or the report goes through :func:`scrub`, which masks the secrets it was given.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Final

import attrs

from customer_sdk.errors import FieldError

__all__ = [
    "FailureReport",
    "Progress",
    "Tally",
    "format_summary",
    "format_table",
    "render_line",
    "scrub",
]

OUTCOMES: Final = ("created", "existed", "rejected", "unknown", "failed")
_OK: Final = frozenset({"created", "existed"})
# Spreadsheets execute a cell that starts with one of these as a formula ("CSV injection"):
# a customer name like "=HYPERLINK(...)" must not become one in the failures report.
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


@attrs.define
class Tally:
    """Rows counted by outcome, live.

    Attributes:
        counts: Rows per outcome (``created``, ``existed``, ``rejected``, ``unknown``, ``failed``).
        resumed: Rows whose outcome came from the journal of an earlier run (also in ``counts``).
    """

    counts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(OUTCOMES, 0))
    resumed: int = 0

    def add(self, outcome: str, *, resumed: bool = False) -> None:
        """Count one finished row.

        Args:
            outcome: One of :data:`OUTCOMES`.
            resumed: True when the outcome was taken from the journal.
        """
        self.counts[outcome] += 1
        self.resumed += resumed

    @property
    def done(self) -> int:
        """Rows finished so far."""
        return sum(self.counts.values())

    @property
    def all_ok(self) -> bool:
        """True when every finished row was created or already existed."""
        return all(n == 0 for name, n in self.counts.items() if name not in _OK)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Mask every occurrence of each secret (defence in depth: the SDK never emits them).

    Args:
        text: The text.
        secrets: Values that must not be shown (empty ones are ignored).

    Returns:
        The text with each secret replaced by ``***``.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def render_line(
    tally: Tally,
    total: int | None,
    elapsed: float,
    *,
    throttled: int,
    requests: int,
    width: int,
    bar: bool,
) -> str:
    """Render the one-line progress report.

    Args:
        tally: The counts so far.
        total: The expected number of rows (an estimate), or None when unknown.
        elapsed: Seconds since the import started.
        throttled: 429 answers seen so far.
        requests: HTTP requests made so far.
        width: The terminal width the line must fit in.
        bar: Draw a bar (terminal) or not (plain log line).

    Returns:
        The line, without a line ending.
    """
    done = tally.done
    # The total comes from a line count: never show more done than expected.
    total = max(total, done) if total is not None else None
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = f"ETA {_duration((total - done) / rate)}" if total and rate > 0 else "ETA --:--"
    counts = f"{done}/{total}" if total is not None else f"{done}"
    core = f"{counts} {rate:,.0f} rows/s {eta}"
    tail = " | " + ", ".join(_parts(tally, throttled, _LONG))
    if not bar:
        return f"{_duration(elapsed)} {core}{tail} | {requests} requests"
    pct = f"{100 * done / total:3.0f}%" if total else "  ?%"
    room = width - 1 - len(pct) - len(core) - 4
    if len(tail) + 10 > room:
        # A narrow terminal: short labels, so the throttled count is not the part cut off.
        tail = " | " + " ".join(_parts(tally, throttled, _SHORT))
    # The bar takes what the counts leave, between 10 and 40 cells; if even the short counts
    # do not fit they are cut, never the bar, the rate or the ETA.
    cells = max(10, min(40, room - len(tail)))
    filled = cells * done // total if total else 0
    line = f"{pct} [{'#' * filled}{'.' * (cells - filled)}] {core}{tail}"
    return line[: max(width - 1, 20)]


_LONG: Final = {
    "created": "created",
    "existed": "existed",
    "rejected": "rejected",
    "unknown": "unknown",
    "failed": "failed",
    "resumed": "resumed",
    "throttled": "throttled",
}
_SHORT: Final = {
    "created": "new",
    "existed": "found",
    "rejected": "rej",
    "unknown": "unk",
    "failed": "fail",
    "resumed": "resumed",
    "throttled": "429s",
}


def _parts(tally: Tally, throttled: int, label: dict[str, str]) -> list[str]:
    """The counts shown: created and existed always, the others once they are not zero."""
    c = tally.counts
    parts = [f"{c['created']} {label['created']}", f"{c['existed']} {label['existed']}"]
    parts += [f"{c[n]} {label[n]}" for n in ("rejected", "unknown", "failed") if c[n]]
    if tally.resumed:
        parts.append(f"{tally.resumed} {label['resumed']}")
    parts.append(f"{throttled} {label['throttled']}")
    return parts


class Progress:
    """Draws :func:`render_line` to a stream: redrawn in place on a TTY, plain lines otherwise.

    Args:
        stream: Where to draw (the CLI uses stderr, keeping stdout for the summary).
        total: The expected number of rows, or None.
        tty: Redraw in place (a terminal) rather than print lines.
        interval: Seconds between plain lines when not a TTY.
        clock: Monotonic seconds (injectable for tests).
        secrets: Values to mask in anything drawn.
    """

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        tty: bool,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        secrets: Iterable[str] = (),
    ) -> None:
        self.stream = stream
        self.total = total
        self.tty = tty
        self.interval = interval
        self._clock = clock
        self._secrets = tuple(secrets)
        self.started = clock()
        self._last_plain = self.started
        self._width = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return self._clock() - self.started

    def tick(self, tally: Tally, *, throttled: int, requests: int) -> None:
        """Redraw (TTY) or print a line if ``interval`` has passed since the last (plain).

        Args:
            tally: The counts so far.
            throttled: 429 answers so far.
            requests: HTTP requests so far.
        """
        now = self._clock()
        if not self.tty:
            if now - self._last_plain < self.interval:
                return
            self._last_plain = now
        self._draw(tally, throttled=throttled, requests=requests)

    def finish(self, tally: Tally, *, throttled: int, requests: int) -> None:
        """Draw the final state and end the line.

        Args:
            tally: The final counts.
            throttled: 429 answers in all.
            requests: HTTP requests in all.
        """
        self._draw(tally, throttled=throttled, requests=requests)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        # A fresh pty reports 0 columns: fall back like shutil.get_terminal_size does.
        return columns if columns > 0 else shutil.get_terminal_size((100, 24)).columns

    def _draw(self, tally: Tally, *, throttled: int, requests: int) -> None:
        width = self._columns() if self.tty else 200
        line = render_line(
            tally,
            self.total,
            self.elapsed,
            throttled=throttled,
            requests=requests,
            width=width,
            bar=self.tty,
        )
        line = scrub(line, self._secrets)
        if self.tty:
            # Pad over the previous, possibly longer, line instead of relying on ESC[K.
            pad = " " * max(0, self._width - len(line))
            self._width = len(line)
            self.stream.write(f"\r{line}{pad}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def format_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """Render a two-column table: labels left, values right-aligned.

    Args:
        title: The heading.
        rows: (label, value) pairs.

    Returns:
        The table, several lines ending with a newline.
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
    rate = done / elapsed if elapsed > 0 else 0.0
    return format_table(
        title,
        [
            ("rows", f"{done:,}"),
            ("created", f"{c['created']:,}"),
            ("existed (found by key)", f"{c['existed']:,}"),
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


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


class FailureReport:
    """The failures CSV: one line per problem of every row that did not end created/existed.

    Columns: ``row`` (the line in the input file), ``external_key``, ``outcome``, ``field`` (empty
    when the problem is the whole row's) and ``reason``. The file is created up front, so after a
    clean run it holds just the header rather than a stale report from an earlier run.

    Args:
        path: Where to write; an existing file is replaced.
        secrets: Values to mask in every cell.

    Attributes:
        secrets: Values masked in every cell written from now on (the CLI sets them once the
            credentials are known).

    Raises:
        OSError: The file cannot be created.
    """

    HEADER: Final = ("row", "external_key", "outcome", "field", "reason")

    def __init__(self, path: Path, *, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.secrets = tuple(secrets)
        # backslashreplace: a key or column name read from bytes that are not UTF-8 carries
        # surrogate escapes (see _rows), and one such row must not crash the whole import.
        self._file = path.open("w", encoding="utf-8", errors="backslashreplace", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.HEADER)
        self.lines = 0

    def add(
        self,
        row: int,
        key: str | None,
        outcome: str,
        problems: Iterable[FieldError] = (),
        reason: str = "",
    ) -> None:
        """Write one line per field problem, or a single line with ``reason`` when there are none.

        Args:
            row: The row's line in the input file.
            key: Its ``external_key``, if any.
            outcome: ``rejected``, ``unknown``, ``failed``, or ``unfinished`` (the job stopped
                before the row had a result).
            problems: Field problems (one line each).
            reason: The whole-row reason, used when ``problems`` is empty.
        """
        items = [(p.path, p.message) for p in problems] or [("", reason)]
        for field, why in items:
            self._writer.writerow(
                [
                    row,
                    _cell(scrub(key or "", self.secrets)),
                    outcome,
                    _cell(field),
                    _cell(scrub(why, self.secrets)),
                ]
            )
            self.lines += 1

    def close(self) -> None:
        """Flush and close the file. Idempotent."""
        self._file.close()
