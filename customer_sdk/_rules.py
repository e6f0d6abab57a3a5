"""The create rules: one hook per kind of field, the only place a value is judged.

Each hook takes a value and returns it as sent, or raises :class:`Invalid` with what is wrong.
They are strict where cattrs' defaults coerce silently (``company=123`` becomes ``"123"``,
``True`` becomes ``1``; ``docs/faults.md``, "Secrets and hostile input"): the exact type, text
that UTF-8 can encode, no NUL, no CR/LF where a value could reach a header or a URL,
``email``/``print``, non-empty tags, an ``extra`` of JSON values that shadows no field. They
accept every value ChargeOver itself returns for a field (docs/chargeover-api.md, "Values"):
``0``/``1`` for a flag (sent as ``false``/``true``), ``0`` for an id meaning "none", empty
text, multi-line addresses. :mod:`customer_sdk._convert` runs them, on the hot path and
through cattrs' generated function alike. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

from cattrs.errors import AttributeValidationNote as _KeyNote
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.errors import IterableValidationNote as _IndexNote

from customer_sdk._fields import FIELD_KINDS

__all__ = ["HOOK_OF", "UNKNOWN", "Invalid", "encodable"]

UNKNOWN: Final = "unknown field (send it through extra= if intended)"
_CONTROL_MSG: Final = "must not contain CR, LF or NUL characters"
_NUL_MSG: Final = "must not contain NUL characters"
_SURROGATE_MSG: Final = "is not valid text (holds a lone surrogate, which UTF-8 cannot encode)"
_DELIVERY_VALUES: Final = ("email", "print")
# JSON types a value in ``extra`` may have (anything orjson would serialise faithfully).
_JSON_SCALARS: Final = (str, int, float, bool, type(None))


class Invalid(ValueError):
    """One problem with one value; the path is added from cattrs' notes."""


def _fail(message: str) -> NoReturn:
    raise Invalid(message)


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


def _text_problem(value: object, control: str = _CONTROL_MSG) -> str:
    """Why a value is not acceptable text (only called once it failed the inline check)."""
    # type() and not isinstance(): a str subclass may override anything, and bool is an int.
    if type(value) is not str:
        return f"expected str, got {type(value).__name__}"
    if not (value.isascii() or encodable(value)):
        # A lone surrogate would pass every other check, then stop orjson with a TypeError
        # (a row in a bulk job would stop the whole job: docs/faults.md, "Secrets and hostile
        # input").
        return _SURROGATE_MSG
    # CR and LF are the raw material of header injection where a value can reach a header or
    # a URL; NUL is never legitimate text (docs/faults.md, "Secrets and hostile input").
    return control


# The text checks are written out inline: this is the per-field hot path, where a nested call
# per field would cost more than the check itself (only the key fields pay for one).
def _line_hook(value: Any, _: object) -> str:
    if (
        type(value) is str
        and "\n" not in value
        and "\r" not in value
        and "\x00" not in value
        and (value.isascii() or encodable(value))
    ):
        return value
    _fail(_text_problem(value))


def _text_hook(value: Any, _: object) -> str:
    # Addresses and free text may span lines, as ChargeOver's own bill_block does; they reach
    # neither a header nor a URL (docs/chargeover-api.md, "Values").
    if type(value) is str and "\x00" not in value and (value.isascii() or encodable(value)):
        return value
    _fail(_text_problem(value, _NUL_MSG))


def _name_hook(value: Any, _: object) -> str:
    text = _line_hook(value, _)
    # company is required (docs/chargeover-api.md, "Create") and a tag is a name: blank is
    # neither.
    if text.strip():
        return text
    _fail("must not be empty")


def _key_hook(value: Any, _: object) -> str:
    text = _line_hook(value, _)
    # "" is what ChargeOver holds for "no key": it is accepted and not sent (structure_wire
    # drops it). Blanks are refused: the key is the idempotency handle and is matched exactly.
    if text.strip() or not text:
        return text
    _fail("must not be blank (leave it out, or empty, for no key)")


def _email_hook(value: object, _: object) -> str:
    text = _line_hook(value, _)
    local, at, domain = text.rpartition("@")
    if text and (not (at and local and domain) or " " in text):  # "" is no address
        _fail("is not an e-mail address")
    return text


def _id_hook(value: object, _: object) -> int:
    if type(value) is not int:  # bool is an int subclass and must not pass as an id
        _fail(f"expected int, got {type(value).__name__}")
    if value < 0:  # 0 is ChargeOver's own "none" (docs/chargeover-api.md, "Values")
        _fail("must be an id (0 for none)")
    return value


def _bool_hook(value: object, _: object) -> bool:
    if type(value) is bool:
        return value
    # ChargeOver writes some flags back as the number 0 or 1 (docs/chargeover-api.md,
    # "Values"); they are sent as JSON booleans, as documented for a create.
    if type(value) is int and (value == 0 or value == 1):
        return value == 1
    if type(value) is int:
        _fail(f"expected bool, or 0 or 1, got {value!r:.20}")
    _fail(f"expected bool, got {type(value).__name__}")


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
            _name_hook(tag, str)
        except Invalid as exc:
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
    if isinstance(value, str) and "\x00" in value:
        # Unlisted fields are body text like the listed free text: NUL only is refused.
        return _NUL_MSG
    if isinstance(value, str) and not (value.isascii() or encodable(value)):
        return _SURROGATE_MSG
    return None


def _extra_hook(value: object, _: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        _fail(f"expected a mapping, got {type(value).__name__}")
    problems: list[Exception] = []
    for key, item in value.items():
        if type(key) is not str:
            problems.append(Invalid(f"keys must be str, got {type(key).__name__}"))
        elif (message := _extra_problem(key, item)) is not None:
            exc = Invalid(message)
            exc.__notes__ = [_KeyNote(f"Structuring extra @ key {key!r}", key, object)]
            problems.append(exc)
    if problems:
        raise ClassValidationError("While structuring extra", problems, dict)
    return dict(value)


_HOOKS: Final[dict[str, Callable[[object, object], Any]]] = {
    "id": _id_hook,
    "bool": _bool_hook,
    "delivery": _delivery_hook,
    "line": _line_hook,
    "text": _text_hook,
    "company": _name_hook,
    "key": _key_hook,
    "email": _email_hook,
    "tags": _tags_hook,
}

# Each create field's hook by wire name, ``extra`` included.
HOOK_OF: Final[dict[str, Callable[[object, object], Any]]] = {
    **{name: _HOOKS[kind] for name, kind in FIELD_KINDS.items()},
    "extra": _extra_hook,
}
