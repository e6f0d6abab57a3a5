"""Masking secrets in anything the command line shows or writes.

The SDK never puts a credential into a message; this is defence in depth for the texts the
command line prints and the report it writes (``docs/faults.md`` "Secrets and hostile input"),
e.g. a server's error message that echoed a header. It masks exact values only: it does not
find secrets it was not given.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["scrub"]


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
