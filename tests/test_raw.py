"""Raw responses of the writes, the count and a page: the plain result, plus the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from customer_sdk import (
    ChargeOverClient,
    ConfigurationError,
    DeletedCustomer,
    Flags,
    NotFoundError,
    RetryPolicy,
    UpdatedCustomer,
    ValidationError,
)
from customer_sdk.sandbox import Sandbox
from tests._helpers import client_for

ALL = frozenset({"emails", "webhooks", "quickbooks", "events"})
QUIET = "_flag_emails=0&_flag_webhooks=0"


async def test_raw_create_sends_its_flags_in_the_url_like_the_plain_create() -> None:
    """with_raw_response.create(flags=...) puts the same query on the POST as create()."""
    flags = Flags(emails=False, webhooks=False)
    async with Sandbox() as sb, client_for(sb) as client:
        plain = await client.customers.create(company="A", external_key="p", flags=flags)
        raw = await client.customers.with_raw_response.create(
            company="B", external_key="r", flags=flags, timeout=5
        )
        posts = [e.query for e in sb.audit if e.kind == "create"]
        effects = [e.fired for e in sb.side_effects]
    assert plain.created
    assert raw.parsed.created
    assert raw.status == 201
    assert posts == [QUIET, QUIET]
    assert effects == [ALL - {"emails", "webhooks"}] * 2


async def test_raw_update_returns_the_plain_result_with_the_put_answer() -> None:
    """with_raw_response.update: parsed as update() returns, status 202 and its Location."""
    async with Sandbox() as sb, client_for(sb) as client:
        cid = (await client.customers.create(company="Acme")).customer_id
        plain = await client.customers.update(cid, bill_city="Oslo")
        raw = await client.customers.with_raw_response.update(
            cid, bill_city="Paris", flags=Flags(events=False)
        )
        stored = sb.customers[cid]["bill_city"]
        effects = [(e.kind, e.fired) for e in sb.side_effects]
    assert plain == UpdatedCustomer(customer_id=cid, attempts=1)
    assert raw.parsed == plain
    assert (raw.status, raw.attempts) == (202, 1)
    assert raw.headers["Location"].endswith(f"/api/v3/customer/{cid}")
    assert orjson.loads(raw.body)["response"] == {"id": cid}
    assert stored == "Paris"
    assert effects[-1] == ("update", ALL - {"events"})


async def test_raw_delete_returns_the_plain_result_with_the_delete_answer() -> None:
    """with_raw_response.delete: parsed as delete() returns, status 200, flags in the URL."""
    async with Sandbox() as sb, client_for(sb) as client:
        first = (await client.customers.create(company="A")).customer_id
        second = (await client.customers.create(company="B")).customer_id
        plain = await client.customers.delete(first)
        raw = await client.customers.with_raw_response.delete(second, flags=Flags.all_off())
        left = dict(sb.customers)
        effects = [(e.kind, e.fired) for e in sb.side_effects]
    assert plain == DeletedCustomer(customer_id=first, attempts=1, confirmed=True)
    assert raw.parsed == DeletedCustomer(customer_id=second, attempts=1, confirmed=True)
    assert (raw.status, raw.attempts) == (200, 1)
    assert "Content-Type" in raw.headers
    assert orjson.loads(raw.body)["response"] is True
    assert not left
    assert effects[-1] == ("delete", frozenset())


async def test_raw_writes_share_the_plain_retries_and_their_last_answer() -> None:
    """A lost PUT answer is resent and a lost DELETE answer ends unconfirmed: raw shows the last."""
    faults = "update:script=reset_after_commit;delete:script=reset_after_commit"
    async with Sandbox(faults=faults) as sb, client_for(sb, retry=RetryPolicy.no_wait()) as client:
        cid = (await client.customers.create(company="A")).customer_id
        updated = await client.customers.with_raw_response.update(cid, company="B")
        deleted = await client.customers.with_raw_response.delete(cid)
    assert updated.parsed == UpdatedCustomer(customer_id=cid, attempts=2)
    assert (updated.status, updated.attempts) == (202, 2)
    assert deleted.parsed == DeletedCustomer(customer_id=cid, attempts=2, confirmed=False)
    assert (deleted.status, deleted.attempts) == (404, 2)


async def test_raw_count_returns_the_plain_count_with_its_answer() -> None:
    """with_raw_response.count(where): the number count() returns, status 200 and the body."""
    async with Sandbox() as sb, client_for(sb) as client:
        for i in range(5):
            await client.customers.create(
                company=f"Acme {i}", bill_city="Oslo" if i % 2 else "Rome"
            )
        plain = await client.customers.count(where={"bill_city": "Oslo"})
        raw = await client.customers.with_raw_response.count(where={"bill_city": "Oslo"})
        every = await client.customers.with_raw_response.count()
    assert plain == raw.parsed == 2
    assert (raw.status, raw.attempts) == (200, 1)
    assert orjson.loads(raw.body)["response"] == 2
    assert every.parsed == 5


async def test_raw_pages_are_the_pages_list_reads_with_their_answers() -> None:
    """with_raw_response.page(offset=...) gives list().pages()' pages, numbered, last flagged."""
    async with Sandbox() as sb, client_for(sb) as client:
        for i in range(7):
            await client.customers.create(company=f"Acme {i}")
        listed = [page async for page in client.customers.list(page_size=3).pages()]
        raw = [
            await client.customers.with_raw_response.page(page_size=3, offset=offset)
            for offset in (0, 3, 6, 9)
        ]
        reversed_order = await client.customers.with_raw_response.page(
            order="customer_id:DESC", page_size=2
        )
    assert [r.parsed for r in raw[:3]] == listed
    assert [(p.number, p.last, len(p)) for p in listed] == [
        (1, False, 3),
        (2, False, 3),
        (3, True, 1),
    ]
    assert raw[3].parsed.customers == ()
    assert raw[3].parsed.last
    assert all((r.status, r.attempts) == (200, 1) for r in raw)
    ids = [c.customer_id for c in listed[0].customers]
    assert [c["customer_id"] for c in orjson.loads(raw[0].body)["response"]] == ids
    ascending = [c.customer_id for page in listed for c in page.customers]
    assert [c.customer_id for c in reversed_order.parsed.customers] == ascending[::-1][:2]


async def test_a_bad_raw_page_names_every_problem_and_sends_nothing() -> None:
    """A bad page size and a negative offset are named in one ConfigurationError, before I/O."""
    async with Sandbox() as sb, client_for(sb) as client:
        with pytest.raises(ConfigurationError) as caught:
            await client.customers.with_raw_response.page(page_size=0, offset=-3)
        with pytest.raises(ConfigurationError, match="offset must be an int >= 0, got '3'"):
            await client.customers.with_raw_response.page(offset="3")  # type: ignore[arg-type]
        sent = len(sb.audit)
    assert "page_size" in str(caught.value)
    assert "offset must be an int >= 0, got -3" in str(caught.value)
    assert sent == 0


Call = Callable[[Any], Awaitable[object]]

# Each bad call, made through the plain resource or its with_raw_response (``r``).
BAD_CALLS: list[tuple[str, Call, type[Exception]]] = [
    ("update id 0", lambda r: r.update(0, company="x"), ConfigurationError),
    ("update bool id", lambda r: r.update(True, company="x"), ConfigurationError),
    ("update bad field", lambda r: r.update(1, terms_id="x", compnay="y"), ValidationError),
    ("update no field", lambda r: r.update(1), ValidationError),
    ("update bad flags", lambda r: r.update(1, company="x", flags="no"), TypeError),
    ("delete id 0", lambda r: r.delete(-1), ConfigurationError),
    ("delete bad flags", lambda r: r.delete(1, flags={"emails": False}), TypeError),
    ("create bad flags", lambda r: r.create(company="x", flags="no"), TypeError),
    ("create bad field", lambda r: r.create(company="", email="nope"), ValidationError),
    ("count bad where", lambda r: r.count(where=5), ConfigurationError),
    ("count bad operator", lambda r: r.count(where=[("company", "LIKE", "a")]), ConfigurationError),
]


@pytest.mark.parametrize(
    ("call", "error"), [(c, e) for _, c, e in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
async def test_a_bad_raw_call_raises_what_the_plain_call_raises_and_sends_nothing(
    call: Call, error: type[Exception]
) -> None:
    """Bad ids, fields and flags: the raw call's exception equals the plain one's, before I/O."""
    async with Sandbox() as sb, client_for(sb) as client:
        errors = [await _raised(call, view, error) for view in _views(client)]
        sent = len(sb.audit)
    assert errors[0] == errors[1]
    assert sent == 0


async def test_raw_update_and_delete_of_an_unknown_id_raise_not_found_like_the_plain() -> None:
    """An unknown id: NotFoundError with the same message from the plain and the raw call."""
    async with Sandbox() as sb, client_for(sb) as client:
        plain, raw = _views(client)
        for view in (plain, raw):
            with pytest.raises(NotFoundError, match=r"This customer does not exist\."):
                await view.update(999, company="Z")
            with pytest.raises(NotFoundError, match=r"This customer does not exist\."):
                await view.delete(999)


def _views(client: ChargeOverClient) -> tuple[Any, Any]:
    return client.customers, client.customers.with_raw_response


async def _raised(call: Call, view: Any, error: type[Exception]) -> tuple[type[Exception], str]:
    with pytest.raises(error) as info:
        await call(view)
    return type(info.value), str(info.value)
