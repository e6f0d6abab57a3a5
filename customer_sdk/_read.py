"""The customer as ChargeOver reads it back: a typed, frozen, lenient model.

Every documented field of the customer object is a typed attribute. The field list comes from
ChargeOver's own SDKs: the read model ``CustomerResult`` of the official C# SDK
(github.com/chargeover/chargeover_csharp, ``src/ChargeOver.Wrapper/Models/CustomerResult.cs``)
and the recorded ``GET /api/v3/customer/35`` of the official Ruby SDK's VCR cassette
(github.com/chargeover/chargeover_ruby, ``test/fixtures/invoice_customer.yml``), plus every create
field (``docs/chargeover-api.md``, "Create"), which the object echoes back.

The object read back is wide and loose (``docs/chargeover-api.md``, "Looking customers up"), so
each attribute is read by a lenient hook of :mod:`customer_sdk._read_hooks` that never raises,
and anything this model does not name is kept in ``extra``. The model's structure function,
built from those hooks, is registered here on the SDK's one converter.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, cast

import attrs
from cattrs.gen import make_dict_structure_fn, override

from customer_sdk._convert import converter
from customer_sdk._fields import FIELD_NAMES, INT_FIELDS, CustomerFields
from customer_sdk._models import CustomerCreate, structure_create
from customer_sdk._read_hooks import read_hook

__all__ = ["Customer"]


@attrs.frozen(kw_only=True)
class Customer:
    """A customer as read back from ChargeOver: every documented field, typed; nothing lost.

    Attribute names are the wire names. Fields absent from the object are None (``tags``: an
    empty tuple). Money fields are :class:`~decimal.Decimal`. Any field this model does not
    name is kept, untouched, in ``extra``, so a newer API never loses data. The repr shows
    only ``customer_id`` and ``external_key``: the rest is personal data.
    """

    # Identity and the create fields, echoed back.
    customer_id: int | None = None
    parent_customer_id: int | None = None
    external_key: str | None = None
    company: str | None = None
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
    bill_addr3: str | None = None
    bill_city: str | None = None
    bill_state: str | None = None
    bill_postcode: str | None = None
    bill_country: str | None = None
    ship_addr1: str | None = None
    ship_addr2: str | None = None
    ship_addr3: str | None = None
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
    invoice_delivery: str | None = None
    dunning_delivery: str | None = None
    tax_ident: str | None = None
    tags: tuple[str, ...] = ()
    # Read-only: set by ChargeOver.
    token: str | None = None
    superuser_id: int | None = None
    superuser_token: str | None = None
    custtype_id: int | None = None
    display_as: str | None = None
    bill_block: str | None = None
    bill_notes: str | None = None
    ship_block: str | None = None
    ship_notes: str | None = None
    currency_symbol: str | None = None
    currency_iso4217: str | None = None
    terms_name: str | None = None
    terms_days: int | None = None
    admin_name: str | None = None
    admin_email: str | None = None
    total: Decimal | None = None
    balance: Decimal | None = None
    paid: Decimal | None = None
    url_self: str | None = None
    url_paymethodlink: str | None = None
    customer_status_id: int | None = None
    customer_status_name: str | None = None
    customer_status_str: str | None = None
    customer_status_state: str | None = None
    write_datetime: dt.datetime | None = None
    write_ipaddr: str | None = None
    mod_datetime: dt.datetime | None = None
    mod_ipaddr: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        # Personal data (names, e-mails, addresses) must not land in logs through a repr.
        return f"Customer(customer_id={self.customer_id!r}, external_key={self.external_key!r})"

    @property
    def fields(self) -> Mapping[str, Any]:
        """Deprecated: the create-side fields that are set, by wire name.

        Read the attributes instead (``customer.bill_city``).
        """
        warnings.warn(
            "Customer.fields is deprecated: read the attributes (customer.bill_city) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        values = ((name, getattr(self, name)) for name in FIELD_NAMES)
        return {name: value for name, value in values if value is not None and value != ()}

    def to_fields(self, *, keep_ids: bool = True) -> CustomerFields:
        """The writable fields that are set, by wire name: a create or an update body.

        ``client.customers.update(other_id, **customer.to_fields())`` copies one customer's
        fields onto another. Read-only fields (``token``, ``balance``, ...) and ``extra`` are
        left out, and so are unset ones (an id read as ``0`` is unset, see :meth:`from_wire`).

        Args:
            keep_ids: Keep the fields that refer to other records of the same ChargeOver
                instance (``parent_customer_id``, ``class_id``, ``terms_id``, ...). Set it to
                False when moving customers to another instance, where those ids mean other
                records or none.

        Returns:
            The fields, in wire order (``tags`` as a list).
        """
        values: dict[str, Any] = {}
        for name in FIELD_NAMES:
            value = getattr(self, name)
            if value is None or value == () or (not keep_ids and name in _ID_FIELDS):
                continue
            values[name] = list(value) if name == "tags" else value
        return cast(CustomerFields, values)

    def to_create(self, *, keep_ids: bool = True) -> CustomerCreate:
        """This customer as a create, e.g. to copy it into another ChargeOver instance.

        Args:
            keep_ids: As for :meth:`to_fields`: False leaves out the ids of the instance's
                other records.

        Returns:
            A validated :class:`~customer_sdk.CustomerCreate` of the writable fields that are
            set, ``external_key`` included (so a repeated copy finds, never duplicates).

        Raises:
            ValidationError: The customer cannot be created as it is (e.g. no ``company``),
                naming every problem.
        """
        return structure_create(self.to_fields(keep_ids=keep_ids))

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Customer:
        """Build a customer from the JSON object ChargeOver returned (never raises).

        Args:
            obj: One customer object from a GET response.

        Returns:
            The parsed customer.
        """
        return converter.structure(obj, cls)


_ID_FIELDS: Final = frozenset(INT_FIELDS)
attrs.resolve_types(Customer)
_FIELDS: Final = attrs.fields(Customer)
_NAMES: Final = frozenset(a.name for a in _FIELDS) - {"extra"}
_HOOKS: Final[dict[str, Any]] = {
    a.name: override(struct_hook=read_hook(a.name, a.type)) for a in _FIELDS
}
_structure_customer = make_dict_structure_fn(
    Customer,
    converter,
    _cattrs_forbid_extra_keys=False,
    _cattrs_detailed_validation=False,
    **_HOOKS,
)


def _structure(obj: object, _: object) -> Customer:
    values = obj if isinstance(obj, Mapping) else {}
    extra = {k: v for k, v in values.items() if k not in _NAMES}
    known = {k: v for k, v in values.items() if k in _NAMES}
    return _structure_customer({**known, "extra": extra}, Customer)


converter.register_structure_hook(Customer, _structure)
