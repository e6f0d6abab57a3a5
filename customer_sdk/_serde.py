"""The one cattrs converter: strict on the way in, unset fields omitted on the way out.

cattrs' default converter coerces silently (``company=123`` becomes ``"123"``, ``True`` becomes
``1``, ``1.7`` becomes ``1``; faults.md, "Secrets and hostile input"). This module registers
hooks that refuse every such coercion, so a bad row raises one
:class:`~customer_sdk.errors.ValidationError` naming every bad field with its path. It never
touches the global converter, and it does no I/O; JSON bytes are made with orjson here too so the
body that is signed is exactly the body that is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cattrs
import orjson

from customer_sdk._models import ACCEPTED_NAMES, Customer, CustomerCreate
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["converter", "dumps", "structure_create", "unstructure_create"]


def _strict(expected: type) -> Any:
    def hook(value: object, _: type) -> object:
        # type() and not isinstance(): bool must not pass for int, int not for float.
        if type(value) is not expected:
            raise TypeError(f"expected {expected.__name__}, got {type(value).__name__}")
        return value

    return hook


def structure_create(obj: object, _cls: type = CustomerCreate) -> CustomerCreate:
    """Turn a mapping (a JSON object, a CSV row after typing) into a validated CustomerCreate.

    Args:
        obj: The candidate fields, by wire name; ``extra`` may hold unlisted fields.
        _cls: Ignored; present for the cattrs hook signature.

    Returns:
        The model.

    Raises:
        ValidationError: Listing every problem: unknown or missing fields and bad values.
    """
    if isinstance(obj, CustomerCreate):
        return obj
    if not isinstance(obj, Mapping):
        raise ValidationError([FieldError("$", f"expected an object, got {type(obj).__name__}")])
    kwargs: dict[str, Any] = {}
    unknown: list[FieldError] = []
    for key, value in obj.items():
        if key in ACCEPTED_NAMES:
            kwargs[key] = value
        else:
            unknown.append(
                FieldError(str(key), "unknown field (send it through extra= if intended)")
            )
    # A missing company is reported with the other problems, not as attrs' TypeError.
    kwargs.setdefault("company", None)
    try:
        model = CustomerCreate(**kwargs)
    except ValidationError as exc:
        problems = [*exc.errors, *unknown]
    else:
        if not unknown:
            return model
        problems = unknown
    raise ValidationError(problems)


def unstructure_create(model: CustomerCreate) -> dict[str, Any]:
    """Build the wire JSON object for a create: only the fields that were set.

    Args:
        model: A validated model.

    Returns:
        A new dict of wire name to JSON value; ``tags`` as a list, ``extra`` merged in.
    """
    return dict(model._wire)


def dumps(model: CustomerCreate) -> bytes:
    """Serialise a create body once, as UTF-8 JSON with non-ASCII text intact.

    Args:
        model: A validated model.

    Returns:
        The exact bytes to send (and, under signature auth, to sign).
    """
    # The model's own wire dict, not a copy: orjson only reads it.
    return orjson.dumps(model._wire)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    for primitive in (int, str, bool, float):
        conv.register_structure_hook(primitive, _strict(primitive))
    conv.register_structure_hook(CustomerCreate, structure_create)
    conv.register_unstructure_hook(CustomerCreate, unstructure_create)
    conv.register_structure_hook(Customer, lambda obj, _: Customer.from_wire(obj))
    return conv


converter: Final[cattrs.Converter] = _make_converter()
