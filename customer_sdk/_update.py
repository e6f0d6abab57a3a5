"""An update's fields and their validation, and what an update or a delete returns.

``PUT /api/v3/customer/{id}`` takes the fields to change (docs/chargeover-api.md, "Update and
delete"). They are validated exactly like a create's, by the same converter and the same hooks
(:mod:`customer_sdk._convert`, :mod:`customer_sdk._rules`): there is no second rule set. The one
difference is that no field is required, ``company`` included; at least one must be given.

:class:`CustomerUpdateFields` is :class:`~customer_sdk._fields.CustomerFields` with ``company``
optional, so ``update(**fields)`` is typed (mypy names a misspelt field). A TypedDict cannot
relax an inherited required key, hence the copy; ``tests/test_update.py`` pins that the two
declare the same names and types in the same order. This module sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypedDict

import attrs

from customer_sdk._convert import structure_wire
from customer_sdk._fields import Delivery
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["CustomerUpdateFields", "DeletedCustomer", "UpdatedCustomer", "update_wire"]

# A stand-in company, validated with the given fields and dropped again: it lets the create's
# rules run unchanged (they require a company) on an update that does not change it.
_STAND_IN: Final = "stand-in"


class CustomerUpdateFields(TypedDict, total=False):
    """The fields of an update, by wire name and in wire order; ``None`` means unchanged.

    The same fields and types as :class:`~customer_sdk.CustomerFields`, none of them required.
    """

    parent_customer_id: int | None
    external_key: str | None
    company: str | None
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


def update_wire(fields: Mapping[str, object]) -> dict[str, Any]:
    """Validate an update's fields into the wire dict, by the create's rules.

    Args:
        fields: Field name to value; ``None`` means unchanged (not sent).

    Returns:
        The wire JSON object: only the fields given.

    Raises:
        ValidationError: Listing every problem, each with its path; or no field given.
    """
    values = dict(fields)
    company = values.get("company")
    given = company is not None
    if not given:
        values["company"] = _STAND_IN
    try:
        wire = structure_wire(values, owned=True)
    except ValidationError as exc:
        raise ValidationError(exc.errors, model="CustomerUpdate") from None
    if not given:
        del wire["company"]
    if not wire:
        raise ValidationError([FieldError("$", "no field to update")], model="CustomerUpdate")
    return wire


@attrs.frozen
class UpdatedCustomer:
    """The result of :meth:`Customers.update`.

    Attributes:
        customer_id: The customer's id, as ChargeOver answered it.
        attempts: HTTP requests the call made (a PUT may be sent again after a transient
            failure: it sets the same fields, so a resend changes nothing more).
    """

    customer_id: int
    attempts: int


@attrs.frozen
class DeletedCustomer:
    """The result of :meth:`Customers.delete`.

    Attributes:
        customer_id: The id that was deleted.
        attempts: HTTP requests the call made.
        confirmed: True when ChargeOver answered this call's DELETE with success. False when
            an earlier attempt's answer was lost and the retried DELETE was answered 404: the
            customer is gone, but whether our lost attempt deleted it or it was already gone
            (deleted by someone else in between) cannot be told apart.
    """

    customer_id: int
    attempts: int
    confirmed: bool = True


#: The values ``create_many(on_existing=...)`` takes.
OnExisting = Literal["skip", "update"]
