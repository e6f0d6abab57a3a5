"""The create state machine (customer_sdk._create) through the client, on loopback sockets.

Each failure class of docs/faults.md, and what a single create does about it: resend, look the
key up, wait, or raise. The scripted server (tests/_scripted.py) makes each fault on real bytes.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aioresponses import aioresponses

from customer_sdk import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ExternalKeyReservedError,
    OutcomeUnknownError,
    PauseGate,
    RateLimitError,
    RedirectError,
    RetryPolicy,
)
from tests import _scripted as s
from tests._helpers import FakeTime, Sleeps, free_port_socket, make_client


async def test_connect_failure_is_resent(mocked: aioresponses, sleeps: Sleeps) -> None:
    """A refused connection (nothing sent) is retried and then succeeds (F1)."""
    url = "http://127.0.0.1:9/api/v3/customer"
    mocked.post(
        url,
        exception=aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None),
            OSError(111, "Connection refused"),
        ),
    )
    mocked.post(url, status=201, payload=s.envelope(201, {"id": 9}))
    async with make_client("http://127.0.0.1:9", sleeps) as client:
        created = await client.customers.create(company="A")
    assert (created.customer_id, created.attempts) == (9, 2)
    assert len(sleeps.calls) == 1


async def test_connect_failures_exhaust_attempts(sleeps: Sleeps) -> None:
    """A port that never accepts ends in ConnectError after every attempt is spent."""
    with free_port_socket() as closed:  # bound, not listening: every connect is refused
        port = closed.getsockname()[1]
        async with make_client(
            f"http://127.0.0.1:{port}", sleeps, retry=RetryPolicy(attempts=3, sleep=sleeps)
        ) as client:
            with pytest.raises(ConnectError):
                await client.customers.create(company="A", external_key="k")
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize(
    ("action", "stored"),
    [
        (s.status(503), False),
        (s.status(500, store=True), True),
        (s.reset(store=False), False),
        (s.reset(store=True), True),
        (s.close_after_commit, True),
        (s.garbage_status, True),
        (s.status(502, "<html><body>Bad Gateway</body></html>"), False),
    ],
)
async def test_ambiguous_failures_are_reconciled_by_key(
    server: s.ScriptedServer, sleeps: Sleeps, action: s.Action, stored: bool
) -> None:
    """After an ambiguous failure the key is looked up: found → no resend, else one resend."""
    server.post_script.append(action)
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="amb-1")
    assert server.count("GET") == 1
    assert server.count("POST") == (1 if stored else 2)
    assert created.created is (not stored)
    assert created.recovered is stored  # found by key: our own create, its answer lost
    assert list(server.customers) == ["amb-1"]


@pytest.mark.parametrize("action", [s.status(503), s.reset(store=True), s.garbage_status])
async def test_ambiguous_failure_without_key_is_never_resent(
    server: s.ScriptedServer, sleeps: Sleeps, action: s.Action
) -> None:
    """Without an external_key an ambiguous failure raises OutcomeUnknownError after 1 POST."""
    server.post_script.append(action)
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.customers.create(company="A")
    assert info.value.external_key is None
    assert server.count("POST") == 1
    assert server.count("GET") == 0


@pytest.mark.parametrize("action", [s.cut_201, s.malformed_201])
async def test_created_but_unreadable_is_looked_up_never_resent(
    server: s.ScriptedServer, sleeps: Sleeps, action: s.Action
) -> None:
    """A 201 with a cut or malformed body is settled by lookup only, even if it lags (F9/F11)."""
    server.post_script.append(action)
    server.get_script.append(lambda ex: ex.respond(200, s.envelope(200, [])))  # lagging once
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="cut-1")
    assert (created.customer_id, created.created, created.recovered) == (1, False, True)
    assert server.count("POST") == 1
    assert server.count("GET") == 2


async def test_created_but_unreadable_without_key_is_unknown(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A cut 201 without a key raises OutcomeUnknownError and is not resent."""
    server.post_script.append(s.cut_201)
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.customers.create(company="A")
    assert server.count("POST") == 1


async def test_failing_lookup_is_itself_retried(server: s.ScriptedServer, sleeps: Sleeps) -> None:
    """A lookup that fails (500, reset) is retried, then settles the create (F22)."""
    server.post_script.append(s.status(503, store=True))
    server.get_script += [s.status(500), lambda ex: ex.reset()]
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="lk")
    assert created.created is False
    assert (server.count("POST"), server.count("GET")) == (1, 3)


async def test_lookups_failing_until_the_budget_runs_out_are_unknown(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """When lookups keep failing, the result is OutcomeUnknownError carrying the key."""
    server.post_script.append(s.status(503, store=True))
    server.get_script += [s.status(500)] * 10
    retry = RetryPolicy(attempts=4, sleep=sleeps)
    async with make_client(server.base_url, sleeps, retry=retry) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.customers.create(company="A", external_key="lost")
    assert info.value.external_key == "lost"
    assert server.count("POST") == 1


async def test_duplicate_key_400_returns_the_existing_customer(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 400 on a keyed create whose key exists is success, created=False, not recovered (F16)."""
    server.customers["dup"] = {"external_key": "dup", "customer_id": 77, "company": "Old"}
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="dup")
    assert (created.customer_id, created.created, created.recovered) == (77, False, False)


async def test_400_for_a_key_nobody_has_is_key_reserved(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A keyed 400 saying the key is taken, with no such customer: ExternalKeyReservedError."""
    taken = "Another customer already uses this external_key."
    server.post_script.append(s.status(400, taken))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(ExternalKeyReservedError) as info:
            await client.customers.create(company="A", external_key="deleted-key")
    assert isinstance(info.value, BadRequestError)
    assert info.value.message == taken
    assert server.count("POST") == 1


async def test_a_keyed_400_not_about_the_key_is_a_plain_bad_request(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A keyed 400 whose key nobody has and whose message says nothing of it: BadRequestError."""
    server.post_script.append(s.status(400, "Missing or invalid parameter."))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(BadRequestError) as info:
            await client.customers.create(company="A", external_key="k-1")
    assert type(info.value) is BadRequestError
    assert info.value.message == "Missing or invalid parameter."
    assert (server.count("POST"), server.count("GET")) == (1, 1)


async def test_400_without_key_passes_the_message_through(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 400 without a key is raised at once with the server's message; no lookup."""
    server.post_script.append(s.status(400, "A required parameter was missing: No data."))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(BadRequestError, match="No data"):
            await client.customers.create(company="A")
    assert (server.count("POST"), server.count("GET")) == (1, 0)


async def test_lagging_lookup_after_ambiguous_failure_ends_in_one_row(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Reset after commit + a lookup that lags → resend → 400 → lookup finds it (F23)."""
    server.post_script.append(s.reset(store=True))
    server.get_script.append(lambda ex: ex.respond(200, s.envelope(200, [])))
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="lag")
    assert (created.created, created.recovered) == (False, True)
    assert server.count("POST") == 2
    assert list(server.customers) == ["lag"]


async def test_429_waits_retry_after_and_pauses_other_calls(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 429 with Retry-After 2 waits 2 s once, with the shared pause set as long, then succeeds."""
    vt = FakeTime(follow_real_time=True)
    gate = PauseGate(clock=vt.clock, sleep=vt.sleep)
    pause_at_retry: list[float] = []
    retry = RetryPolicy(
        sleep=vt.sleep, on_retry=lambda _: pause_at_retry.append(gate.paused_until - vt.clock())
    )
    server.post_script.append(s.status(429, headers={"Retry-After": "2"}))
    async with make_client(server.base_url, sleeps, retry=retry, limiter=gate) as client:
        created = await client.customers.create(company="A", external_key="rl")
    assert (created.created, created.attempts) == (True, 2)
    # Every other caller of the client's limiter is held for the same 2 s ...
    assert pause_at_retry == [pytest.approx(2.0, abs=0.1)]
    # ... and this call waits them once: the retry's wait, which the shared pause does not add to.
    assert vt.sleeps == [2.0]
    assert (server.count("POST"), server.count("GET")) == (2, 0)


async def test_429_above_the_cap_fails_fast(server: s.ScriptedServer, sleeps: Sleeps) -> None:
    """A Retry-After above retry_after_cap raises RateLimitError after one request (F14)."""
    server.post_script.append(s.status(429, headers={"Retry-After": "3600"}))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(RateLimitError) as info:
            await client.customers.create(company="A", external_key="rl")
    assert info.value.retry_after == 3600
    assert server.count("POST") == 1


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_redirects_are_not_followed(
    server: s.ScriptedServer, sleeps: Sleeps, code: int
) -> None:
    """A redirect on a create raises RedirectError; nothing reaches the target (F19)."""
    server.post_script.append(s.redirect(code))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(RedirectError) as info:
            await client.customers.create(company="A", external_key="r")
    assert info.value.location == "/trap"
    assert server.count("POST", "/trap") == server.count("GET", "/trap") == 0
    assert server.count("POST") == 1


async def test_auth_failure_is_not_retried(server: s.ScriptedServer, sleeps: Sleeps) -> None:
    """A 401 raises AuthenticationError after exactly one request (F18)."""
    server.post_script.append(s.status(401, "Invalid or incorrect authorization [bad]"))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(AuthenticationError):
            await client.customers.create(company="A", external_key="a")
    assert len(server.received) == 1


async def test_deadline_cuts_a_stalled_attempt_and_surfaces_unknown(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """The total deadline cuts a stalled POST; a keyed create is reported unknown (F8)."""
    server.post_script.append(s.stall(5))
    retry = RetryPolicy(deadline=0.4, sleep=sleeps)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with make_client(server.base_url, sleeps, retry=retry) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.customers.create(company="A", external_key="slow")
    assert loop.time() - started < 2
    assert info.value.external_key == "slow"


async def test_cancellation_propagates_and_is_not_retried(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Cancelling a create mid-request raises CancelledError; no second request (F24)."""
    server.post_script.append(s.stall(5))
    async with make_client(server.base_url, sleeps) as client:
        task = asyncio.create_task(client.customers.create(company="A", external_key="c"))
        await server.wait_for_requests()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(server.received) == 1
    assert sleeps.calls == []
