r"""The one-line progress report: bar, counts, rate, ETA and the outcome counts, in a width.

:func:`render_line` is a pure function of the counts, the time and the width, so every layout
rule is testable without a terminal. Two shapes:

- **bar** (a terminal): ``42% [#####.....] 420/1000 35 rows/s ETA 0:16 | 400 created, ...``.
  The line must fit the terminal's width, or redrawing it with ``\r`` would leave a trail of
  wrapped lines. The bar takes what the counts leave, between 10 and 40 cells; on a narrow
  terminal the outcome labels are shortened (``new``, ``found``, ``429s``) before anything is
  cut, and if even those do not fit the counts are cut, never the bar, the rate or the ETA.
- **plain** (a file or pipe): ``0:12 420/1000 35 rows/s ETA 0:16 | ... | 430 requests``,
  with the elapsed time first, for a log read later.

The rate and the ETA count only the rows this run finished, not those a resumed run took from
its journal. Outcomes that are still zero (other than created and existed) are left out; the
throttled count is always shown, since it explains a slow run. It draws nothing itself (see
:mod:`._bar`).
"""

from __future__ import annotations

from typing import Final

from customer_sdk._progress._tally import Tally

__all__ = ["render_line"]

_LONG: Final = {
    "created": "created",
    "existed": "existed",
    "updated": "updated",
    "rejected": "rejected",
    "unknown": "unknown",
    "failed": "failed",
    "resumed": "resumed",
    "throttled": "throttled",
}
_SHORT: Final = {
    "created": "new",
    "existed": "found",
    "updated": "upd",
    "rejected": "rej",
    "unknown": "unk",
    "failed": "fail",
    "resumed": "resumed",
    "throttled": "429s",
}


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _parts(tally: Tally, throttled: int, label: dict[str, str]) -> list[str]:
    """The counts shown: created and existed always, the others once they are not zero."""
    c = tally.counts
    parts = [f"{c['created']} {label['created']}", f"{c['existed']} {label['existed']}"]
    parts += [f"{c[n]} {label[n]}" for n in ("updated", "rejected", "unknown", "failed") if c[n]]
    if tally.resumed:
        parts.append(f"{tally.resumed} {label['resumed']}")
    parts.append(f"{throttled} {label['throttled']}")
    return parts


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
    # Rows taken from the journal were finished by an earlier run: counting them would make a
    # resumed run look fast and its ETA short.
    rate = tally.fresh / elapsed if elapsed > 0 else 0.0
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
