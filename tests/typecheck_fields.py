"""Checked by ``mypy --strict`` (``make types``), never run: the typed keywords of a create.

Each ``type: ignore`` below must be needed: mypy's ``warn_unused_ignores`` (part of
``--strict``) fails the build if a typo or a wrong type ever stops being a type error, so this
file pins that ``create(**fields)`` is typed by :class:`customer_sdk.CustomerFields` (issue 15).
The lines without one pin that every value ChargeOver itself returns is accepted.
"""

from customer_sdk import ChargeOverClient, CustomerCreate, CustomerFields


async def accepted(client: ChargeOverClient, fields: CustomerFields) -> None:
    """Calls that must type-check: keywords, a model, a mapping, ChargeOver's own values."""
    await client.customers.create(company="Acme", external_key="k-1", tags=["a"])
    await client.customers.create(company="Acme", no_procfees=0, no_taxes=1, class_id=0)
    await client.customers.create(CustomerCreate(company="Acme", no_dunning=0))
    await client.customers.create({"company": "Acme"})
    await client.customers.create(**fields)
    await client.customers.with_raw_response.create(company="Acme", tags=["a"], flags=None)
    await client.customers.with_raw_response.create(CustomerCreate(company="Acme"))


async def refused(client: ChargeOverClient) -> None:
    """Calls that must not type-check: a misspelt field, a wrong type, a missing company."""
    await client.customers.create(compnay="Acme")  # type: ignore[call-overload]
    await client.customers.create(company="Acme", superuser_emial="x")  # type: ignore[call-overload]
    await client.customers.create(company=123)  # type: ignore[call-overload]
    await client.customers.create(company="Acme", no_taxes=2)  # type: ignore[call-overload]
    await client.customers.create(external_key="k-1")  # type: ignore[call-overload]
    await client.customers.with_raw_response.create(compnay="Acme")  # type: ignore[call-overload]
    await client.customers.with_raw_response.create(company=1)  # type: ignore[call-overload]
