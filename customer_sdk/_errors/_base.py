"""The root of the exception tree and the errors raised before any I/O.

:class:`ChargeOverError` is what every other module of :mod:`customer_sdk._errors` derives
from, so it lives alone at the bottom; beside it are the two errors of bad input (settings and
fields), which are also ``ValueError``s and never involve a server.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = ["ChargeOverError", "ConfigurationError", "FieldError", "ValidationError"]


class ChargeOverError(Exception):
    """Root of every exception raised by customer_sdk.

    Args:
        message: A human-readable description, free of credentials.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(ChargeOverError, ValueError):
    """The client was configured in a way that is refused (e.g. plain HTTP to a remote host)."""


@attrs.frozen
class FieldError:
    """One problem with one field of a model or input row.

    Attributes:
        path: Where the problem is, e.g. ``company`` or ``tags[2]``.
        message: What is wrong, e.g. ``expected str, got int``.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ValidationError(ChargeOverError, ValueError):
    """Input failed local validation; nothing was sent.

    Every problem is reported at once, each with its field path.

    Args:
        errors: Each problem found, in field order.
        model: The name of the model being validated.

    Attributes:
        errors: The problems, as :class:`FieldError` records.
    """

    def __init__(self, errors: Sequence[FieldError], model: str = "CustomerCreate") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        n = len(self.errors)
        listing = "; ".join(str(e) for e in self.errors)
        super().__init__(f"{n} invalid field{'s' if n != 1 else ''} in {model}: {listing}")
