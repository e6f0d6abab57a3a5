"""The option types of ``customer-sdk``: each parses one option's text, or says what is wrong.

argparse calls these with an option's text and reports an ``ArgumentTypeError`` as a usage
error (exit status 2), naming the option. Kept apart from the commands' option lists
(:mod:`._parser`, :mod:`._import_options`) because several commands share them; a number of
seconds or requests per second is :func:`customer_sdk.cli._common.positive_float`.
"""

from __future__ import annotations

import argparse

__all__ = ["field_pair", "positive_int", "shard"]


def positive_int(text: str) -> int:
    """Parse a whole number >= 1 (``--concurrency``, ``--burst``, ``--batch-size``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def shard(text: str) -> tuple[int, int]:
    """Parse ``--shard i/n`` into ``(i, n)`` with ``0 <= i < n``."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise argparse.ArgumentTypeError(f"shard index must be in 0..n-1, got {text!r}")
    return i, n


def field_pair(text: str) -> tuple[str, str]:
    """Parse ``--field name=value`` into ``(name, value)``; the value may be empty."""
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value
