"""MkDocs hook: put the real ``customer-sdk --help`` texts into the CLI reference page.

A page line ``<!-- customer-sdk-help: import -->`` becomes a code block with what
``customer-sdk import --help`` prints (``<!-- customer-sdk-help: -->`` for the top-level help),
so the page can never drift from the parser. An unknown command name fails the build.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import Any

from customer_sdk.cli._parser import build_parser

_MARKER = re.compile(r"^<!-- customer-sdk-help: ?([a-z]*) -->$", re.MULTILINE)
# argparse wraps to the terminal's width: a fixed one keeps the page the same on every machine.
_WIDTH = "88"


def _help(command: str) -> str:
    """What ``customer-sdk [command] --help`` prints, wrapped at :data:`_WIDTH` columns."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _WIDTH
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([command, "--help"] if command else ["--help"])
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    if not out.getvalue():  # argparse printed a usage error to stderr instead
        raise ValueError(f"customer-sdk has no command {command!r}")
    return out.getvalue()


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each help marker of a page with that command's help text.

    Args:
        markdown: The page's Markdown.
        **kwargs: The rest of MkDocs' hook arguments (unused).

    Returns:
        The Markdown with every marker replaced.
    """
    return _MARKER.sub(lambda m: "```text\n" + _help(m.group(1)).rstrip() + "\n```", markdown)
