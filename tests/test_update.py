"""Updating and deleting one customer: validation, the wire, and retries of idempotent writes."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import aioresponses

import tests._scripted as s
from customer_sdk import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    CustomerUpdateFields,
    NotFoundError,
    RetryEvent,
    RetryPolicy,
    ValidationError,
)
from customer_sdk._fields import CustomerFields
from customer_sdk._update import update_wire
from customer_sdk.sandbox import Sandbox
from tests._helpers import Sleeps, client_for, make_client, requests_sent

ROOT = "http://127.0.0.1:9"
URL = f"{ROOT}/api/v3/customer"


def updated(cid: int) -> dict[str, Any]:
    """The 202 envelope of an update (tests/recordings/update_202.json's shape)."""
    return s.envelope(202, {"id": cid})


def test_update_fields_mirror_the_create_fields_with_none_required() -> None:
    """CustomerUpdateFields declares CustomerFields' names and types, in order, none required."""
    create_hints = typing.get_type_hints(CustomerFields)
    update_hints = typing.get_type_hints(CustomerUpdateFields)
    assert list(update_hints) == list(create_hints)
    for name, hint in create_hints.items():
        expected = hint | None if name == "company" else hint
        assert update_hints[name] == expected, name
    assert CustomerUpdateFields.__required_keys__ == frozenset()


def test_update_wire_keeps_only_given_fields_and_needs_no_company() -> None:
    """Only the fields given are in the body; None means unchanged; company is optional."""
    assert update_wire({"superuser_email": "a@example.com", "bill_city": None}) == {
        "superuser_email": "a@example.com"
    }
    assert update_wire({"company": "Acme"}) == {"company": "Acme"}


def test_update_wire_runs_the_create_rules_and_names_every_problem() -> None:
    """The create's own hooks judge an update: wrong types, CR/LF and unknown names, all listed."""
    with pytest.raises(ValidationError) as info:
        update_wire({"terms_id": "7", "superuser_name": "a\nb", "compnay": "x"})
    paths = [e.path for e in info.value.errors]
    assert paths == ["superuser_name", "terms_id", "compnay"]  # wire order, then unknown names
    with pytest.raises(ValidationError, match="company"):
        update_wire({"company": ""})


def test_an_update_with_no_field_is_refused() -> None:
    """An update that would send nothing is a ValidationError naming '$'."""
    with pytest.raises(ValidationError) as info:
        update_wire({"bill_city": None})
    assert [e.path for e in info.value.errors] == ["$"]


async def test_update_puts_only_the_given_fields(mocked: aioresponses, sleeps: Sleeps) -> None:
    """update(5, ...) is one PUT /customer/5 of exactly the given fields, answered 202."""
    mocked.put(f"{URL}/5", status=202, payload=updated(5))
    async with make_client(ROOT, sleeps) as client:
        result = await client.customers.update(5, superuser_email="a@example.com", tags=["x"])
    assert (result.customer_id, result.attempts) == (5, 1)
    (sent,) = requests_sent(mocked)
    assert sent.method == "PUT"
    assert sent.body is not None
    assert orjson.loads(sent.body) == {"superuser_email": "a@example.com", "tags": ["x"]}


async def test_invalid_update_or_id_sends_nothing(mocked: aioresponses, sleeps: Sleeps) -> None:
    """Bad fields or a bad id fail before any request."""
    async with make_client(ROOT, sleeps) as client:
        with pytest.raises(ValidationError):
            await client.customers.update(5, terms_id="x")  # type: ignore[arg-type]
        for bad in (0, -1, True, "5"):
            with pytest.raises(ConfigurationError):
                await client.customers.update(bad, company="A")  # type: ignore[arg-type]
            with pytest.raises(ConfigurationError):
                await client.customers.delete(bad)  # type: ignore[arg-type]
    assert requests_sent(mocked) == []


async def test_update_is_resent_after_transient_failures(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """A PUT is idempotent: a 503, a reset and a 429 are each resent, through tenacity's loop."""
    events: list[RetryEvent] = []
    mocked.put(f"{URL}/5", status=503, body="busy")
    mocked.put(f"{URL}/5", exception=aiohttp.ServerDisconnectedError())
    mocked.put(f"{URL}/5", status=429, headers={"Retry-After": "1"}, payload=s.envelope(429, False))
    mocked.put(f"{URL}/5", status=202, payload=updated(5))
    policy = RetryPolicy(sleep=sleeps, on_retry=events.append)
    async with make_client(ROOT, sleeps, retry=policy) as client:
        result = await client.customers.update(5, company="Acme")
    assert (result.customer_id, result.attempts) == (5, 4)
    assert [(e.operation, e.action) for e in events] == [("update", "resend")] * 3
    assert events[-1].delay == 1.0  # the 429's Retry-After
    bodies = {r.body for r in requests_sent(mocked)}
    assert bodies == {b'{"company":"Acme"}'}  # the same bytes every time


async def test_update_404_and_401_are_not_retried(mocked: aioresponses, sleeps: Sleeps) -> None:
    """A 404 is NotFoundError and a 401 AuthenticationError, each after one request."""
    mocked.put(
        f"{URL}/7", status=404, payload=s.envelope(404, None, "This customer does not exist.")
    )
    mocked.put(f"{URL}/8", status=401, payload=s.envelope(401, False, "no"))
    async with make_client(ROOT, sleeps) as client:
        with pytest.raises(NotFoundError):
            await client.customers.update(7, company="A")
        with pytest.raises(AuthenticationError):
            await client.customers.update(8, company="A")
    assert len(requests_sent(mocked)) == 2


async def test_delete_is_resent_after_a_5xx(mocked: aioresponses, sleeps: Sleeps) -> None:
    """A DELETE answered 500 then 200 is confirmed after two requests."""
    mocked.delete(f"{URL}/5", status=500, body="oops")
    mocked.delete(f"{URL}/5", payload=s.envelope(200, True))
    async with make_client(ROOT, sleeps) as client:
        deleted = await client.customers.delete(5)
    assert (deleted.customer_id, deleted.attempts, deleted.confirmed) == (5, 2, True)


async def test_a_retried_delete_answered_404_is_unconfirmed_not_an_error(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """A DELETE whose answer was lost, then 404: gone, confirmed=False (ours or already gone)."""
    mocked.delete(f"{URL}/5", exception=aiohttp.ServerDisconnectedError())
    mocked.delete(f"{URL}/5", status=404, payload=s.envelope(404, None, "gone"))
    async with make_client(ROOT, sleeps) as client:
        deleted = await client.customers.delete(5)
    assert (deleted.attempts, deleted.confirmed) == (2, False)


async def test_a_delete_404_when_nothing_can_have_deleted_it_raises(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """404 first, or after a failure proving nothing was sent (connect refused): NotFoundError."""
    mocked.delete(f"{URL}/5", status=404, payload=s.envelope(404, None, "gone"))
    mocked.delete(
        f"{URL}/6",
        exception=aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None),
            OSError(111, "refused"),
        ),
    )
    mocked.delete(f"{URL}/6", status=404, payload=s.envelope(404, None, "gone"))
    async with make_client(ROOT, sleeps) as client:
        with pytest.raises(NotFoundError):
            await client.customers.delete(5)
        with pytest.raises(NotFoundError):
            await client.customers.delete(6)


def test_mypy_names_a_misspelt_update_field(tmp_path: Path) -> None:
    """update(**fields) is typed by CustomerUpdateFields: mypy rejects an unknown field name."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from customer_sdk import ChargeOverClient\n"
        "async def f(c: ChargeOverClient) -> None:\n"
        "    await c.customers.update(1, compnay='Acme')\n"
        "    await c.customers.update(1, bill_city='Paris')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", str(snippet)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout
    assert '"compnay"' in done.stdout
    assert done.stdout.count("error:") == 1, done.stdout


# --- against the sandbox ---------------------------------------------------------------------


async def test_sandbox_update_answers_202_with_location_and_changes_only_what_was_sent() -> None:
    """The sandbox's PUT: 202, response.id and Location as recorded; a bad type its 400."""
    async with Sandbox() as sb:
        async with client_for(sb) as client:
            cid = (await client.customers.create(company="Acme", bill_city="Oslo")).customer_id
            auth = {"Authorization": aiohttp.encode_basic_auth(sb.username, sb.password)}
            async with aiohttp.ClientSession(headers=auth) as http:
                put = http.put(f"{sb.base_url}/api/v3/customer/{cid}", json={"custom_1": "x"})
                async with put as r:
                    status, location, body = r.status, r.headers["Location"], await r.json()
                bad = http.put(f"{sb.base_url}/api/v3/customer/{cid}", json={"terms_id": "x"})
                async with bad as r:
                    refused = (r.status, (await r.json())["message"])
        obj = sb.customers[cid]
    assert (status, body["code"], body["response"]) == (202, 202, {"id": cid})
    assert location.endswith(f"/api/v3/customer/{cid}")
    assert refused == (400, "Missing or invalid parameter.")
    assert (obj["company"], obj["bill_city"], obj["custom_1"]) == ("Acme", "Oslo", "x")


async def test_sandbox_update_refuses_bad_types_a_taken_key_and_an_unknown_id() -> None:
    """400 for another customer's key (even a deleted one's); 404 for no such id; a key moves."""
    async with Sandbox() as sb, client_for(sb, retry=RetryPolicy.no_wait()) as client:
        a = (await client.customers.create(company="A", external_key="ka")).customer_id
        b = (await client.customers.create(company="B", external_key="kb")).customer_id
        gone = (await client.customers.create(company="C", external_key="kc")).customer_id
        await client.customers.delete(gone)
        for key in ("kb", "kc"):
            with pytest.raises(BadRequestError):
                await client.customers.update(a, external_key=key)
        with pytest.raises(NotFoundError, match=r"This customer does not exist\."):
            await client.customers.update(999, company="Z")
        await client.customers.update(b, external_key="kb2")
        moved = await client.customers.find_by_external_key("kb2")
        old = await client.customers.find_by_external_key("kb")
    assert moved is not None
    assert moved.customer_id == b
    assert old is None


async def test_sandbox_update_whose_answer_is_lost_is_resent_and_lands_once() -> None:
    """update:reset_after_commit: the change landed, the answer was lost; the resend is harmless."""
    async with Sandbox(faults="update:script=reset_after_commit") as sb:
        async with client_for(sb, retry=RetryPolicy.no_wait()) as client:
            cid = (await client.customers.create(company="A")).customer_id
            result = await client.customers.update(cid, company="B")
        puts = [(e.status, e.fault, e.committed) for e in sb.audit if e.kind == "update"]
    assert result.attempts == 2
    assert puts == [(None, "reset_after_commit", 1), (202, None, 1)]


async def test_sandbox_delete_whose_answer_is_lost_is_unconfirmed() -> None:
    """delete:reset_after_commit: deleted, answer lost; the resend gets 404, confirmed=False."""
    async with Sandbox(faults="delete:script=reset_after_commit") as sb:
        async with client_for(sb, retry=RetryPolicy.no_wait()) as client:
            cid = (await client.customers.create(company="A", external_key="d-1")).customer_id
            deleted = await client.customers.delete(cid)
            with pytest.raises(NotFoundError):
                await client.customers.delete(cid)  # a fresh call: nothing of it can have deleted
        assert not sb.customers
    assert (deleted.attempts, deleted.confirmed) == (2, False)
