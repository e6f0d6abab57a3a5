"""Finding the rows of one input that repeat an earlier row's ``external_key``.

``external_key`` is what makes a create idempotent (``docs/chargeover-api.md``): a second row
with the same key would find the first row's customer and be reported "existed", its data
silently dropped. So the later row is rejected instead, naming the first one, and never sent.

Memory: the input is streamed, so the keys cannot be kept as text (a key may be long). Each key
is kept as an 8-byte blake2b digest mapped to the position of its first row: measured with
tracemalloc, about 110 MB per million distinct keys (the dict, the 8-byte ``bytes`` and the
position ``int``). Two different keys sharing a digest would make the later one a false
duplicate; with 64 bits that is about one chance in 3.7·10^7 for a million keys (n²/2^65).
Keyless rows are never duplicates and cost nothing.
"""

from __future__ import annotations

import hashlib

from customer_sdk.errors import FieldError, ValidationError

__all__ = ["DUPLICATE", "FirstSeen", "duplicate_error"]

DUPLICATE = "duplicate_in_input"
"""The code that starts a duplicate row's error message."""


class FirstSeen:
    """The position of the first row that had each ``external_key``, in about 110 bytes a key."""

    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first: dict[bytes, int] = {}

    def earlier(self, key: str, position: int) -> int | None:
        """Remember ``key`` at ``position``, unless an earlier row had it.

        Asking again for the same position is not a duplicate (a row is never its own).

        Args:
            key: The row's ``external_key``.
            position: The row's position (an index, or a line of a file).

        Returns:
            The first row's position when another row had the key first, else None.
        """
        raw = key.encode("utf-8", "surrogateescape")
        digest = hashlib.blake2b(raw, digest_size=8).digest()
        first = self._first.setdefault(digest, position)
        return None if first == position else first

    def __len__(self) -> int:
        """How many distinct keys are remembered.

        Returns:
            The number of keys.
        """
        return len(self._first)


def duplicate_error(where: str) -> ValidationError:
    """The error of a row whose ``external_key`` an earlier row of the input had.

    Args:
        where: The first row, as the caller counts rows (e.g. ``the row at index 3``).

    Returns:
        A :class:`~customer_sdk.errors.ValidationError` on ``external_key``.
    """
    message = f"{DUPLICATE}: the same external_key as {where}; not sent"
    return ValidationError([FieldError("external_key", message)])
