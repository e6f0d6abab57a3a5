"""Per-call control: with_options views, timeout=/deadline= per call, status/headers, raw."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from customer_sdk import (
    ConfigurationError,
    CreatedCustomer,
    Customer,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
)
from tests import _scripted as s
from tests._helpers import Sleeps, make_client


async def test_a_view_shares_the_pool_and_limiter_and_does_not_close_them(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """with_options() shares transport and limiter; closing the view leaves the client open."""
    client = make_client(server.base_url, sleeps)
    view = client.with_options(timeout=5, deadline=20)
    assert view._engine.transport is client._engine.transport
    assert view.limiter is client.limiter
    assert (view._engine.timeout, view.retry.deadline) == (5, 20)
    assert (client._engine.timeout, client.retry.deadline) == (None, RetryPolicy().deadline)
    async with view:
        created = await view.customers.create(company="A", external_key="v1")
    assert created.created
    assert not client.closed  # the view's exit closed nothing
    assert (await client.customers.create(company="B", external_key="v2")).created
    await client.aclose()
    assert view.closed  # the view sees its client's pool closed


async def test_a_view_with_another_retry_policy_gives_up_where_the_client_retries(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """with_options(retry=...) changes only the view's calls."""
    async with make_client(server.base_url, sleeps) as client:
        server.get_script.append(s.status(503))
        with pytest.raises(ServerError):
            await client.with_options(retry=RetryPolicy.disabled()).customers.get(1)
        server.get_script.append(s.status(503))
        server.get_script.append(
            lambda ex: ex.respond(200, s.envelope(200, {"customer_id": 1, "company": "A"}))
        )
        customer = await client.customers.get(1)
    assert isinstance(customer, Customer)
    assert customer.customer_id == 1


async def test_a_per_call_timeout_cuts_a_stalled_request(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """get(..., timeout=0.2) ends a stalled GET at 0.2 s though the client allows 30 s."""
    server.get_script.append(s.stall(30, store=False))
    retry = RetryPolicy(attempts=1, sleep=sleeps)
    async with make_client(server.base_url, sleeps, retry=retry) as client:
        # The bound only turns a hang (the client's own 30 s timeout) into a failure.
        with pytest.raises(RequestTimeoutError):
            async with asyncio.timeout(10):
                await client.customers.get(1, timeout=0.2)


async def test_a_per_call_deadline_bounds_the_whole_call(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """find_by_external_key(..., deadline=0.3) ends a stalled lookup by its deadline."""
    server.get_script.append(s.stall(30, store=False))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(RequestTimeoutError):
            async with asyncio.timeout(10):
                await client.customers.find_by_external_key("k", deadline=0.3)
    assert server.count("GET") == 1  # the deadline left no time for a second attempt


async def test_bad_per_call_options_are_refused_naming_each() -> None:
    """A timeout or deadline that is not seconds > 0 is a ConfigurationError naming both."""
    client = make_client("http://127.0.0.1:9", Sleeps())
    with pytest.raises(ConfigurationError, match=r"timeout .*; deadline"):
        client.with_options(timeout=0, deadline=float("nan"))
    with pytest.raises(ConfigurationError, match="deadline"):
        await client.customers.create(company="A", deadline=-1)
    with pytest.raises(ConfigurationError, match="timeout"):
        await client.customers.get(1, timeout="5")  # type: ignore[arg-type]
    await client.aclose()


async def test_a_created_customer_carries_the_answers_status_and_headers(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """CreatedCustomer.status/.headers are the 201's; after a lookup, the lookup's 200."""
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="h1")
        server.post_script.append(s.reset(store=True))
        recovered = await client.customers.create(company="B", external_key="h2")
    assert created.status == 201
    assert created.headers["Location"].endswith(f"/api/v3/customer/{created.customer_id}")
    assert recovered.recovered
    assert recovered.status == 200
    assert "Content-Type" in recovered.headers
    # Neither takes part in equality: results compare as they always did.
    assert created == CreatedCustomer(
        customer_id=created.customer_id,
        created=True,
        attempts=1,
        location=created.location,
        external_key="h1",
    )


async def test_an_api_error_carries_the_response_headers(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """APIError.headers holds the error answer's headers (here a 429's Retry-After)."""
    server.get_script.append(s.status(429, headers={"Retry-After": "9999", "X-Request-Id": "r1"}))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(RateLimitError) as info:
            await client.customers.get(1)
    assert info.value.status == 429
    assert info.value.headers["x-request-id"] == "r1"  # case-insensitive, as HTTP's


async def test_raw_responses_hold_the_status_headers_body_and_parsed_result(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """with_raw_response returns the answer beside the parsed result, for each call."""
    async with make_client(server.base_url, sleeps) as client:
        raw = await client.customers.with_raw_response.create(company="A", external_key="r1")
        assert raw.status == 201
        assert raw.attempts == 1
        assert isinstance(raw.parsed, CreatedCustomer)
        assert raw.parsed.created
        assert orjson.loads(raw.body)["response"]["id"] == raw.parsed.customer_id
        assert "Location" in raw.headers
        found = await client.customers.with_raw_response.find_by_external_key("r1", timeout=5)
        assert found.status == 200
        assert found.parsed is not None
        assert found.parsed.external_key == "r1"
        missing = await client.customers.with_raw_response.find_by_external_key("nope")
        assert missing.parsed is None
        assert orjson.loads(missing.body)["response"] == []
        with pytest.raises(ConfigurationError):
            await client.customers.with_raw_response.get(0)
