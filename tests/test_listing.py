r"""Listing, counting and getting by key or token (customer_sdk._listing, _query, _protocol).

The arguments are checked before any I/O; the requests are pinned on the wire; the paging,
filters, order, counts and the escaping of nasty keys run against the real sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import gc
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from customer_sdk import (
    ChargeOverClient,
    ConfigurationError,
    Customer,
    CustomerList,
    MalformedResponseError,
    NotFoundError,
    Page,
    RetryPolicy,
    ServerError,
)
from customer_sdk import _protocol as proto
from customer_sdk._query import build_query
from customer_sdk.sandbox import Sandbox

NASTY_KEYS = [
    "a,b",
    "a:b",
    "a\\b",
    "a\\:b",
    "a\\,b",
    ":,\\:,",
    "ends\\",
    "\\",
    "50% & #frag ?x=1 +plus+",
    "naïve ключ 鍵 🎉",
    "k" * 300,
]


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A running sandbox."""
    async with Sandbox() as sandbox:
        yield sandbox


def client(sb: Sandbox, **kw: Any) -> ChargeOverClient:
    """A no-wait client bound to the sandbox."""
    kw.setdefault("retry", RetryPolicy.no_wait())
    return ChargeOverClient(sb.base_url, username=sb.username, password=sb.password, **kw)


async def seed(c: ChargeOverClient, n: int, **fields: Any) -> list[int]:
    """Create ``n`` customers Co00, Co01, ... (keys k00, k01, ...); return their ids."""
    ids = []
    for i in range(n):
        created = await c.customers.create(company=f"Co{i:02}", external_key=f"k{i:02}", **fields)
        ids.append(created.customer_id)
    return ids


def listing_gets(sb: Sandbox) -> list[dict[str, list[str]]]:
    """The query parameters of every listing GET the sandbox received, in order."""
    return [
        parse_qs(e.query)
        for e in sb.audit
        if e.method == "GET" and e.path == proto.CUSTOMER_PATH and "limit=" in e.query
    ]


# --- arguments --------------------------------------------------------------------------------


def test_default_query_orders_by_id_and_pages_by_100() -> None:
    """No arguments: no clauses, customer_id:ASC, the documented-nowhere default of 100."""
    q = build_query()
    assert (q.where, q.order, q.page_size) == ((), ("customer_id:ASC",), 100)


def test_where_forms_become_escaped_clauses() -> None:
    r"""A string is sent as written; mapping and tuple values are escaped (only , and :)."""
    q = build_query(
        [
            "bill_state:equals:MN,brand_id:GT:3",
            ("company", "contains", "a,b:c\\d"),
            ("ship_city", "is:null"),
        ]
    )
    assert q.where == (
        "bill_state:EQUALS:MN",
        "brand_id:GT:3",
        "company:CONTAINS:a\\,b\\:c\\d",
        "ship_city:IS:NULL",
    )
    mapped = build_query({"external_key": "k,1", "brand_id": 2, "bill_city": None})
    assert mapped.where == ("external_key:EQUALS:k\\,1", "brand_id:EQUALS:2", "bill_city:IS:NULL")
    assert build_query("bill_city:ISNOT:null").where == ("bill_city:ISNOT:NULL",)


def test_order_gets_customer_id_as_tie_breaker() -> None:
    """A given order is upper-cased and ends with customer_id unless it names it already."""
    assert build_query(order="company:desc").order == ("company:DESC", "customer_id:ASC")
    assert build_query(order=["customer_id:DESC"]).order == ("customer_id:DESC",)
    assert build_query(order="bill_city,company:ASC").order == (
        "bill_city:ASC",
        "company:ASC",
        "customer_id:ASC",
    )


def test_every_bad_argument_is_named_at_once() -> None:
    """Bad field, op, value type, order and page size: one ConfigurationError naming each."""
    with pytest.raises(ConfigurationError) as info:
        build_query(
            ["nope", ("company", "LIKE", "x"), "bad field:EQUALS:1"],
            order=["company:UP"],
            page_size=501,
        )
    text = str(info.value)
    for part in ("'nope'", "(field, op, value)", "'bad field'", "company:UP", "page_size"):
        assert part in text, part
    with pytest.raises(ConfigurationError, match="got bool"):
        build_query({"no_taxes": True})
    with pytest.raises(ConfigurationError, match="surrogate"):
        build_query({"external_key": "\ud800"})
    with pytest.raises(ConfigurationError, match="page_size"):
        build_query(page_size=0)


def test_a_value_ending_in_a_backslash_must_come_last() -> None:
    r"""'k\' before another clause would read as an escaped ','; as the last clause it is fine."""
    with pytest.raises(ConfigurationError, match="put that clause last"):
        build_query({"external_key": "k\\", "company": "x"})
    assert build_query({"company": "x", "external_key": "k\\"}).where[-1] == (
        "external_key:EQUALS:k\\"
    )


def test_list_and_count_requests_on_the_wire() -> None:
    """A page is GET ?where&order&limit&offset, fully percent-encoded; count is /_count."""
    req = proto.list_request(
        "https://x.test", ["company:EQUALS:a\\,b"], ["customer_id:ASC"], 50, 100
    )
    assert req.url == (
        "https://x.test/api/v3/customer?where=company%3AEQUALS%3Aa%5C%2Cb"
        "&order=customer_id%3AASC&limit=50&offset=100"
    )
    assert (req.method, req.path, req.body) == ("GET", "/api/v3/customer", None)
    assert proto.count_request("https://x.test", []).url == "https://x.test/api/v3/customer/_count"
    counted = proto.count_request("https://x.test", ["brand_id:GT:1"])
    assert parse_qs(urlsplit(counted.url).query) == {"where": ["brand_id:GT:1"]}
    assert counted.path == "/api/v3/customer/_count"


async def test_bad_arguments_fail_before_any_request(sb: Sandbox) -> None:
    """list() and count() check their arguments when called: nothing reaches the server."""
    async with client(sb) as c:
        with pytest.raises(ConfigurationError):
            c.customers.list(where="x", page_size=0)
        with pytest.raises(ConfigurationError):
            await c.customers.count(where={"a b": 1})
        with pytest.raises(ConfigurationError):
            await c.customers.get_by_external_key("")
    assert sb.audit == []


# --- paging against the sandbox ---------------------------------------------------------------


async def test_paging_over_several_pages_stops_at_the_short_page(sb: Sandbox) -> None:
    """25 customers by 10: three GETs (10, 10, 5) with offsets 0, 10, 20; every id once."""
    async with client(sb) as c:
        ids = await seed(c, 25)
        listing = c.customers.list(page_size=10)
        assert not listing_gets(sb)  # nothing is sent before iterating
        got = [cust.customer_id async for cust in listing]
    assert got == ids
    gets = listing_gets(sb)
    assert [(g["offset"], g["limit"]) for g in gets] == [
        (["0"], ["10"]),
        (["10"], ["10"]),
        (["20"], ["10"]),
    ]
    assert all(g["order"] == ["customer_id:ASC"] for g in gets)


async def test_a_full_last_page_ends_on_the_empty_page(sb: Sandbox) -> None:
    """20 customers by 10: the third GET gets [] and ends the listing; no empty Page is given."""
    async with client(sb) as c:
        await seed(c, 20)
        pages = [page async for page in c.customers.list(page_size=10).pages()]
    assert [(len(p), p.offset, p.number, p.last) for p in pages] == [
        (10, 0, 1, False),
        (10, 10, 2, False),
    ]
    assert all(isinstance(p, Page) for p in pages)
    assert len(listing_gets(sb)) == 3


async def test_each_iteration_starts_over(sb: Sandbox) -> None:
    """Iterating one listing twice reads it twice, from the first page."""
    async with client(sb) as c:
        await seed(c, 3)
        listing = c.customers.list(page_size=2)
        first = [x.customer_id async for x in listing]
        second = [x.customer_id async for x in listing]
    assert first == second == [1, 2, 3]


async def test_a_deleted_customer_is_left_out_in_either_order(sb: Sandbox) -> None:
    """The plain listing (a slice of the table) and a sorted one agree after a delete."""
    async with client(sb) as c:
        await seed(c, 5)
        sb.delete(2)
        ascending = [x.customer_id async for x in c.customers.list(page_size=2)]
        descending = c.customers.list(order="customer_id:DESC", page_size=2)
        assert ascending == [1, 3, 4, 5]
        assert [x.customer_id async for x in descending] == [5, 4, 3, 1]
        assert await c.customers.count() == 4


async def test_where_and_order_filter_and_sort(sb: Sandbox) -> None:
    """Mapping, tuples and strings filter (AND); DESC reverses; count agrees with the listing."""
    async with client(sb) as c:
        for i in range(12):
            city = "Oslo" if i % 3 == 0 else "Bergen"
            await c.customers.create(company=f"Co{i:02}", bill_city=city, brand_id=i + 1)
        oslo = [x.company async for x in c.customers.list(where={"bill_city": "Oslo"})]
        assert oslo == ["Co00", "Co03", "Co06", "Co09"]
        newest_first = c.customers.list(
            where=[("bill_city", "EQUALS", "Bergen"), "brand_id:GT:5"],
            order="customer_id:DESC",
            page_size=2,
        )
        assert [x.brand_id async for x in newest_first] == [12, 11, 9, 8, 6]
        by_company = c.customers.list(where="company:CONTAINS:co1", order="company:DESC")
        assert [x.company async for x in by_company] == ["Co11", "Co10"]
        assert await c.customers.count() == 12
        assert await c.customers.count(where={"bill_city": "Oslo"}) == 4
        assert await c.customers.count(where="brand_id:LTE:3,bill_city:EQUALS:Bergen") == 2
        assert await c.customers.count(where={"bill_city": "Nowhere"}) == 0


async def test_nasty_keys_round_trip_through_list_count_and_get(sb: Sandbox) -> None:
    r"""Keys with , : \ % & # + ? spaces, non-ASCII and length: listed, counted, got exactly."""
    async with client(sb) as c:
        ids = {}
        for key in NASTY_KEYS:
            ids[key] = (await c.customers.create(company="Co", external_key=key)).customer_id
        for key in NASTY_KEYS:
            found = [x async for x in c.customers.list(where={"external_key": key})]
            assert [(x.customer_id, x.external_key) for x in found] == [(ids[key], key)], key
            assert await c.customers.count(where=[("external_key", "EQUALS", key)]) == 1, key
            got = await c.customers.get_by_external_key(key)
            assert got.customer_id == ids[key], key
            assert await c.customers.find_by_external_key(key) == got
        # CONTAINS with an escaped value finds every key holding ",".
        commas = [
            x.external_key
            async for x in c.customers.list(where=[("external_key", "CONTAINS", ",")])
        ]
    assert sorted(k for k in commas if k) == sorted(k for k in NASTY_KEYS if "," in k)


async def test_get_by_token_and_missing_values(sb: Sandbox) -> None:
    """get_by_token finds the customer a listing shows; a missing key or token is NotFound."""
    async with client(sb) as c:
        await seed(c, 2)
        second = [x async for x in c.customers.list()][1]
        assert second.token
        assert (await c.customers.get_by_token(second.token)).customer_id == second.customer_id
        with pytest.raises(NotFoundError):
            await c.customers.get_by_token("nope")
        with pytest.raises(NotFoundError):
            await c.customers.get_by_external_key("nobody")


async def test_a_failed_page_is_retried(sb: Sandbox) -> None:
    """A filtered page answered 500, then reset, is read again: the listing is complete."""
    async with client(sb) as c:
        await seed(c, 5)
        sb.set_faults("lookup:script=ok|500|reset")
        listing = c.customers.list(where="customer_id:GT:0", page_size=2)
        assert [x.customer_id async for x in listing] == [1, 2, 3, 4, 5]
    faults = [e.fault for e in sb.audit if e.kind == "lookup"]
    assert faults[:3] == [None, "500", "reset"]


async def test_a_page_that_keeps_failing_raises_and_can_be_asked_again(sb: Sandbox) -> None:
    """A page failing past the retry budget raises; asking again reads that page, not the next."""
    async with client(sb, retry=RetryPolicy(attempts=2, wait=False)) as c:
        await seed(c, 3)
        sb.set_faults("lookup:script=ok|500|500")
        pages = c.customers.list(where="customer_id:GT:0", page_size=2).pages()
        first = await pages.__anext__()
        assert [x.customer_id for x in first.customers] == [1, 2]
        with pytest.raises(ServerError):
            await pages.__anext__()
        second = await pages.__anext__()
        assert ([x.customer_id for x in second.customers], second.offset) == ([3], 2)
        with pytest.raises(StopAsyncIteration):
            await pages.__anext__()


async def test_stopping_early_leaves_nothing_open(sb: Sandbox) -> None:
    """A break after one customer sends no further request and leaves no task or connection."""
    async with client(sb) as c:
        await seed(c, 30)
        before = len(sb.audit)
        async for first in c.customers.list(page_size=10):
            assert isinstance(first, Customer)
            break
        pages = c.customers.list(page_size=10).pages()
        await pages.__anext__()
        await pages.aclose()
        with pytest.raises(StopAsyncIteration):
            await pages.__anext__()
        gc.collect()
        await asyncio.sleep(0)
        assert len(sb.audit) - before == 2  # one page each, nothing read ahead
        connector = c._engine.transport._session.connector  # type: ignore[union-attr]
        assert connector is not None
        assert not connector._acquired  # every connection is back in the pool


def test_a_listing_repr_hides_values() -> None:
    """The repr names the filtered fields and the order, never a value (personal data)."""
    listing = CustomerList(None, build_query({"superuser_email": "a@b.example"}))  # type: ignore[arg-type]
    assert "a@b.example" not in repr(listing)
    assert "superuser_email" in repr(listing)


# --- the _count answer ------------------------------------------------------------------------


def _answer(status: int, body: bytes) -> proto.HttpResponse:
    return proto.HttpResponse(status, {}, body)


def test_parse_count_reads_the_number_and_refuses_anything_else() -> None:
    """Response 7 (or "7") is 7; a list, null, a negative or non-JSON 200 is malformed."""
    ok = b'{"code":200,"status":"OK","message":"","response":%s}'
    assert proto.parse_count(_answer(200, ok % b"7")) == 7
    assert proto.parse_count(_answer(200, ok % b'"12"')) == 12
    for bad in (b"[]", b"null", b"-1", b"true", b'"x"'):
        with pytest.raises(MalformedResponseError):
            proto.parse_count(_answer(200, ok % bad))
    with pytest.raises(MalformedResponseError):
        proto.parse_count(_answer(200, b"<html>"))
    with pytest.raises(NotFoundError):
        proto.parse_count(_answer(404, b'{"code":404,"status":"Error","message":"x"}'))


async def test_sandbox_count_and_listing_answer_chargeovers_shapes(sb: Sandbox) -> None:
    """_count's response is an int; a page is a list; a bad filter is the documented 400."""
    async with client(sb) as c:
        await seed(c, 3)
    async with aiohttp.ClientSession() as http:
        token = base64.b64encode(f"{sb.username}:{sb.password}".encode()).decode()
        auth = {"Authorization": f"Basic {token}"}

        async def get(target: str) -> tuple[int, dict[str, Any]]:
            async with http.get(sb.base_url + target, headers=auth) as resp:
                return resp.status, await resp.json()

        status, env = await get("/api/v3/customer/_count")
        assert (status, env["code"], env["status"], env["response"]) == (200, 200, "OK", 3)
        status, env = await get("/api/v3/customer/_count?where=customer_id%3AGT%3A1")
        assert env["response"] == 2
        status, env = await get("/api/v3/customer?limit=2&offset=2")
        assert [o["customer_id"] for o in env["response"]] == [3]
        assert set(env) == {"code", "status", "message", "details", "response"}
        status, env = await get("/api/v3/customer/_count?where=nosuch%3AEQUALS%3A1")
        assert (status, env["message"], env["response"]) == (
            400,
            "Missing or invalid parameter.",
            False,
        )
