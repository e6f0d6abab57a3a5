"""The code under test: what your application does with the SDK."""

from __future__ import annotations

from customer_sdk import ChargeOverClient


async def register(client: ChargeOverClient, account_id: str, company: str) -> int:
    """Make sure the account has a ChargeOver customer; safe to call again after any failure.

    Args:
        client: The application's client.
        account_id: Our id for the account, used as the customer's external_key.
        company: The company name.

    Returns:
        The customer's id, whether this call created it or found it.
    """
    created = await client.customers.create(company=company, external_key=account_id)
    return created.customer_id
