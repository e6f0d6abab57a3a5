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
    "SINGLE_LINE_FIELDS",
    "CustomerFields",
    "CustomerUpdateFields",
    "Delivery",
    "Flag",
]

Delivery = Literal["email", "print"]
#: A yes/no field: a bool, or the number ``0``/``1`` ChargeOver itself writes back for some of
#: them (``"no_procfees": 0`` in a recorded list answer, docs/chargeover-api.md, "Values").
Flag = bool | Literal[0, 1]


# The fields are declared in three parts so that the create's and the update's TypedDicts share
# one list (a TypedDict cannot make an inherited key optional) and keep wire order: the keys of
# a TypedDict are its bases' keys in order, then its own.
class _Head(TypedDict, total=False):
    parent_customer_id: int | None
    external_key: str | None


class _Company(TypedDict, total=False):
    company: Required[str]


class _CompanyToChange(TypedDict, total=False):
    company: str | None


class _Tail(TypedDict, total=False):
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
    no_taxes: Flag | None
    no_dunning: Flag | None
    no_latefees: Flag | None
    no_procfees: Flag | None
    invoice_delivery: Delivery | None
    dunning_delivery: Delivery | None
    tax_ident: str | None
    tags: list[str] | tuple[str, ...] | None
    extra: Mapping[str, Any] | None


class CustomerFields(_Head, _Company, _Tail, total=False):
    """The fields of a create, by wire name and in wire order; ``None`` means unset.

    Every key may be left out except ``company``. ``extra`` holds fields ChargeOver accepts
    that this list does not name yet (``superuser_id``, ``custtype_id``, ...). Every value
    ChargeOver itself returns for one of these fields is accepted back: ``0``/``1`` for the
    flags, ``0`` for an id meaning "none", empty text, multi-line addresses and free text
    (docs/chargeover-api.md, "Values").
    """


class CustomerUpdateFields(_Head, _CompanyToChange, _Tail, total=False):
    """The fields of an update, by wire name and in wire order; ``None`` means unchanged.

    The same fields and types as :class:`CustomerFields`, none of them required.
    """


#: The text fields whose values may reach a header or a URL, so CR and LF are refused in them:
#: the key travels in the lookup's URL, and the login, the e-mail address and the names are what
#: ChargeOver puts into the e-mails it sends (``To: Name <address>``), where a line break would
#: start a new header. Every other text field may hold several lines, as ChargeOver's own
#: answers do (docs/chargeover-api.md, "Values").
SINGLE_LINE_FIELDS: Final = frozenset(
    {
        "external_key",
        "company",
        "superuser_username",
        "superuser_email",
        "superuser_name",
        "superuser_first_name",
        "superuser_last_name",
    }
)


def _kind(name: str, hint: object) -> str:
    """The validation kind of one field, from its declared type (and, for text, its name)."""
    args = set(typing.get_args(hint)) - {type(None)}
    if args == {int}:
        return "id"
    if args == {bool, Literal[0, 1]}:
        return "bool"
    if args == {Delivery}:
        return "delivery"
    if hint is str or args == {str}:
        # The text fields with rules of their own (docs/chargeover-api.md: company is required
        # and an empty external_key is no key at all; superuser_email must look like one), then
        # single-line text, then text that may span lines ("Values").
        special = {"company": "company", "external_key": "key", "superuser_email": "email"}
        return special.get(name, "line" if name in SINGLE_LINE_FIELDS else "text")
    if name == "tags":
        return "tags"
    raise TypeError(f"no validation kind for {name}: {hint!r}")  # pragma: no cover


_HINTS: Final = typing.get_type_hints(CustomerFields)
#: Field name to kind (id, bool, delivery, line, text, company, key, email, tags), in wire order.
FIELD_KINDS: Final[dict[str, str]] = {
    name: _kind(name, hint) for name, hint in _HINTS.items() if name != "extra"
}
#: The create fields in wire order (error ordering, the CSV reader's columns).
FIELD_NAMES: Final[tuple[str, ...]] = tuple(FIELD_KINDS)
INT_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "id")
BOOL_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "bool")
DELIVERY_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "delivery")
STR_FIELDS: Final = tuple(
    n for n, k in FIELD_KINDS.items() if k in {"line", "text", "company", "key", "email"}
)
LIST_FIELDS: Final = tuple(n for n, k in FIELD_KINDS.items() if k == "tags")
#: Every name a create accepts as a keyword, including the escape hatch for unlisted fields.
ACCEPTED_NAMES: Final = frozenset(FIELD_NAMES) | {"extra"}
