"""Recorded ChargeOver exchanges (tests/recordings/*.json) replayed through the SDK.

Each recording is a public, real answer of ChargeOver (its ``source`` names where it was
published: the official Ruby SDK's VCR cassettes, a connector's fixture). aioresponses plays the
recorded status, headers and body back to the real client, and the test pins what the SDK
makes of it. Answers to calls the SDK does not make (a plain listing) are checked through the
makes of it. Answers to calls the SDK does not make (update, delete) are checked through the
protocol layer only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from aioresponses import aioresponses
from multidict import CIMultiDict

from customer_sdk import (
    BadRequestError,
    ChargeOverClient,
    Customer,
    ExternalKeyReservedError,
    NotFoundError,
    RetryPolicy,
)
from customer_sdk import _protocol as proto
from tests._helpers import PASSWORD, USER, requests_sent

RECORDINGS = Path(__file__).parent / "recordings"
BASE = "https://imagerelay-staging.chargeover.com"  # the host of the Ruby SDK's cassettes
CUSTOMER = f"{BASE}/api/v3/customer"
LOOKUP = re.compile(r"^https://imagerelay-staging\.chargeover\.com/api/v3/customer\?")


def recording(name: str) -> dict[str, Any]:
    """One recording, as stored."""
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def replay(mocked: aioresponses, name: str, url: str | re.Pattern[str] | None = None) -> None:
    """Answer the recording's method and URL (or ``url``) with its recorded response."""
    rec = recording(name)
    response = rec["response"]
    mocked.add(
        url or rec["request"]["uri"],
        rec["request"]["method"],
        status=response["status"],
        body=response["body"].encode(),
        headers=response.get("headers", {}),
    )


def as_response(name: str) -> proto.HttpResponse:
    """The recording's response as the protocol layer receives it."""
    response = recording(name)["response"]
    return proto.HttpResponse(
        response["status"], CIMultiDict(response.get("headers", {})), response["body"].encode()
    )


def client() -> ChargeOverClient:
    """A client for the recorded host; retries off, so each replayed answer is final."""
    return ChargeOverClient(BASE, username=USER, password=PASSWORD, retry=RetryPolicy.disabled())


def test_every_recording_names_its_public_source_and_is_replayed_here() -> None:
    """Each recording says where it was published, is a JSON answer, and a test here uses it."""
    names = sorted(p.stem for p in RECORDINGS.glob("*.json"))
    this_module = Path(__file__).read_text(encoding="utf-8")
    assert names
    for name in names:
        assert f'"{name}"' in this_module, f"{name} is recorded but no test replays it"
        rec = recording(name)
        assert rec["source"].startswith("https://github.com/"), name
        assert rec["what"], name
        assert proto.parse_envelope(rec["response"]["body"].encode()) is not None, name


async def test_create_201_gives_the_recorded_id_and_location(mocked: aioresponses) -> None:
    """The recorded create: the SDK sends the same fields and returns id 3 and its Location."""
    replay(mocked, "create_201")
    sent_fields = json.loads(recording("create_201")["request"]["body"])
    async with client() as c:
        created = await c.customers.create(sent_fields)
    assert (created.customer_id, created.created, created.attempts) == (3, True, 1)
    assert created.location == f"{CUSTOMER}/3"
    (sent,) = requests_sent(mocked)
    assert sent.body is not None
    assert orjson.loads(sent.body) == sent_fields  # what the Ruby SDK sent, field for field


async def test_create_400_no_data_without_a_key_is_bad_request(mocked: aioresponses) -> None:
    """The recorded 400 "No data" to a keyless create: BadRequestError with that message."""
    replay(mocked, "create_400_no_data")
    async with client() as c:
        with pytest.raises(BadRequestError) as info:
            await c.customers.create(company="Acme")
    assert type(info.value) is BadRequestError
    assert (info.value.status, info.value.message) == (
        400,
        "A required parameter was missing: No data.",
    )


async def test_create_400_no_data_with_a_key_is_a_bad_request_not_a_reserved_key(
    mocked: aioresponses,
) -> None:
    """The recorded 400 "No data" to a keyed create: looked up, then BadRequestError as it was.

    The recording shows this 400 is a validation error (the body was empty), not a reserved
    key: nobody has the key and the message does not say it is taken, so it is not labelled
    ExternalKeyReservedError.
    """
    replay(mocked, "create_400_no_data")
    replay(mocked, "query_empty_page_200", url=LOOKUP)
    async with client() as c:
        with pytest.raises(BadRequestError) as info:
            await c.customers.create(company="Acme", external_key="mycustomer_id")
    assert not isinstance(info.value, ExternalKeyReservedError)
    assert info.value.message == "A required parameter was missing: No data."
    assert [r.method for r in requests_sent(mocked)] == ["POST", "GET"]


async def test_get_200_is_a_typed_customer(mocked: aioresponses) -> None:
    """The recorded GET /customer/1: a Customer with ints, flags, datetimes, money and text."""
    replay(mocked, "get_200")
    async with client() as c:
        customer = await c.customers.get(1)
    assert isinstance(customer, Customer)
    assert (customer.customer_id, customer.superuser_id, customer.terms_id) == (1, 348, 2)
    assert (customer.company, customer.external_key) == ("Test Customer", None)
    assert (customer.no_taxes, customer.no_dunning) == (False, False)
    assert customer.write_datetime == dt.datetime(2015, 3, 18, 11, 58, 28)
    assert (customer.terms_name, customer.terms_days) == ("Net 30", 30)
    assert (customer.paid, customer.total, customer.balance) == (Decimal(0),) * 3
    assert customer.url_paymethodlink == f"{BASE}/r/paymethod/i/8c3nxe47hrdt"
    assert customer.bill_block == "123 Main Street\nSuite 42\nBurlington VT 05401\nUnited States"
    assert (customer.superuser_phone, customer.tags) == ("8025551212", ())


async def test_get_404_is_not_found(mocked: aioresponses) -> None:
    """The recorded 404 (response null): NotFoundError with ChargeOver's message."""
    replay(mocked, "get_404")
    async with client() as c:
        with pytest.raises(NotFoundError) as info:
            await c.customers.get(99)
    assert (info.value.status, info.value.message) == (404, "This customer does not exist.")


async def test_query_by_key_is_found_by_external_key(mocked: aioresponses) -> None:
    """The recorded where=external_key:EQUALS:23 answer: find_by_external_key("23") returns it."""
    replay(mocked, "query_by_key_200", url=LOOKUP)
    async with client() as c:
        found = await c.customers.find_by_external_key("23")
    assert found is not None
    assert (found.customer_id, found.external_key, found.company) == (9, "23", "Acme Widgets")
    assert (found.paid, found.total) == (Decimal(99), Decimal(99))
    (sent,) = requests_sent(mocked)
    recorded_where = recording("query_by_key_200")["request"]["uri"].split("where=", 1)[1]
    assert sent.url.query["where"] == recorded_where  # the same filter the Ruby SDK sent


async def test_an_empty_page_means_no_customer_has_the_key(mocked: aioresponses) -> None:
    """The recorded empty list (a page past the end): find_by_external_key returns None."""
    replay(mocked, "query_empty_page_200", url=LOOKUP)
    async with client() as c:
        assert await c.customers.find_by_external_key("nobody") is None


def test_a_2026_listing_reads_leniently() -> None:
    """The 2026 listing: no_procfees 0 reads as False, ISO datetimes keep their offset."""
    (raw,) = proto.parse_list(as_response("list_200_2026"))
    customer = Customer.from_wire(raw)
    assert (customer.customer_id, customer.company, customer.token) == (
        None,
        "amplabs",
        "03jul9ranork",
    )
    assert (customer.no_procfees, customer.no_taxes) == (False, False)
    assert customer.write_datetime == dt.datetime(
        2026, 3, 10, 1, 1, 49, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert (customer.language_id, customer.brand_id, customer.tax_ident) == (1, 1, "")


def replay_as(mocked: aioresponses, name: str, method: str, url: str) -> None:
    """Answer ``method url`` with the recording's response (a recorded answer to another call)."""
    response = recording(name)["response"]
    mocked.add(
        url,
        method,
        status=response["status"],
        body=response["body"].encode(),
        headers=response.get("headers", {}),
    )


async def test_the_2026_listing_replayed_as_a_page_ends_the_listing(mocked: aioresponses) -> None:
    """The 2026 listing as page 1 of list(): one row, short of 100, so one GET and done."""
    replay(mocked, "list_200_2026", url=LOOKUP)
    async with client() as c:
        got = [customer async for customer in c.customers.list()]
    assert [(x.company, x.token, x.no_procfees) for x in got] == [
        ("amplabs", "03jul9ranork", False)
    ]
    (sent,) = requests_sent(mocked)
    assert (sent.method, sent.url.path) == ("GET", "/api/v3/customer")
    assert dict(sent.url.query) == {"order": "customer_id:ASC", "limit": "100", "offset": "0"}


async def test_query_by_key_replayed_as_a_filtered_listing(mocked: aioresponses) -> None:
    """The recorded where=external_key:EQUALS:23 answer through list(where=...) and get_by_*."""
    recorded_where = recording("query_by_key_200")["request"]["uri"].split("where=", 1)[1]
    replay(mocked, "query_by_key_200", url=LOOKUP)
    replay(mocked, "query_by_key_200", url=LOOKUP)
    async with client() as c:
        listed = [x async for x in c.customers.list(where={"external_key": "23"})]
        got = await c.customers.get_by_external_key("23")
    assert [(x.customer_id, x.external_key) for x in listed] == [(9, "23")]
    assert (got.customer_id, got.company, got.token) == (9, "Acme Widgets", "wtpi0u9s8bqd")
    sent = requests_sent(mocked)
    assert [r.url.query["where"] for r in sent] == [recorded_where] * 2  # as the Ruby SDK sent


async def test_the_recorded_empty_page_ends_a_listing(mocked: aioresponses) -> None:
    """A full page (page_size 1: the recorded query) then the recorded empty page: 1 customer."""
    replay(mocked, "query_by_key_200", url=LOOKUP)
    replay(mocked, "query_empty_page_200", url=LOOKUP)
    async with client() as c:
        pages = [page async for page in c.customers.list(page_size=1).pages()]
    assert [(len(p), p.offset, p.last) for p in pages] == [(1, 0, False)]
    offsets = [r.url.query["offset"] for r in requests_sent(mocked)]
    assert offsets == ["0", "1"]


async def test_the_recorded_empty_page_is_no_customer_for_get_by_key(
    mocked: aioresponses,
) -> None:
    """The recorded empty list to a key query: get_by_external_key raises NotFoundError."""
    replay(mocked, "query_empty_page_200", url=LOOKUP)
    async with client() as c:
        with pytest.raises(NotFoundError):
            await c.customers.get_by_external_key("nobody")


async def test_update_202_sends_the_recorded_fields_and_returns_the_id(
    mocked: aioresponses,
) -> None:
    """The recorded PUT /customer/1: the SDK sends the same fields and returns id 1 in one try."""
    replay(mocked, "update_202")
    fields = json.loads(recording("update_202")["request"]["body"])
    async with client() as c:
        updated = await c.customers.update(1, **fields)
    assert (updated.customer_id, updated.attempts) == (1, 1)
    (sent,) = requests_sent(mocked)
    assert (sent.method, str(sent.url)) == ("PUT", f"{CUSTOMER}/1")
    assert sent.body is not None
    assert orjson.loads(sent.body) == fields  # what the Ruby SDK sent, field for field


async def test_delete_200_is_a_confirmed_delete(mocked: aioresponses) -> None:
    """The recorded DELETE /customer/3 (response true): confirmed, in one request, no body."""
    replay(mocked, "delete_200")
    async with client() as c:
        deleted = await c.customers.delete(3)
    assert (deleted.customer_id, deleted.attempts, deleted.confirmed) == (3, 1, True)
    (sent,) = requests_sent(mocked)
    assert (sent.method, sent.body) == ("DELETE", None)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_update_or_delete_of_an_unknown_id_is_not_found(
    mocked: aioresponses, method: str
) -> None:
    """ChargeOver's recorded 404 envelope (recorded for a GET) to a PUT or DELETE: NotFoundError."""
    replay_as(mocked, "get_404", method, f"{CUSTOMER}/99")
    async with client() as c:
        call = c.customers.update(99, company="Acme") if method == "PUT" else c.customers.delete(99)
        with pytest.raises(NotFoundError) as info:
            await call
    assert (info.value.status, info.value.message) == (404, "This customer does not exist.")


async def test_update_answered_the_recorded_400_is_a_bad_request(mocked: aioresponses) -> None:
    """ChargeOver's recorded 400 envelope (to a create) to a PUT: BadRequestError, not retried."""
    replay_as(mocked, "create_400_no_data", "PUT", f"{CUSTOMER}/1")
    async with ChargeOverClient(BASE, username=USER, password=PASSWORD) as c:
        with pytest.raises(BadRequestError) as info:
            await c.customers.update(1, company="Acme")
    assert info.value.message == "A required parameter was missing: No data."
    assert len(requests_sent(mocked)) == 1  # a rejection is never resent


def test_update_202_and_delete_200_parse_through_the_protocol() -> None:
    """The recorded answers through the protocol: the 202's id, the delete's ``response: true``."""
    assert proto.parse_updated(as_response("update_202")) == 1
    proto.parse_deleted(as_response("delete_200"))  # raises unless response is true
    deleted = proto.parse_envelope(as_response("delete_200").body)
    assert deleted is not None
    assert (deleted.code, deleted.message, deleted.response) == (200, "", True)
