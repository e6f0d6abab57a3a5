"""The SDK's data models: what a create sends, what it returns, and a customer as read back.

Wire names are used as attribute names on purpose: the field table in ``chargeover-api.md`` (taken
from ChargeOver's "Create a customer" page) is the documentation, and no mapping layer can drift.
This module does no I/O and no JSON; serialisation lives in :mod:`customer_sdk._serde`.
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from customer_sdk.errors import FieldError, ValidationError

Delivery = Literal["email", "print"]

# Field kinds, from the seed page's body schema (chargeover-api.md, "POST /api/v3/customer").
INT_FIELDS: Final = (
    "parent_customer_id",
    "language_id",
    "currency_id",
    "class_id",
    "admin_id",
    "campaign_id",
    "brand_id",
    "terms_id",
)
BOOL_FIELDS: Final = ("no_taxes", "no_dunning", "no_latefees", "no_procfees")
DELIVERY_FIELDS: Final = ("invoice_delivery", "dunning_delivery")
STR_FIELDS: Final = (
    "external_key",
    "company",
    "campaign_details",
    "superuser_username",
    "superuser_email",
    "superuser_name",
    "superuser_first_name",
    "superuser_last_name",
    "superuser_phone",
    "bill_addr1",
    "bill_addr2",
    "bill_addr3",
    "bill_city",
    "bill_state",
    "bill_postcode",
    "bill_country",
    "ship_addr1",
    "ship_addr2",
    "ship_addr3",
    "ship_city",
    "ship_state",
    "ship_postcode",
    "ship_country",
    *(f"custom_{i}" for i in range(1, 21)),
    "tax_ident",
)
LIST_FIELDS: Final = ("tags",)
# Wire order, as on the seed page; used for error ordering and for the CSV reader's columns.
FIELD_NAMES: Final[tuple[str, ...]] = (
    "parent_customer_id",
    "external_key",
    "company",
    "language_id",
    "currency_id",
    "class_id",
    "admin_id",
    "campaign_id",
    "campaign_details",
    "superuser_username",
    "superuser_email",
    "superuser_name",
    "superuser_first_name",
    "superuser_last_name",
    "superuser_phone",
    "bill_addr1",
    "bill_addr2",
    "bill_addr3",
    "bill_city",
    "bill_state",
    "bill_postcode",
    "bill_country",
    "ship_addr1",
    "ship_addr2",
    "ship_addr3",
    "ship_city",
    "ship_state",
    "ship_postcode",
    "ship_country",
    *(f"custom_{i}" for i in range(1, 21)),
    "brand_id",
    "terms_id",
    "no_taxes",
    "no_dunning",
    "no_latefees",
    "no_procfees",
    "invoice_delivery",
    "dunning_delivery",
    "tax_ident",
    "tags",
)
_KIND: Final[dict[str, str]] = {
    **dict.fromkeys(INT_FIELDS, "int"),
    **dict.fromkeys(BOOL_FIELDS, "bool"),
    **dict.fromkeys(DELIVERY_FIELDS, "delivery"),
    **dict.fromkeys(STR_FIELDS, "str"),
    **dict.fromkeys(LIST_FIELDS, "tags"),
}
assert set(_KIND) == set(FIELD_NAMES), "field tables out of sync"
_DELIVERY_VALUES: Final = ("email", "print")
# Every name a create accepts as a keyword, including the escape hatch for unlisted fields.
ACCEPTED_NAMES: Final = frozenset(FIELD_NAMES) | {"extra"}
# CR, LF and NUL are never legitimate in these values and are the raw material of header and
# log injection (faults.md, "Secrets and hostile input"), so they are refused locally.
_CONTROL: Final = frozenset("\r\n\x00")
# JSON types a value in ``extra`` may have (anything orjson would serialise faithfully).
_JSON_SCALARS: Final = (str, int, float, bool, type(None))


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_str(path: str, value: object, out: list[FieldError]) -> None:
    if type(value) is not str:
        out.append(FieldError(path, f"expected str, got {_type_name(value)}"))
    elif not _CONTROL.isdisjoint(value):
        out.append(FieldError(path, "must not contain CR, LF or NUL characters"))


def _check_value(name: str, value: object, out: list[FieldError]) -> None:
    """Append every problem with one field value to ``out`` (None only reaches here if required)."""
    if value is None:
        out.append(FieldError(name, "is required"))
        return
    kind = _KIND[name]
    if kind == "str":
        _check_str(name, value, out)
        if type(value) is str and name in _NON_EMPTY and not value.strip():
            out.append(FieldError(name, "must not be empty"))
        elif name == "superuser_email" and type(value) is str and not _looks_like_email(value):
            out.append(FieldError(name, "is not an e-mail address"))
    elif kind == "int":
        # type() rather than isinstance(): bool is an int subclass and must not pass as an id.
        if type(value) is not int:
            out.append(FieldError(name, f"expected int, got {_type_name(value)}"))
        elif value < 1:  # type: ignore[operator,unused-ignore]
            out.append(FieldError(name, "must be a positive id"))
    elif kind == "bool":
        if type(value) is not bool:
            out.append(FieldError(name, f"expected bool, got {_type_name(value)}"))
    elif kind == "delivery":
        if value not in _DELIVERY_VALUES or type(value) is not str:
            out.append(FieldError(name, f"must be 'email' or 'print', got {value!r:.40}"))
    else:  # tags
        if not isinstance(value, list | tuple):
            out.append(FieldError(name, f"expected a list of str, got {_type_name(value)}"))
            return
        for i, tag in enumerate(value):
            _check_str(f"{name}[{i}]", tag, out)
            if type(tag) is str and not tag.strip():
                out.append(FieldError(f"{name}[{i}]", "must not be empty"))


_NON_EMPTY: Final = frozenset({"company", "external_key"})


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and " " not in value


def _check_extra(extra: object, out: list[FieldError]) -> None:
    if not isinstance(extra, Mapping):
        out.append(FieldError("extra", f"expected a mapping, got {_type_name(extra)}"))
        return
    for key, value in extra.items():
        if type(key) is not str:
            out.append(FieldError("extra", f"keys must be str, got {_type_name(key)}"))
        elif key in _KIND:
            out.append(FieldError(f"extra.{key}", "is a model field: set it directly"))
        elif not _is_json(value):
            out.append(FieldError(f"extra.{key}", f"is not JSON-serialisable: {_type_name(value)}"))
        elif isinstance(value, str) and not _CONTROL.isdisjoint(value):
            out.append(FieldError(f"extra.{key}", "must not contain CR, LF or NUL characters"))


def _is_json(value: object) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return not (type(value) is float and value != value)  # NaN is not JSON
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, Mapping):
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    return False


_STR, _INT, _BOOL, _TAGS = "str", "int", "bool", "tags"
# Which fields the inline fast path may accept (superuser_email needs the slow path).
_FAST: Final[dict[str, str]] = {
    **dict.fromkeys(set(STR_FIELDS) - {"superuser_email"}, _STR),
    **dict.fromkeys(INT_FIELDS, _INT),
    **dict.fromkeys(BOOL_FIELDS, _BOOL),
    "tags": _TAGS,
}


def _plain_tag(tag: object) -> bool:
    return type(tag) is str and tag.strip() != "" and _CONTROL.isdisjoint(tag)


_GET_ALL: Final = operator.attrgetter(*FIELD_NAMES)


def _build(items: list[tuple[str, Any]], extra: Any, out: list[FieldError]) -> dict[str, Any]:
    """Check each (field, value) pair, appending problems to ``out``; return the wire dict.

    This runs for every create, so the valid common case of each kind is checked inline and
    only the rest (tags, e-mail, anything wrong) goes through :func:`_check_value`, which
    names the problem.
    """
    wire: dict[str, Any] = {}
    for name, value in items:
        fast = _FAST.get(name)
        if fast is _STR:
            ok = type(value) is str and "\n" not in value and "\r" not in value
            if ok and "\x00" not in value and (name not in _NON_EMPTY or value.strip()):
                wire[name] = value
                continue
        elif fast is _INT:
            if type(value) is int and value > 0:
                wire[name] = value
                continue
        elif fast is _BOOL and type(value) is bool:
            wire[name] = value
            continue
        elif fast is _TAGS and type(value) in (list, tuple) and all(map(_plain_tag, value)):
            wire[name] = list(value)
            continue
        before = len(out)
        _check_value(name, value, out)
        if len(out) == before:
            wire[name] = list(value) if name == "tags" else value
    if extra is not None:
        _check_extra(extra, out)
        if not out:
            wire.update(extra)
    return wire


def _validate_and_build(model: CustomerCreate) -> dict[str, Any]:
    """Validate a model's fields at once and build its wire dict in the same pass.

    Raises:
        ValidationError: Listing every problem, in wire field order.
    """
    # Called from __attrs_post_init__: __dict__ holds exactly the fields, in wire order.
    given_now = {n: v for n, v in vars(model).items() if v is not None}
    if "extra" not in given_now:
        wire = _fast_wire(given_now, owned=True)
        if wire is not None:
            return wire
    out: list[FieldError] = []
    # company is kept even when None: it is required, and its error belongs in wire order.
    given = [
        (n, v)
        for n, v in zip(FIELD_NAMES, _GET_ALL(model), strict=True)
        if v is not None or n == "company"
    ]
    wire = _build(given, model.extra, out)
    if out:
        raise ValidationError(out)
    return wire


_ORDER: Final = {name: i for i, name in enumerate(FIELD_NAMES)}


def _wire_order(error: FieldError) -> int:
    return _ORDER.get(error.path.partition("[")[0], len(_ORDER))


# The plain type each simple field's value must have exactly (bool is not an int here).
_PLAIN: Final[dict[str, type]] = {
    **dict.fromkeys(set(STR_FIELDS) - {"superuser_email"}, str),
    **dict.fromkeys(INT_FIELDS, int),
    **dict.fromkeys(BOOL_FIELDS, bool),
}
_LIST_TYPES: Final = (list, tuple)
_DELIVERY_FIELDS: Final = frozenset(DELIVERY_FIELDS)


def _fast_wire(values: Mapping[str, object], owned: bool = False) -> dict[str, Any] | None:
    """The valid common case in one pass: the wire dict, or None to take the full path.

    This runs on every create (benchmarks P1/P2), so it does the least work that proves a
    value valid and decides nothing else: on any doubt it returns None and the full path
    (:func:`_build`), the single authority on what is wrong, names every problem.

    ``owned``: ``values`` is a dict nobody else holds (``create(**fields)``'s keywords), so
    when it needs nothing dropped or copied it is returned as the wire dict itself.
    """
    texts: list[str] = []
    unset = False
    tags: Any = None
    for name, value in values.items():
        expected = _PLAIN.get(name)
        if type(value) is expected:
            if expected is str:
                texts.append(value)  # type: ignore[arg-type]
            elif expected is int and value < 1:  # type: ignore[operator]
                return None
        elif value is None:
            if name not in _KIND:  # an unknown name is an error even when unset
                return None
            unset = True
        elif name == "tags":
            if type(value) not in _LIST_TYPES or not all(map(_plain_tag, value)):  # type: ignore[call-overload]
                return None
            tags = value
        elif name == "superuser_email":
            if type(value) is not str or not _looks_like_email(value):
                return None
            texts.append(value)
        elif name in _DELIVERY_FIELDS and type(value) is str and value in _DELIVERY_VALUES:
            pass
        else:  # a wrong type, an unknown name, or ``extra``
            return None
    # One scan of all the text for CR, LF and NUL instead of three per field.
    text = "".join(texts)
    if "\n" in text or "\r" in text or "\x00" in text:
        return None
    company = values.get("company")
    if type(company) is not str or not company.strip():
        return None
    key = values.get("external_key")
    if key is not None and not key.strip():  # type: ignore[attr-defined]
        return None
    if unset:
        return {n: v for n, v in values.items() if v is not None} | (
            {} if tags is None else {"tags": list(tags)}
        )
    if owned and type(tags) is not tuple:
        return values  # type: ignore[return-value]  # a dict: the caller's own keywords
    wire = dict(values)
    if tags is not None:
        wire["tags"] = list(tags)  # the caller's list is not ours to keep
    return wire


def wire_from_mapping(values: Mapping[str, object], *, owned: bool = False) -> dict[str, Any]:
    """Validate a mapping of create fields straight into the wire dict, building no model.

    The same checks as :class:`CustomerCreate`, for ``create(**fields)`` and dict rows, where
    instantiating a 62-field model only to read it back would be the costliest step.

    Args:
        values: Field name to value; ``extra`` may hold fields the model does not list.
        owned: ``values`` is a dict only the caller holds and will not change: it may be
            returned as the wire dict itself instead of a copy.

    Returns:
        The wire JSON object (only the fields given, ``None`` meaning unset).

    Raises:
        ValidationError: Listing every problem (wire order, then unknown fields).
    """
    wire = _fast_wire(values, owned)
    return wire if wire is not None else _full_wire(values)


def _full_wire(values: Mapping[str, object]) -> dict[str, Any]:
    """The full check of a mapping: the wire dict, or a ValidationError naming every problem."""
    items = [(k, v) for k, v in values.items() if v is not None and k in _KIND]
    if values.get("company") is None:
        items.append(("company", None))
    out: list[FieldError] = []
    wire = _build(items, values.get("extra"), out)
    unknown = [
        FieldError(str(k), "unknown field (send it through extra= if intended)")
        for k in values
        if k not in ACCEPTED_NAMES
    ]
    if out or unknown:
        out.sort(key=_wire_order)
        raise ValidationError(out + unknown)
    return wire


def _to_tuple(value: Any) -> Any:
    # Lists are accepted for convenience and frozen; anything else is left for validation.
    return tuple(value) if isinstance(value, list) else value


def _freeze(value: Any) -> Any:
    return MappingProxyType(dict(value)) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True, slots=False)  # __dict__ init: ~3x cheaper than 62 setattrs
class CustomerCreate:
    """A customer to create: every field of ChargeOver's ``POST /api/v3/customer`` body.

    Attribute names are the wire names of the seed page. Fields left as ``None`` are not sent
    at all (the old C# SDK sent ``false`` for unset flags and so reset them; we never do).
    The instance is validated when it is built: every problem is reported in one
    :class:`~customer_sdk.errors.ValidationError`, before any network I/O.

    A field ChargeOver accepts but this model does not list yet (``superuser_id``,
    ``custtype_id``, ...) can be sent through ``extra``, a mapping of wire name to a
    JSON-compatible value; it may not shadow a listed field.

    Raises:
        ValidationError: On any wrong type, empty ``company``, bad delivery value, CR/LF/NUL in
            text, or an ``extra`` that is not JSON-compatible.
    """

    parent_customer_id: int | None = None
    external_key: str | None = None
    company: str
    language_id: int | None = None
    currency_id: int | None = None
    class_id: int | None = None
    admin_id: int | None = None
    campaign_id: int | None = None
    campaign_details: str | None = None
    superuser_username: str | None = None
    superuser_email: str | None = None
    superuser_name: str | None = None
    superuser_first_name: str | None = None
    superuser_last_name: str | None = None
    superuser_phone: str | None = None
    bill_addr1: str | None = None
    bill_addr2: str | None = None
    bill_addr3: str | None = None  # deprecated by ChargeOver, still accepted
    bill_city: str | None = None
    bill_state: str | None = None
    bill_postcode: str | None = None
    bill_country: str | None = None
    ship_addr1: str | None = None
    ship_addr2: str | None = None
    ship_addr3: str | None = None  # deprecated by ChargeOver, still accepted
    ship_city: str | None = None
    ship_state: str | None = None
    ship_postcode: str | None = None
    ship_country: str | None = None
    custom_1: str | None = None
    custom_2: str | None = None
    custom_3: str | None = None
    custom_4: str | None = None
    custom_5: str | None = None
    custom_6: str | None = None
    custom_7: str | None = None
    custom_8: str | None = None
    custom_9: str | None = None
    custom_10: str | None = None
    custom_11: str | None = None
    custom_12: str | None = None
    custom_13: str | None = None
    custom_14: str | None = None
    custom_15: str | None = None
    custom_16: str | None = None
    custom_17: str | None = None
    custom_18: str | None = None
    custom_19: str | None = None
    custom_20: str | None = None
    brand_id: int | None = None
    terms_id: int | None = None
    no_taxes: bool | None = None
    no_dunning: bool | None = None
    no_latefees: bool | None = None
    no_procfees: bool | None = None
    invoice_delivery: Delivery | None = None
    dunning_delivery: Delivery | None = None
    tax_ident: str | None = None
    tags: tuple[str, ...] | None = attrs.field(default=None, converter=_to_tuple)
    extra: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_freeze, repr=False, hash=False
    )

    # The wire JSON object, built while validating (private: use _serde.unstructure_create).
    _wire: dict[str, Any] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_wire", _validate_and_build(self))

    def __repr__(self) -> str:
        # Personal data (names, e-mails, addresses) must not land in logs through a repr:
        # only the identifying fields are shown.
        return f"CustomerCreate(company={self.company!r}, external_key={self.external_key!r}, ...)"


def wire_of(customer: object) -> dict[str, Any]:
    """The wire dict of a create's input: a :class:`CustomerCreate` or a mapping of wire fields.

    Args:
        customer: The input, of any type (callers may not be type-checked).

    Returns:
        The validated wire dict (a model's own, not a copy: do not mutate it).

    Raises:
        ValidationError: The mapping is invalid, or the input is neither a model nor a mapping.
    """
    if isinstance(customer, CustomerCreate):
        return customer._wire
    if isinstance(customer, Mapping):
        return wire_from_mapping(customer)
    what = f"expected a CustomerCreate or a mapping, got {type(customer).__name__}"
    raise ValidationError([FieldError("$", what)])


@attrs.frozen(kw_only=True, slots=False)  # __dict__ init: cheaper on the per-create path
class CreatedCustomer:
    """The result of :meth:`Customers.create`.

    Attributes:
        id: ChargeOver's ``customer_id`` of the customer.
        created: True if this call created it; False if an existing customer with the same
            ``external_key`` was found instead (an earlier attempt, or a previous run, made it).
        attempts: HTTP requests this call made (POSTs plus reconciling lookups).
        location: The ``Location`` header of the 201, when the create answered it.
        external_key: The key that was sent, if any.
    """

    id: int
    created: bool
    attempts: int
    location: str | None = None
    external_key: str | None = None


def _parse_datetime(value: object) -> _dt.datetime | None:
    # Both "2015-03-19 08:55:33" and "2026-03-10T01:01:49-05:00" occur (chargeover-api.md).
    if isinstance(value, str) and value and not value.startswith("0000"):
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _lenient_int(value: object) -> int | None:
    if type(value) is int:
        return value or None  # ChargeOver writes 0 for "no id"
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) or None
    return None


def _lenient_bool(value: object) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is int:
        return bool(value)  # no_procfees comes back as the number 0 (chargeover-api.md)
    if isinstance(value, str) and value.strip().lower() in {"0", "1", "true", "false"}:
        return value.strip().lower() in {"1", "true"}
    return None


@attrs.frozen(kw_only=True)
class Customer:
    """A customer as read back from ChargeOver: lenient, nothing lost.

    ``customer_id`` and the create fields are parsed leniently (ids of ``0`` or ``null`` become
    None, flags given as ``0``/``1`` become bools); any field this model does not know is kept in
    ``extra`` under its wire name, so a newer API never loses data.

    Attributes:
        customer_id: ChargeOver's id for the customer.
        fields: The create-side fields that were present, by wire name, leniently typed.
        write_datetime: When the customer was created, if given.
        mod_datetime: When it was last modified, if given.
        extra: Every other field of the object, untouched.
    """

    customer_id: int | None
    fields: Mapping[str, Any]
    write_datetime: _dt.datetime | None = None
    mod_datetime: _dt.datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def external_key(self) -> str | None:
        """The customer's ``external_key``, or None."""
        value = self.fields.get("external_key")
        return value if isinstance(value, str) and value else None

    @property
    def company(self) -> str | None:
        """The customer's ``company`` name, or None."""
        value = self.fields.get("company")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"Customer(customer_id={self.customer_id!r}, external_key={self.external_key!r})"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Customer:
        """Build a customer from the JSON object ChargeOver returned.

        Args:
            obj: One customer object from a GET response.

        Returns:
            The parsed customer.
        """
        fields: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in obj.items():
            kind = _KIND.get(key)
            if kind is None:
                if key not in {"customer_id", "write_datetime", "mod_datetime"}:
                    extra[key] = value
                continue
            if kind == "int":
                fields[key] = _lenient_int(value)
            elif kind == "bool":
                fields[key] = _lenient_bool(value)
            elif kind == "tags":
                if isinstance(value, list):
                    fields[key] = tuple(str(t) for t in value)
                elif isinstance(value, str) and value:
                    fields[key] = tuple(t.strip() for t in value.split(",") if t.strip())
                else:
                    fields[key] = ()
            else:
                fields[key] = value if isinstance(value, str) else None
        return cls(
            customer_id=_lenient_int(obj.get("customer_id")),
            fields=fields,
            write_datetime=_parse_datetime(obj.get("write_datetime")),
            mod_datetime=_parse_datetime(obj.get("mod_datetime")),
            extra=extra,
        )
