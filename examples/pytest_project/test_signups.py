"""Tests of signups.py against the SDK's local sandbox: no account, no network."""

from __future__ import annotations

import pytest
from signups import register

from customer_sdk import ChargeOverClient
from customer_sdk.sandbox import Sandbox

# pytest-asyncio's strict mode (its default) runs only the async tests marked for it.
pytestmark = pytest.mark.asyncio


async def test_register_creates_one_customer(
    chargeover_sandbox: Sandbox, chargeover_client: ChargeOverClient
) -> None:
    """A first registration creates the customer in ChargeOver."""
    customer_id = await register(chargeover_client, "acct-1", "Acme")
    stored = chargeover_sandbox.by_key("acct-1")
    assert stored is not None
    assert (stored["customer_id"], stored["company"]) == (customer_id, "Acme")


async def test_register_twice_finds_the_same_customer(
    chargeover_sandbox: Sandbox, chargeover_client: ChargeOverClient
) -> None:
    """Registering again (a retried sign-up) returns the same customer, not a duplicate."""
    first = await register(chargeover_client, "acct-2", "Acme")
    again = await register(chargeover_client, "acct-2", "Acme")
    assert again == first
    assert len(chargeover_sandbox.customers) == 1


async def test_register_survives_a_lost_answer(
    chargeover_sandbox: Sandbox, chargeover_client: ChargeOverClient
) -> None:
    """The connection drops after ChargeOver saved the customer: still exactly one customer."""
    chargeover_sandbox.set_faults("create:script=reset_after_commit")
    customer_id = await register(chargeover_client, "acct-3", "Acme")
    assert list(chargeover_sandbox.customers) == [customer_id]
