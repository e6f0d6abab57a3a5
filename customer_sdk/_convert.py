"""The one cattrs converter: strict hooks on the way in, one function per direction.

cattrs' default converter coerces silently (``company=123`` becomes ``"123"``, ``True`` becomes
``1``, ``1.7`` becomes ``1``; ``docs/faults.md``, "Secrets and hostile input"). Here every create
field gets a strict hook, picked by its kind in :data:`~customer_sdk._fields.FIELD_KINDS`, and
cattrs generates, once at import, the function that structures a mapping into the wire dict
(:class:`~customer_sdk._fields.CustomerFields`) with detailed validation on: every problem of a
row is collected by cattrs and reported in one :class:`~customer_sdk.errors.ValidationError`,
each with its path (``company``, ``tags[0]``, ``extra.key``, ``$``), in wire order, then the
unknown fields. That generated function is the create's hot path: there is no second validator.

The lenient hooks of the read model live in :mod:`customer_sdk._read`, on this same converter.
The global cattrs converter is never touched. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

import cattrs
from cattrs.errors import AttributeValidationNote as _KeyNote
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.errors import IterableValidationNote as _IndexNote
from cattrs.gen import override
from cattrs.gen.typeddicts import make_dict_structure_fn

from customer_sdk._fields import ACCEPTED_NAMES, FIELD_KINDS, CustomerFields
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["UNKNOWN", "CheckedWire", "converter", "structure_set", "structure_wire"]

UNKNOWN: Final = "unknown field (send it through extra= if intended)"
_CONTROL_MSG: Final = "must not contain CR, LF or NUL characters"
_SURROGATE_MSG: Final = "is not valid text (holds a lone surrogate, which UTF-8 cannot encode)"
_DELIVERY_VALUES: Final = ("email", "print")
# JSON types a value in ``extra`` may have (anything orjson would serialise faithfully).
_JSON_SCALARS: Final = (str, int, float, bool, type(None))


class _Invalid(ValueError):
    """One problem with one value; the path is added from cattrs' notes."""


def _fail(message: str) -> NoReturn:
    raise _Invalid(message)


def encodable(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (it holds no lone surrogate, such as U+D800).

    Only called for non-ASCII text: one C-level encode, no Python loop per character.

    Args:
        text: The text.

    Returns:
        False when it holds a surrogate, which orjson (and any UTF-8 encoder) refuses.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_problem(value: object) -> str:
    """Why a value is not acceptable text (only called once it failed the inline check)."""
    # type() and not isinstance(): a str subclass may override anything, and bool is an int.
    if type(value) is not str:
        return f"expected str, got {type(value).__name__}"
    if not (value.isascii() or encodable(value)):
        # A lone surrogate would pass every other check, then stop orjson with a TypeError
        # (a row in a bulk job would stop the whole job: docs/faults.md, "Secrets and hostile
        # input").
        return _SURROGATE_MSG
    # CR, LF and NUL are never legitimate in these values and are the raw material of header
    # and log injection (docs/faults.md, "Secrets and hostile input").
    return _CONTROL_MSG


# The text checks are written out in each hook: this is the per-field hot path, and a nested
# call per field would cost more than the check itself.
def _str_hook(value: Any, _: object) -> str:
    if (
        type(value) is str
        and "\n" not in value
        and "\r" not in value
        and "\x00" not in value
        and (value.isascii() or encodable(value))
    ):
        return value
    _fail(_text_problem(value))


def _key_hook(value: Any, _: object) -> str:
    if (
        type(value) is str
        and "\n" not in value
        and "\r" not in value
        and "\x00" not in value
        and (value.isascii() or encodable(value))
    ):
        # company is required and external_key is the idempotency handle: blank is neither.
        if value.strip():
            return value
        _fail("must not be empty")
    _fail(_text_problem(value))


def _email_hook(value: object, _: object) -> str:
    text = _str_hook(value, _)
    local, at, domain = text.rpartition("@")
    if not (at and local and domain) or " " in text:
        _fail("is not an e-mail address")
    return text


def _id_hook(value: object, _: object) -> int:
    if type(value) is not int:  # bool is an int subclass and must not pass as an id
        _fail(f"expected int, got {type(value).__name__}")
    if value < 1:
        _fail("must be a positive id")
    return value


def _bool_hook(value: object, _: object) -> bool:
    if type(value) is not bool:
        _fail(f"expected bool, got {type(value).__name__}")
    return value


def _delivery_hook(value: object, _: object) -> str:
    if type(value) is str and value in _DELIVERY_VALUES:
        return value
    _fail(f"must be 'email' or 'print', got {value!r:.40}")


def _plain_tag(tag: object) -> bool:
    if type(tag) is not str:
        return False
    if "\n" in tag or "\r" in tag or "\x00" in tag or not tag.strip():
        return False
    return tag.isascii() or encodable(tag)


def _tags_hook(value: object, _: object) -> list[str]:
    if type(value) is not list and type(value) is not tuple:
        _fail(f"expected a list of str, got {type(value).__name__}")
    if all(map(_plain_tag, value)):  # the common case, without a per-tag Python call
        return list(value)
    problems: list[Exception] = []
    for i, tag in enumerate(value):
        try:
            _key_hook(tag, str)
        except _Invalid as exc:
            exc.__notes__ = [_IndexNote(f"Structuring tags @ index {i}", i, str)]
            problems.append(exc)
    raise IterableValidationError("While structuring tags", problems, list)


def _is_json(value: object) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return not (type(value) is float and value != value)  # NaN is not JSON
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, Mapping):
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    return False


def _extra_problem(key: str, value: object) -> str | None:
    if key in FIELD_KINDS:
        return "is a model field: set it directly"
    if not _is_json(value):
        return f"is not JSON-serialisable: {type(value).__name__}"
    if isinstance(value, str) and ("\n" in value or "\r" in value or "\x00" in value):
        return _CONTROL_MSG
    if isinstance(value, str) and not (value.isascii() or encodable(value)):
        return _SURROGATE_MSG
    return None


def _extra_hook(value: object, _: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        _fail(f"expected a mapping, got {type(value).__name__}")
    problems: list[Exception] = []
    for key, item in value.items():
        if type(key) is not str:
            problems.append(_Invalid(f"keys must be str, got {type(key).__name__}"))
        elif (message := _extra_problem(key, item)) is not None:
            exc = _Invalid(message)
            exc.__notes__ = [_KeyNote(f"Structuring extra @ key {key!r}", key, object)]
            problems.append(exc)
    if problems:
        raise ClassValidationError("While structuring extra", problems, dict)
    return dict(value)


_HOOKS: Final[dict[str, Callable[[object, object], Any]]] = {
    "id": _id_hook,
    "bool": _bool_hook,
    "delivery": _delivery_hook,
    "str": _str_hook,
    "key": _key_hook,
    "email": _email_hook,
    "tags": _tags_hook,
}


def _problems(exc: BaseException, path: str) -> list[FieldError]:
    """Flatten one collected exception into field errors under ``path``."""
    if isinstance(exc, _Invalid):
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
    return [FieldError(path, str(exc))]  # pragma: no cover - every hook raises _Invalid


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
    hooks: dict[str, Any] = {n: override(struct_hook=_HOOKS[k]) for n, k in FIELD_KINDS.items()}
    # Unknown keys are found by structure_wire instead of by cattrs: its check builds a set
    # difference on every call (0.6 us of a 2.5 us budget); a subset test is 0.1 us.
    fn = make_dict_structure_fn(
        CustomerFields,
        conv,
        _cattrs_forbid_extra_keys=False,
        _cattrs_detailed_validation=True,
        extra=override(struct_hook=_extra_hook),
        **hooks,
    )
    return conv, fn


converter, _structure_fields = _make_converter()
"""The SDK's one converter (private: never cattrs' global one)."""


# Each create field's hook by wire name, ``extra`` included: the rules, once.
_HOOK_OF: Final[dict[str, Callable[[object, object], Any]]] = {
    **{name: _HOOKS[kind] for name, kind in FIELD_KINDS.items()},
    "extra": _extra_hook,
}
# What a hook raises for a bad value, or the name lookup for an unknown field.
_NOT_PLAIN: Final = (_Invalid, IterableValidationError, ClassValidationError, KeyError)


def _plain(values: dict[Any, Any]) -> dict[str, Any] | None:
    """The valid common case: the same hooks, run on the given fields only; None on any doubt.

    cattrs' generated function tests every one of the 60 field names for presence on every call
    (about 1.5 us of a create's CPU, benchmarks P1i); this runs only the hooks of the fields
    given. It decides nothing the hooks do not: on any failure the caller runs cattrs'
    function, which names every problem with its path.
    """
    hook_of = _HOOK_OF
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
