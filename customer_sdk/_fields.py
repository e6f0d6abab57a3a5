"""The create fields of a customer: one TypedDict, and every table derived from it.

:class:`CustomerFields` is the single list of what ``POST /api/v3/customer`` takes, in wire order,
with each field's type (``docs/chargeover-api.md``, "Create", taken from
ChargeOver's "Create a customer" page). The kind tables below are computed from it, so the
converter's hooks, the CSV reader's columns, the sandbox's server-side checks and the model
cannot disagree about a field. This module imports nothing of the SDK.
"""

import typing
from collections.abc import Mapping
from typing import Any, Final, Literal, Required, TypedDict

__all__ = [
    "ACCEPTED_NAMES",
    "BOOL_FIELDS",
    "DELIVERY_FIELDS",
    "FIELD_KINDS",
    "FIELD_NAMES",
    "INT_FIELDS",
    "LIST_FIELDS",
    "STR_FIELDS",
    "CustomerFields",
    "Delivery",
]

Delivery = Literal["email", "print"]


class CustomerFields(TypedDict, total=False):
    """The fields of a create, by wire name and in wire order; ``None`` means unset.

    Every key may be left out except ``company``. ``extra`` holds fields ChargeOver accepts
    that this list does not name yet (``superuser_id``, ``custtype_id``, ...).
    """

    parent_customer_id: int | None
    external_key: str | None
    company: Required[str]
    language_id: int | None
    currency_id: int | None
    class_id: int | None
    admin_id: int | None
    campaign_id: int | None
    campaign_details: str | None
    superuser_username: str | None
    superuser_email: str | None
    superuser_name: str | None
    superuser_first_name: str | None
    superuser_last_name: str | None
    superuser_phone: str | None
    bill_addr1: str | None
    bill_addr2: str | None
    bill_addr3: str | None
    bill_city: str | None
    bill_state: str | None
    bill_postcode: str | None
    bill_country: str | None
    ship_addr1: str | None
    ship_addr2: str | None
    ship_addr3: str | None
    ship_city: str | None
    ship_state: str | None
    ship_postcode: str | None
    ship_country: str | None
    custom_1: str | None
    custom_2: str | None
    custom_3: str | None
    custom_4: str | None
    custom_5: str | None
    custom_6: str | None
    custom_7: str | None
    custom_8: str | None
    custom_9: str | None
    custom_10: str | None
    custom_11: str | None
    custom_12: str | None
    custom_13: str | None
    custom_14: str | None
    custom_15: str | None
    custom_16: str | None
    custom_17: str | None
    custom_18: str | None
    custom_19: str | None
    custom_20: str | None
    brand_id: int | None
    terms_id: int | None
    no_taxes: bool | None
    no_dunning: bool | None
    no_latefees: bool | None
    no_procfees: bool | None
    invoice_delivery: Delivery | None
    dunning_delivery: Delivery | None
    tax_ident: str | None
    tags: list[str] | tuple[str, ...] | None
    extra: Mapping[str, Any] | None


def _kind(name: str, hint: object) -> str:
    """The validation kind of one field, from its declared type (and, for text, its name)."""
    args = set(typing.get_args(hint)) - {type(None)}
    if args == {int}:
        return "id"
    if args == {bool}:
        return "bool"
    if args == {Delivery}:
        return "delivery"
    if hint is str or args == {str}:
        # The two text fields with rules of their own (docs/chargeover-api.md: company is required
        # and an empty external_key is no key at all; superuser_email must look like one).
        return {"company": "key", "external_key": "key", "superuser_email": "email"}.get(
            name, "str"
        )
    if name == "tags":
        return "tags"
    raise TypeError(f"no validation kind for {name}: {hint!r}")  # pragma: no cover


_HINTS: Final = typing.get_type_hints(CustomerFields)
#: Field name to kind (id, bool, delivery, str, key, email, tags), in wire order.
FIELD_KINDS: Final[dict[str, str]] = {
    name: _kind(name, hint) for name, hint in _HINTS.items() if name != "extra"
}
#: The create fields in wire order (error ordering, the CSV reader's columns).
FIELD_NAMES: Final[tuple[str, ...]] = tuple(FIELD_KINDS)
INT_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "id")
BOOL_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "bool")
DELIVERY_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "delivery")
STR_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k in {"str", "key", "email"})
LIST_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "tags")
#: Every name a create accepts as a keyword, including the escape hatch for unlisted fields.
ACCEPTED_NAMES: Final = frozenset(FIELD_NAMES) | {"extra"}
