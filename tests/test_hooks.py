"""Request hooks and aiohttp trace configs: who is told of each request, answer and retry."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import aiohttp
import pytest

from customer_sdk import (
    ConfigurationError,
    Hooks,
    RequestSent,
    ResponseReceived,
    RetryEvent,
    RetryPolicy,
)
from tests import _scripted as s
from tests._helpers import Sleeps, make_client


async def test_hooks_see_each_request_answer_and_retry_in_order(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """on_request/on_response/on_retry fire per request; paths carry no query (no key)."""
    seen: list[object] = []
    hooks = Hooks(on_request=seen.append, on_response=seen.append, on_retry=seen.append)
    policy_events: list[RetryEvent] = []
    retry = RetryPolicy(sleep=sleeps, on_retry=policy_events.append)
    server.post_script.append(s.status(503))
    async with make_client(server.base_url, sleeps, retry=retry, hooks=hooks) as client:
        created = await client.customers.create(company="A", external_key="secret-key")
    assert created.recovered is False
    assert created.created  # the 503 stored nothing: the lookup found none, the POST again
    kinds = [type(e).__name__ for e in seen]
    assert kinds == [
        "RequestSent",
        "ResponseReceived",
        "RetryEvent",
        "RequestSent",
        "ResponseReceived",
        "RequestSent",
        "ResponseReceived",
    ]
    sent = [e for e in seen if isinstance(e, RequestSent)]
    answers = [e for e in seen if isinstance(e, ResponseReceived)]
    assert [(e.method, e.path, e.attempt) for e in sent] == [
        ("POST", "/api/v3/customer", 1),
        ("GET", "/api/v3/customer", 2),
        ("POST", "/api/v3/customer", 3),
    ]
    assert [a.status for a in answers] == [503, 200, 201]
    assert answers[2].headers["Location"].endswith(f"/{created.customer_id}")
    assert all(a.elapsed >= 0 and a.error is None for a in answers)
    assert "secret-key" not in repr(seen)
    assert len(policy_events) == 1  # the policy's own on_retry is still called


async def test_a_failed_request_is_reported_with_its_error() -> None:
    """A refused connection reaches on_response as error=ConnectError, status None."""
    answers: list[ResponseReceived] = []
    retry = RetryPolicy(attempts=1)
    async with make_client(
        "http://127.0.0.1:9", Sleeps(), retry=retry, hooks=Hooks(on_response=answers.append)
    ) as client:
        with pytest.raises(Exception, match="cannot connect"):
            await client.customers.get(1)
    assert [(a.status, type(a.error).__name__) for a in answers] == [(None, "ConnectError")]


async def test_a_hook_that_raises_is_logged_and_changes_nothing(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in a hook is logged at WARNING and swallowed: the create still succeeds."""

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.WARNING, logger="customer_sdk")
    hooks = Hooks(on_request=broken, on_response=broken)
    async with make_client(server.base_url, sleeps, hooks=hooks) as client:
        created = await client.customers.create(company="A", external_key="h")
    assert created.created
    assert server.count("POST") == 1
    assert [r.getMessage() for r in caplog.records] == [
        "a customer_sdk hook raised RuntimeError; ignored"
    ] * 2


async def test_trace_configs_reach_the_clients_session(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """An aiohttp TraceConfig given as trace_configs= sees each request start and end."""
    events: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_start(
        _s: aiohttp.ClientSession, _c: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        events.append(f"start {params.method} {params.url.path}")

    async def on_end(
        _s: aiohttp.ClientSession, _c: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        events.append(f"end {params.response.status}")

    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    async with make_client(server.base_url, sleeps, trace_configs=[trace]) as client:
        await client.customers.create(company="A", external_key="t")
    assert events == ["start POST /api/v3/customer", "end 201"]


async def test_session_settings_with_a_callers_session_are_refused() -> None:
    """trace_configs (like proxy and trust_env) with session= is a ConfigurationError."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="set them on the session"):
            make_client(
                "http://127.0.0.1:9",
                Sleeps(),
                session=session,
                trace_configs=[aiohttp.TraceConfig()],
            )


def test_bad_hooks_and_trace_configs_are_refused_naming_each() -> None:
    """hooks= that is not a Hooks and trace_configs= not of TraceConfigs: one error, both named."""
    with pytest.raises(ConfigurationError) as info:
        make_client(
            "http://127.0.0.1:9",
            Sleeps(),
            hooks=print,
            trace_configs=["tracer"],
        )
    assert str(info.value) == (
        "hooks must be a customer_sdk.Hooks, got builtin_function_or_method; "
        "trace_configs must be a list of aiohttp.TraceConfig"
    )
