"""One input row made ready to send: validated into a :class:`~._results.Row`, or rejected.

Every row of a bulk job passes here first, journaled or not; a bad row becomes a REJECTED
result naming every problem, never an exception that would stop the job.
"""

from __future__ import annotations

from collections.abc import Mapping

from customer_sdk._bulk._results import Row, RowOutcome, RowResult
from customer_sdk._models import wire_of
from customer_sdk.errors import ValidationError

__all__ = ["prepare"]


def prepare(index: int, raw: object) -> tuple[Row | None, RowResult | None]:
    """Validate one input row.

    Args:
        index: Its 0-based position.
        raw: A :class:`CustomerCreate` or a mapping of wire fields (anything else is rejected).

    Returns:
        A row to send, or its REJECTED result.
    """
    try:
        wire = wire_of(raw)
    except ValidationError as exc:
        key = raw.get("external_key") if isinstance(raw, Mapping) else None
        key = key if isinstance(key, str) and key else None
        return None, RowResult(index, key, RowOutcome.REJECTED, None, exc)
    return Row(index, wire.get("external_key"), wire, ""), None
