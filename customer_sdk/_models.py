"""The SDK's create-side models: what a create sends, and what it returns.

Wire names are used as attribute names on purpose: the field table in ``docs/chargeover-api.md``
(taken from ChargeOver's "Create a customer" page) is the documentation, and no mapping layer can
drift. Validation is the one converter's (:mod:`customer_sdk._convert`); the read model is
:class:`~customer_sdk._read.Customer`, which can become a :class:`CustomerCreate` again. This module
does no I/O and no JSON.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from customer_sdk._convert import CheckedWire, converter, structure_set, structure_wire
from customer_sdk._fields import (
    ACCEPTED_NAMES,
    BOOL_FIELDS,
    DELIVERY_FIELDS,
    FIELD_NAMES,
    INT_FIELDS,
    LIST_FIELDS,
    STR_FIELDS,
    CustomerFields,
    Delivery,
    Flag,
)
from customer_sdk.errors import FieldError, ValidationError

__all__ = [
    "ACCEPTED_NAMES",
    "BOOL_FIELDS",
    "DELIVERY_FIELDS",
    "FIELD_NAMES",
    "INT_FIELDS",
    "LIST_FIELDS",
    "STR_FIELDS",
    "CreatedCustomer",
    "CustomerCreate",
    "CustomerFields",
    "Delivery",
    "structure_create",
    "unstructure_create",
    "wire_from_mapping",
    "wire_of",
]


def wire_from_mapping(values: Mapping[str, object], *, owned: bool = False) -> dict[str, Any]:
    """Validate a mapping of create fields straight into the wire dict, building no model.

    The same converter path as :class:`CustomerCreate`, for ``create(**fields)`` and dict
    rows, where instantiating a 62-field model only to read it back would be the costliest step.

    Args:
        values: Field name to value; ``extra`` may hold fields the model does not list.
        owned: ``values`` is a dict only the caller holds and will not use again: unset fields
            may be removed from it in place instead of copying it.

    Returns:
        The wire JSON object (only the fields given, ``None`` meaning unset).

    Raises:
        ValidationError: Listing every problem (wire order, then unknown fields).
    """
    return structure_wire(values, owned=owned)


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

    Every value ChargeOver itself returns for a field is accepted: ``0``/``1`` for a flag
    (sent as ``false``/``true``), ``0`` for an id meaning "none", empty text (an empty
    ``external_key`` is no key and is not sent), multi-line addresses and free text. CR and LF
    are refused only in the fields whose value may reach a header or a URL
    (:data:`~customer_sdk._fields.SINGLE_LINE_FIELDS`; docs/chargeover-api.md, "Values").

    A field ChargeOver accepts but this model does not list yet (``superuser_id``,
    ``custtype_id``, ...) can be sent through ``extra``, a mapping of wire name to a
    JSON-compatible value; it may not shadow a listed field.

    Raises:
        ValidationError: On any wrong type (a bool for an id, a number for text), empty
            ``company``, a bad delivery value, NUL in text, CR/LF in a single-line field, text
            UTF-8 cannot encode, or an ``extra`` that is not JSON-compatible.
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
    no_taxes: Flag | None = None
    no_dunning: Flag | None = None
    no_latefees: Flag | None = None
    no_procfees: Flag | None = None
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
        # __dict__ holds exactly the fields, in wire order (no unknown name can be in it);
        # the unset ones are left out, as the converter wants.
        given = {n: v for n, v in vars(self).items() if v is not None}
        object.__setattr__(self, "_wire", structure_set(given))

    def __repr__(self) -> str:
        # Personal data (names, e-mails, addresses) must not land in logs through a repr:
        # only the identifying fields are shown.
        return f"CustomerCreate(company={self.company!r}, external_key={self.external_key!r}, ...)"


def wire_of(customer: object) -> dict[str, Any]:
    """The wire dict of a create's input: a :class:`CustomerCreate` or a mapping of wire fields.

    A model's wire dict, and a row the CSV/JSONL reader already validated (a
    :class:`~customer_sdk._convert.CheckedWire`), are returned as they are, unchecked again.

    Args:
        customer: The input, of any type (callers may not be type-checked).

    Returns:
        The validated wire dict (a model's own, not a copy: do not mutate it).

    Raises:
        ValidationError: The mapping is invalid, or the input is neither a model nor a mapping.
    """
    if type(customer) is CheckedWire:  # the row reader's output: validated there already
        return customer
    if isinstance(customer, CustomerCreate):
        return customer._wire
    if isinstance(customer, Mapping):
        return wire_from_mapping(customer)
    what = f"expected a CustomerCreate or a mapping, got {type(customer).__name__}"
    raise ValidationError([FieldError("$", what)])


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
    if not ACCEPTED_NAMES.issuperset(obj):
        # The model cannot take an unknown keyword: the mapping path names every problem,
        # the unknown fields among them (and always raises, since they are errors).
        structure_wire(obj)
    # A missing company is reported with the other problems, not as attrs' TypeError.
    return CustomerCreate(**{"company": None, **obj})


def unstructure_create(model: CustomerCreate) -> dict[str, Any]:
    """Build the wire JSON object for a create: only the fields that were set.

    Args:
        model: A validated model.

    Returns:
        A new dict of wire name to JSON value; ``tags`` as a list, ``extra`` merged in.
    """
    return dict(model._wire)


converter.register_structure_hook(CustomerCreate, structure_create)
converter.register_unstructure_hook(CustomerCreate, unstructure_create)


@attrs.frozen(kw_only=True, slots=False)  # __dict__ init: cheaper on the per-create path
class CreatedCustomer:
    """The result of :meth:`Customers.create`.

    Attributes:
        customer_id: ChargeOver's ``customer_id`` of the customer (the wire name, as on
            :class:`Customer`).
        created: True if this call created it; False if an existing customer with the same
            ``external_key`` was found instead (an earlier attempt, or a previous run, made it).
        attempts: HTTP requests this call made (POSTs plus reconciling lookups).
        location: The ``Location`` header of the 201, when the create answered it.
        external_key: The key that was sent, if any.
        recovered: True when ``created`` is False because the customer was found by its key
            after an attempt of this call (or, in a bulk job, of an earlier run) may have
            created it, its answer lost; False when the key was already taken (a 400).
        status: The HTTP status of the answer that settled the call (201 for a create, 200
            for a lookup that found the customer), when known.
        headers: That answer's response headers (read-only; empty when unknown).
    """

    customer_id: int
    created: bool
    attempts: int
    location: str | None = None
    external_key: str | None = None
    recovered: bool = False
    status: int | None = attrs.field(default=None, eq=False)
    headers: Mapping[str, str] = attrs.field(default=MappingProxyType({}), eq=False, repr=False)

    @property
    def id(self) -> int:
        """Deprecated alias of :attr:`customer_id`."""
        warnings.warn(
            "CreatedCustomer.id is deprecated: use CreatedCustomer.customer_id",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.customer_id


# The model's attributes are the TypedDict's keys, in the same (wire) order: the post-init
# relies on that order, and issue 15 types create(**fields) with the TypedDict.
if tuple(a.name for a in attrs.fields(CustomerCreate))[:-1] != (*FIELD_NAMES, "extra"):
    raise RuntimeError("CustomerCreate's attributes differ from CustomerFields")  # pragma: no cover
