"""The customer resource's writes to an existing customer: ``update`` and ``delete``.

A base of :class:`~customer_sdk._client.Customers` (reach them as ``client.customers.update``
and ``client.customers.delete``): the fields are validated here (:mod:`customer_sdk._update`),
then sent and retried by :mod:`customer_sdk._write` on the client's engine. Also what the
plain and the raw calls share: a create's body (validated and serialised once), and the checks
of an id and of a ``flags`` argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import orjson

from customer_sdk import _write as write
from customer_sdk._engine import Engine
from customer_sdk._flags import Flags
from customer_sdk._models import CustomerCreate, wire_from_mapping, wire_of
from customer_sdk._query import check_id
from customer_sdk._update import CustomerUpdateFields, DeletedCustomer, UpdatedCustomer, update_wire

__all__ = ["CustomerWrites", "check_flags", "create_body", "flagged", "update_body"]


def create_body(
    customer: CustomerCreate | Mapping[str, Any] | None, fields: dict[str, Any]
) -> tuple[bytes, str | None]:
    """Validate a create's input and serialise it once (``Customers.create``'s first step).

    Args:
        customer: A model or mapping, or None when the fields came as keywords.
        fields: The keyword fields (this call's own dict).

    Returns:
        The JSON body (the bytes signed are the bytes sent) and its ``external_key``.

    Raises:
        ValidationError: Naming every problem, before any I/O.
        TypeError: Both a customer and keyword fields were given.
    """
    if customer is None:
        wire = wire_from_mapping(fields, owned=True)  # the keywords dict is this call's
    elif fields:
        raise TypeError("pass either a customer or keyword fields, not both")
    else:
        wire = wire_of(customer)
    return orjson.dumps(wire), wire.get("external_key")


def check_flags(flags: object) -> Flags:
    """A ``flags`` argument, checked.

    Args:
        flags: What the caller passed.

    Returns:
        The flags.

    Raises:
        TypeError: Not a :class:`Flags`.
    """
    if not isinstance(flags, Flags):
        raise TypeError(f"flags must be a Flags, got {type(flags).__name__}")
    return flags


def flagged(engine: Engine, flags: Flags | None) -> Engine:
    """The engine a write runs on: ``engine``, or a variant carrying the call's ``flags``.

    Args:
        engine: The client's (or view's) engine.
        flags: The call's ``flags=``, or None for the engine's.

    Returns:
        The engine to use.

    Raises:
        TypeError: ``flags`` is not a :class:`Flags`.
    """
    return engine if flags is None else engine.with_flags(check_flags(flags))


def update_body(customer_id: int, fields: Mapping[str, object]) -> bytes:
    """An update's id and fields, checked, and the fields serialised once (its first step).

    Args:
        customer_id: ChargeOver's id.
        fields: The fields to change.

    Returns:
        The PUT's JSON body.

    Raises:
        ConfigurationError: The id is not a positive int.
        ValidationError: A field is invalid, or none is given.
    """
    check_id(customer_id)
    return orjson.dumps(update_wire(fields))


class CustomerWrites:
    """``update`` and ``delete`` of the customer resource (a base of ``Customers``)."""

    _engine: Engine

    def _writer(self, flags: Flags | None) -> Engine:
        return flagged(self._engine, flags)

    async def update(
        self,
        customer_id: int,
        /,
        *,
        flags: Flags | None = None,
        **fields: Unpack[CustomerUpdateFields],
    ) -> UpdatedCustomer:
        """Change some fields of a customer (``PUT /api/v3/customer/{id}``), retried safely.

        Only the fields given are sent (``None`` means unchanged), validated by the same rules
        as a create's; no field is required. A PUT is idempotent, so transient failures
        (resets, timeouts, 5xx, 429) are simply resent within the retry policy.

        Args:
            customer_id: ChargeOver's id.
            flags: Side effects ChargeOver may set off (see :class:`Flags`).
            **fields: The fields to change, by wire name (typed: mypy names a misspelt one).

        Returns:
            The id and the requests made.

        Raises:
            ValidationError: A field is invalid, or none is given (before any I/O).
            NotFoundError: No such customer.
            ChargeOverError: Any other failure, after retries.
        """
        body = update_body(customer_id, fields)
        return await write.update(self._writer(flags), customer_id, body)

    async def delete(self, customer_id: int, /, *, flags: Flags | None = None) -> DeletedCustomer:
        """Delete a customer (``DELETE /api/v3/customer/{id}``), retried safely.

        A retried delete answered 404 after an attempt whose answer was lost returns
        ``confirmed=False``: the customer is gone, most likely by that attempt, but it may have
        been gone already. A 404 when no attempt can have deleted it raises.

        Args:
            customer_id: ChargeOver's id.
            flags: Side effects ChargeOver may set off (see :class:`Flags`).

        Returns:
            The id, the requests made and whether this call's DELETE was confirmed.

        Raises:
            NotFoundError: No such customer.
            ChargeOverError: Any other failure, after retries.
        """
        check_id(customer_id)
        return await write.delete(self._writer(flags), customer_id)
