r"""What an import shows and writes: the live progress line, the summary table, the failures CSV.

Nothing here reads rows or talks to the network: the command line hands it counts and results.
Every text that reaches the screen or the report goes through :func:`scrub`, which masks the
secrets it was given (``docs/faults.md`` "Secrets and hostile input"). Its modules, each
depending only on those after it::

    _bar       Progress: draws the line, redrawn in place on a TTY, plain lines otherwise
    _line      render_line: the one line (bar, counts, rate, ETA), fitted to a width
    _failures  FailureReport: the failures CSV, safe to open in a spreadsheet
    _problems  Problems, format_problems: the problems grouped by reason, under the summary
    _tables    format_table, format_summary: the end-of-run table
    _tally     Tally: rows counted by outcome, live
    _scrub     scrub: mask the secrets in a text
"""

from customer_sdk._progress._bar import Progress
from customer_sdk._progress._failures import FailureReport
from customer_sdk._progress._line import render_line
from customer_sdk._progress._problems import Problems, format_problems
from customer_sdk._progress._scrub import scrub
from customer_sdk._progress._tables import format_summary, format_table
from customer_sdk._progress._tally import OUTCOMES, Tally

__all__ = [
    "OUTCOMES",
    "FailureReport",
    "Problems",
    "Progress",
    "Tally",
    "format_problems",
    "format_summary",
    "format_table",
    "render_line",
    "scrub",
]
