"""The request engine (customer_sdk._engine): the limiter, the call's deadline, logs and events."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from customer_sdk import ChargeOverClient, ConnectError, PauseGate, RetryEvent, RetryPolicy
from customer_sdk._logging import key_hash
from tests import _scripted as s
from tests._helpers import PASSWORD, USER, Sleeps, make_client


async def test_429_pause_holds_concurrent_calls(server: s.ScriptedServer) -> None:
    """While one call's 429 pause runs, another call of the same client sends nothing."""
    server.post_script.append(s.status(429, headers={"Retry-After": "0.3"}))
    async with ChargeOverClient(server.base_url, username=USER, password=PASSWORD) as client:
        first = asyncio.create_task(client.customers.create(company="A", external_key="p1"))
        gate = client.limiter
        assert isinstance(gate, PauseGate)
        async with asyncio.timeout(10):
            while gate.paused_until == 0.0:  # until the 429 has landed and set the pause
                await asyncio.sleep(0.001)
        started = asyncio.get_running_loop().time()
        await client.customers.create(company="B", external_key="p2")
        waited = asyncio.get_running_loop().time() - started
        await first
    assert waited >= 0.2


class SlowLimiter(PauseGate):
    """A limiter whose every wait outlasts the call's deadline (a long shared queue, say)."""

    async def acquire(self) -> None:
        """Hold the caller for 0.3 s."""
        await asyncio.sleep(0.3)


async def test_a_deadline_spent_waiting_for_the_limiter_sends_nothing(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """No time left after the limiter's wait: ConnectError, and no POST goes out half-timed."""
    retry = RetryPolicy(deadline=0.2, sleep=sleeps)
    async with make_client(server.base_url, sleeps, retry=retry, limiter=SlowLimiter()) as client:
        with pytest.raises(ConnectError, match="deadline passed before the request"):
            await client.customers.create(company="A", external_key="queued")
        with pytest.raises(ConnectError):
            await client.customers.find_by_external_key("queued")
    assert server.received == []


async def test_on_retry_and_logs_report_each_retry(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """on_retry gets a RetryEvent per retry; INFO per retry (key hashed) and DEBUG per attempt."""
    events: list[RetryEvent] = []
    server.post_script.append(s.status(503))
    retry = RetryPolicy(sleep=sleeps, on_retry=events.append)
    caplog.set_level(logging.DEBUG, logger="customer_sdk")
    async with make_client(server.base_url, sleeps, retry=retry) as client:
        await client.customers.create(company="A", external_key="ev")
    assert [(e.operation, e.action, e.attempt) for e in events] == [("create", "lookup", 1)]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == [
        f"create [{key_hash('ev')}]: attempt 1 failed (ServerError HTTP 503); "
        f"lookup in {events[0].delay:.2f} s"
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert re.match(r"POST /api/v3/customer -> 503 in [\d.]+ ms \(attempt 1\)", debug[0])
    assert any("GET /api/v3/customer -> 200" in m for m in debug)
    assert not any("ev" in m.split("->")[0] for m in debug)  # the key (in the query) never logs
