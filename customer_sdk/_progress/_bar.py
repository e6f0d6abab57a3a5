r"""Drawing the progress line to a stream: redrawn in place on a terminal, plain lines otherwise.

Two modes, chosen by the caller (the command line passes ``stream.isatty()``):

- **TTY**: every :meth:`Progress.tick` redraws the line in place: ``\r``, the line, and spaces
  over whatever the previous, longer line left (padding rather than ``ESC[K``, which not every
  terminal honours). The width is read from the terminal at each draw, so a resized window is
  followed; a fresh pty that reports 0 columns falls back as :func:`shutil.get_terminal_size`
  does (``COLUMNS``, else 100). The caller
  decides how often to tick (``TTY_REDRAW`` in the CLI). :meth:`Progress.finish` ends the line.
- **plain** (a file, a pipe, a CI log): a tick prints a whole line, at most once per
  ``interval`` seconds, since a log must not fill with carriage returns or with one line per
  row. The line is laid out for 200 columns and has no bar.

Every line is masked with :func:`~customer_sdk._progress.scrub` before it is written. The
layout itself is :func:`~customer_sdk._progress.render_line`'s.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from typing import IO

from customer_sdk._progress._line import render_line
from customer_sdk._progress._scrub import scrub
from customer_sdk._progress._tally import Tally

__all__ = ["Progress"]


class Progress:
    """Draws :func:`render_line` to a stream: redrawn in place on a TTY, plain lines otherwise.

    Args:
        stream: Where to draw (the CLI uses stderr, keeping stdout for the summary).
        total: The expected number of rows, or None.
        tty: Redraw in place (a terminal) rather than print lines.
        interval: Seconds between plain lines when not a TTY.
        clock: Monotonic seconds (injectable for tests).
        secrets: Values to mask in anything drawn.

    Attributes:
        started: The clock time the progress started.
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
