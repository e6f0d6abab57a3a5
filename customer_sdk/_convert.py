"""The one cattrs converter: every create input structured by the rules of :mod:`._rules`.

One private ``cattrs.Converter`` (the global one is never touched) holds every hook: the create
rules and, from :mod:`customer_sdk._read`, the lenient read hooks. cattrs generates once, at
import, the function that structures a mapping into the wire dict
(:class:`~customer_sdk._fields.CustomerFields`) with detailed validation on: every problem of a
row is collected and reported in one :class:`~customer_sdk.errors.ValidationError`, each with
its path (``company``, ``tags[0]``, ``extra.key``, ``$``), in wire order, then the unknown fields.

A valid input (nearly every create) takes a leaner road to the same hooks: they are run on the
fields it has only (:func:`_plain`), and any doubt hands it to cattrs' function. There is no
second set of rules. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import override
from cattrs.gen.typeddicts import make_dict_structure_fn

from customer_sdk._fields import ACCEPTED_NAMES, CustomerFields
from customer_sdk._rules import HOOK_OF, UNKNOWN, Invalid
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["UNKNOWN", "CheckedWire", "converter", "structure_set", "structure_wire"]


def _problems(exc: BaseException, path: str) -> list[FieldError]:
    """Flatten one collected exception into field errors under ``path``."""
    if isinstance(exc, Invalid):
        return [FieldError(path, str(exc))]
    if isinstance(exc, IterableValidationError):  # tags: one problem per bad tag
        items, other = exc.group_exceptions()
        out = [e for sub, note in items for e in _problems(sub, f"{path}[{note.index}]")]
        return out + [e for sub in other for e in _problems(sub, path)]
    if isinstance(exc, ClassValidationError):  # extra: one problem per bad key
        keys, other = exc.group_exceptions()
        out = [e for sub, note in keys for e in _problems(sub, f"{path}.{note.name}")]
        return out + [e for sub in other for e in _problems(sub, path)]
    if isinstance(exc, KeyError):  # cattrs: a Required key is missing
        return [FieldError(path, "is required")]
    return [FieldError(path, str(exc))]  # pragma: no cover - every hook raises Invalid


def _unknown(values: Mapping[Any, Any]) -> list[FieldError]:
    # In the input's order, after every field problem; an unknown name is an error even when
    # its value is None (a typo must not pass silently as "unset").
    return [FieldError(str(k), UNKNOWN) for k in values if k not in ACCEPTED_NAMES]


def _errors(exc: ClassValidationError, values: Mapping[Any, Any]) -> ValidationError:
    """One ValidationError from what cattrs collected: wire order, then the unknown fields."""
    noted, other = exc.group_exceptions()
    # cattrs reports the fields in the TypedDict's order, which is wire order.
    out = [e for sub, note in noted for e in _problems(sub, note.name)]
    out += [e for sub in other for e in _problems(sub, "$")]
    return ValidationError(out + _unknown(values))


def _make_converter() -> tuple[cattrs.Converter, Callable[[Any, Any], dict[str, Any]]]:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    hooks: dict[str, Any] = {n: override(struct_hook=h) for n, h in HOOK_OF.items() if n != "extra"}
    # Unknown keys are found by structure_wire instead of by cattrs: its check builds a set
    # difference on every call (0.6 us of a 2.5 us budget); a subset test is 0.1 us.
    fn = make_dict_structure_fn(
        CustomerFields,
        conv,
        _cattrs_forbid_extra_keys=False,
        _cattrs_detailed_validation=True,
        extra=override(struct_hook=HOOK_OF["extra"]),
        **hooks,
    )
    return conv, fn


converter, _structure_fields = _make_converter()
"""The SDK's one converter (private: never cattrs' global one)."""


# What a hook raises for a bad value, or the name lookup for an unknown field.
_NOT_PLAIN: Final = (Invalid, IterableValidationError, ClassValidationError, KeyError)


def _plain(values: dict[Any, Any]) -> dict[str, Any] | None:
    """The valid common case: the same hooks, run on the given fields only; None on any doubt.

    cattrs' generated function tests every one of the 60 field names for presence on every call
    (about 1.5 us of a create's CPU, benchmarks P1i); this runs only the hooks of the fields
    given. It decides nothing the hooks do not: on any failure the caller runs cattrs'
    function, which names every problem with its path.
    """
    hook_of = HOOK_OF
    wire = {}
    try:
        for name, value in values.items():
            hook = hook_of[name]  # first: an unknown name fails even when its value is unset
            if value is not None:
                wire[name] = hook(value, None)
    except _NOT_PLAIN:
        return None
    if "company" not in wire:  # required: cattrs' function says so
        return None
    if "extra" in wire:
        wire.update(wire.pop("extra"))  # its hook refused keys that shadow a field
    if wire.get("external_key") == "":
        del wire["external_key"]  # ChargeOver's "no key" (docs/chargeover-api.md, "Values")
    return wire


def structure_wire(values: Mapping[Any, Any], *, owned: bool = False) -> dict[str, Any]:
    """Validate create fields into a new wire dict: ``None`` means unset, ``extra`` merged in.

    The fields of a valid input run through their hooks once (:func:`_plain`); anything else
    goes through the cattrs-generated function with detailed validation, which collects every
    problem. Both run the same hooks: the rules live only there.

    Args:
        values: Field name to value.
        owned: ``values`` is a dict only the caller holds: unset fields may be deleted from it
            in place instead of copying it.

    Returns:
        The wire JSON object: a new dict, ``tags`` as a new list.

    Raises:
        ValidationError: Listing every problem, each with its path: wire order, then the
            unknown fields.
    """
    if type(values) is dict:
        wire = _plain(values)
        if wire is not None:
            return wire
    else:
        values, owned = _as_dict(values), True
    try:
        unset = None in values.values()
    except (TypeError, ValueError):  # a value whose == refuses None (an array, say)
        unset = True
    if unset:  # dropped up front: a None would fail its hook
        values = _drop_unset(values, owned)
    if not ACCEPTED_NAMES.issuperset(values):
        _structure_set(values)  # names the problems with the fields too, if there are any
        raise ValidationError(_unknown(values))
    return _structure_set(values)


def structure_set(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a model's set fields (known names, no ``None``) into a new wire dict.

    The model's own entry to :func:`structure_wire`, without the two checks its attributes
    make needless (unset values, unknown names).

    Args:
        values: Field name to value, every name a field or ``extra``, no value ``None``.

    Returns:
        The wire JSON object.

    Raises:
        ValidationError: Listing every problem, each with its path, in wire order.
    """
    wire = _plain(values)
    return wire if wire is not None else _structure_set(values)


def _structure_set(values: dict[str, Any]) -> dict[str, Any]:
    """Cattrs' generated function: the wire dict, or every problem with its path."""
    try:
        wire = _structure_fields(values, CustomerFields)
    except ClassValidationError as exc:
        raise _errors(exc, values) from None
    if "extra" in wire:
        wire.update(wire.pop("extra"))  # its hook refused keys that shadow a field
    if wire.get("external_key") == "":
        del wire["external_key"]  # ChargeOver's "no key" (docs/chargeover-api.md, "Values")
    return wire


def _as_dict(values: object) -> dict[Any, Any]:
    if not isinstance(values, Mapping):
        what = f"expected an object, got {type(values).__name__}"
        raise ValidationError([FieldError("$", what)])
    return dict(values)


def _drop_unset(values: dict[Any, Any], owned: bool) -> dict[Any, Any]:
    if not owned:
        return {k: v for k, v in values.items() if v is not None or k not in ACCEPTED_NAMES}
    for k in [k for k, v in values.items() if v is None and k in ACCEPTED_NAMES]:
        del values[k]
    return values


class CheckedWire(dict[str, Any]):
    """A wire dict this converter produced, read-only: :func:`wire_of` trusts it unchecked.

    The CSV/JSONL reader hands its rows over as these, so a row validated there is not
    validated again by the bulk job. Copies are plain dicts (and so are checked again).
    """

    __slots__ = ()

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TypeError("a checked wire dict is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse
    __ior__ = _refuse

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)


converter.register_structure_hook_func(
    lambda cl: cl is CustomerFields, lambda obj, _: structure_wire(obj)
)
