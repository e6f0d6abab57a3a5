"""The read model's lenient hooks: one per attribute type, none of which ever raises.

The customer object ChargeOver sends back is wide and loose (``docs/chargeover-api.md``,
"Looking customers up"): ids of ``0`` or ``null`` become None, ``no_procfees: 0`` becomes False,
both datetime forms parse, numbers given as strings are read, and a value that cannot be read
becomes None rather than an error. Kept apart from :mod:`customer_sdk._read` (the model and
its registration on the converter) because these are plain value rules, the opposite of the
create's strict ones in :mod:`customer_sdk._rules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

__all__ = ["read_hook"]


def _id(value: object, _: object = None) -> int | None:
    number = _count(value)
    return number or None  # ChargeOver writes 0 for "no id"


def _count(value: object, _: object = None) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _flag(value: object, _: object = None) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is int:
        return bool(value)  # no_procfees comes back as the number 0 (docs/chargeover-api.md)
    text = value.strip().lower() if isinstance(value, str) else None
    return text in {"1", "true"} if text in {"0", "1", "true", "false"} else None


def _text(value: object, _: object = None) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and type(value) is not bool:
        return str(value)  # a phone or postcode sent back as a number
    return None


def _key(value: object, _: object = None) -> str | None:
    return value if isinstance(value, str) and value else None  # "" is no key


def _money(value: object, _: object = None) -> Decimal | None:
    if type(value) is bool or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _datetime(value: object, _: object = None) -> dt.datetime | None:
    # Both "2015-03-19 08:55:33" and "2026-03-10T01:01:49-05:00" occur (docs/chargeover-api.md).
    if isinstance(value, str) and value and not value.startswith("0000"):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _tags(value: object, _: object = None) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(t) for t in value)
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    return ()


def _frozen(value: object, _: object = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value) if isinstance(value, Mapping) else {})


def read_hook(name: str, hint: object) -> Callable[[object, object], object]:
    """The lenient hook of one attribute of the read model, by its type.

    Args:
        name: The attribute's wire name: ``external_key`` and the ``*_id`` fields are read
            by name (an empty key and an id of ``0`` are unset).
        hint: Its resolved type.

    Returns:
        A cattrs structure hook that never raises (None, or ``()``, for a value it cannot read).
    """
    if name == "external_key":
        return _key
    by_type: dict[object, Callable[[object, object], object]] = {
        int | None: _id if name.endswith("_id") else _count,
        bool | None: _flag,
        Decimal | None: _money,
        dt.datetime | None: _datetime,
        tuple[str, ...]: _tags,
        Mapping[str, Any]: _frozen,
    }
    return by_type.get(hint, _text)
