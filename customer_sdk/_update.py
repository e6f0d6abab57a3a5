"""An update's fields and their validation, and what an update or a delete returns.

``PUT /api/v3/customer/{id}`` takes the fields to change (docs/chargeover-api.md, "Update and
delete"). They are validated exactly like a create's, by the same converter and the same hooks
(:mod:`customer_sdk._convert`, :mod:`customer_sdk._rules`): there is no second rule set. The one
difference is that no field is required, ``company`` included; at least one must be given.

:class:`~customer_sdk._fields.CustomerUpdateFields` is
:class:`~customer_sdk._fields.CustomerFields` with ``company`` optional, built from the same
declarations, so ``update(**fields)`` is typed (mypy names a misspelt field). This module sends
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from customer_sdk._convert import structure_wire
from customer_sdk._fields import CustomerUpdateFields
from customer_sdk.errors import FieldError, ValidationError

__all__ = ["CustomerUpdateFields", "DeletedCustomer", "UpdatedCustomer", "update_wire"]

# A stand-in company, validated with the given fields and dropped again: it lets the create's
# rules run unchanged (they require a company) on an update that does not change it.
_STAND_IN: Final = "stand-in"


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
