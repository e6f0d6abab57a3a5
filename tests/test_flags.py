"""Side-effect flags: rendered once into the URL, kept through retries, honoured by the sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from customer_sdk import Flags, RetryPolicy
from customer_sdk._fields import ACCEPTED_NAMES
from customer_sdk.cli import main
from customer_sdk.sandbox import Sandbox
from tests._helpers import client_for, keyed, sandbox_env, write_csv

ALL = frozenset({"emails", "webhooks", "quickbooks", "events"})
QUIET = "_flag_emails=0&_flag_webhooks=0"


def test_flags_render_only_what_is_set_as_0_or_1() -> None:
    """Unset flags are not sent; False is 0, True is 1, in ChargeOver's parameter names."""
    assert Flags().query == ""
    assert Flags(emails=False, webhooks=False).query == QUIET
    assert Flags(quickbooks=True, events=False).query == "_flag_quickbooks=1&_flag_events=0"
    assert Flags.all_off().query == (
        "_flag_emails=0&_flag_webhooks=0&_flag_quickbooks=0&_flag_events=0"
    )
    assert Flags.none_off() == Flags()


def test_a_flag_must_be_a_bool_and_flags_cannot_collide_with_fields() -> None:
    """Flags(emails='no') is a TypeError; no customer field is named 'flags' or '_flag_*'."""
    with pytest.raises(TypeError, match="emails"):
        Flags(emails="no")  # type: ignore[arg-type]
    assert "flags" not in ACCEPTED_NAMES
    assert not any(name.startswith("_flag") for name in ACCEPTED_NAMES)


async def test_create_flags_survive_resends_and_the_lookup_reconciliation() -> None:
    """Every POST of one create carries the flags, each resent after a lookup found nothing."""
    faults = "create:script=503_before_commit|reset_before_commit|ok"
    async with Sandbox(faults=faults) as sb:
        async with client_for(sb, retry=RetryPolicy.no_wait()) as client:
            created = await client.customers.create(
                company="Acme", external_key="k-1", flags=Flags(emails=False, webhooks=False)
            )
        posts = [e for e in sb.audit if e.kind == "create"]
        lookups = [e for e in sb.audit if e.kind == "lookup"]
        effects = sb.side_effects
    assert created.created
    assert [e.query for e in posts] == [QUIET] * 3
    assert len(lookups) == 2  # a 503 and a reset are both ambiguous: looked up first
    assert not any("_flag" in e.query for e in lookups)  # a read carries none
    assert [e.fired for e in effects] == [frozenset({"quickbooks", "events"})]


async def test_update_and_delete_carry_their_flags_to_the_server() -> None:
    """An update and a delete with flags set off exactly those effects on the sandbox."""
    async with Sandbox() as sb:
        async with client_for(sb) as client:
            created = await client.customers.create(company="Acme")
            cid = created.customer_id
            await client.customers.update(cid, bill_city="Paris", flags=Flags(events=False))
            assert sb.customers[cid]["bill_city"] == "Paris"
            await client.customers.delete(cid, flags=Flags.all_off())
        effects = [(e.kind, e.fired) for e in sb.side_effects]
    assert effects == [
        ("create", ALL),
        ("update", ALL - {"events"}),
        ("delete", frozenset()),
    ]


@pytest.mark.parametrize("batch_size", [1, 5])
async def test_create_many_sends_its_flags_on_every_create_and_bulk_call(batch_size: int) -> None:
    """create_many(flags=...) puts the flags on each POST, or each _bulk call."""
    async with Sandbox() as sb:
        async with client_for(sb) as client:
            job = client.customers.create_many(
                keyed(12), batch_size=batch_size, flags=Flags(emails=False)
            )
            async with job:
                outcomes = [str(r.outcome) async for r in job]
        effects = sb.side_effects
    assert outcomes.count("created") == 12
    assert effects
    assert {e.fired for e in effects} == {ALL - {"emails"}}


async def test_signed_requests_sign_the_flags_too() -> None:
    """Under signature auth the flagged URL is the URL signed: the sandbox accepts it."""
    async with Sandbox() as sb:
        async with client_for(sb, auth="signature") as client:
            created = await client.customers.create(company="A", flags=Flags(emails=False))
            await client.customers.update(created.customer_id, company="B", flags=Flags.all_off())
        assert [e.status for e in sb.audit] == [201, 202]


async def test_import_no_flags_reach_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """customer-sdk import --no-emails --no-webhooks: the server saw both turned off, per row."""
    rows = [{"external_key": f"f-{i}", "company": f"C{i}"} for i in range(8)]
    src = write_csv(tmp_path / "in.csv", ["external_key", "company"], rows)
    async with Sandbox() as sb:
        for name, value in sandbox_env(sb).items():
            if name.startswith("CHARGEOVER_"):
                monkeypatch.setenv(name, value)
        argv = ["import", str(src), "--quiet", "--no-emails", "--no-webhooks"]
        status = await asyncio.to_thread(main, argv)
        effects = sb.side_effects
    capsys.readouterr()
    assert status == 0
    assert len(effects) == 8
    assert {e.fired for e in effects} == {frozenset({"quickbooks", "events"})}
