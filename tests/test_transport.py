"""The aiohttp transport (customer_sdk._transport): one watchdog timer for every deadline."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from customer_sdk import ChargeOverClient, RetryPolicy, errors
from customer_sdk import _protocol as proto
from customer_sdk._transport import AiohttpTransport
from customer_sdk._watchdog import Watchdog
from tests import _scripted as s
from tests._helpers import PASSWORD, USER, Sleeps


def _transport(
    timeout: float = 5.0,
    *,
    session: aiohttp.ClientSession | None = None,
    max_connections: int = 16,
) -> AiohttpTransport:
    return AiohttpTransport(
        session=session,
        headers={"Accept": "application/json"},
        timeout=timeout,
        connect_timeout=5.0,
        max_connections=max_connections,
        ssl_context=True,
        max_response_bytes=1 << 20,
    )


def _post(server: s.ScriptedServer, key: str = "k") -> proto.HttpRequest:
    return proto.create_request(
        server.base_url, b'{"company":"A","external_key":"%s"}' % key.encode()
    )


async def test_a_stalled_request_times_out_and_leaves_its_task_usable(
    server: s.ScriptedServer,
) -> None:
    """A stalled request raises TimeoutError at its deadline; the task is not left cancelling."""
    server.post_script.append(s.stall(10))
    transport = _transport(timeout=0.3)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(errors.RequestTimeoutError):
            await transport.send(_post(server), None, None)
        elapsed = loop.time() - started
        assert 0.29 <= elapsed < 3.0
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await asyncio.sleep(0)  # no cancellation left pending on this task
        resp = await transport.send(_post(server, "k2"), None, None)  # the next one succeeds
        assert resp.status == 201
    finally:
        await transport.aclose()


async def test_each_request_times_out_at_its_own_deadline(server: s.ScriptedServer) -> None:
    """Concurrent requests with different time left each end at their own deadline."""
    server.post_script += [s.stall(10), s.stall(10)]
    transport = _transport(timeout=5.0)
    loop = asyncio.get_running_loop()
    ended: dict[str, float] = {}

    async def one(name: str, time_left: float) -> None:
        with pytest.raises(errors.RequestTimeoutError):
            await transport.send(_post(server, name), None, time_left)
        ended[name] = loop.time() - started

    try:
        started = loop.time()
        late = asyncio.create_task(one("late", 0.8))
        await server.wait_for_requests(1)  # the later deadline arms the timer first
        await asyncio.gather(one("early", 0.2), late)
    finally:
        await transport.aclose()
    assert 0.2 <= ended["early"] < ended["late"]
    assert ended["late"] >= 0.8
    assert ended["late"] < 4.0  # the default 5 s timeout did not apply


async def test_a_callers_cancel_is_never_turned_into_a_timeout(server: s.ScriptedServer) -> None:
    """A cancel arriving with the deadline's own still propagates as CancelledError."""
    server.post_script.append(s.stall(10))
    transport = _transport(timeout=0.05)
    try:
        task = asyncio.create_task(transport.send(_post(server), None, None))
        await server.wait_for_requests()
        time.sleep(0.1)  # the deadline passes while the loop is blocked
        watchdog = transport._watchdog
        assert watchdog is not None
        watchdog._fire()  # the deadline's cancel ...
        task.cancel()  # ... and the caller's, before the task runs again
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
    finally:
        await transport.aclose()


async def test_an_expiry_that_surfaces_as_another_error_is_taken_back() -> None:
    """An expired request that ends another way does not leave its task marked cancelling."""
    watchdog = Watchdog(asyncio.get_running_loop())

    async def request() -> int:
        task = watchdog.start(0.01)
        try:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                raise ConnectionResetError("converted by a library") from None
        except ConnectionResetError:
            pass
        finally:
            watchdog.stop(task)
        await asyncio.sleep(0)  # would raise if a cancel were still pending
        return task.cancelling()

    assert await asyncio.wait_for(request(), 2) == 0
    watchdog.close()


async def test_one_timer_serves_every_request(
    server: s.ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of requests arm the loop's timers a handful of times, not once per request."""
    transport = _transport(timeout=30.0)
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    original = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kw: Any) -> Any:
        armed.append(when)
        return original(when, callback, *args, **kw)

    try:
        await transport.send(_post(server, "warm"), None, None)  # the pool and the watchdog
        monkeypatch.setattr(loop, "call_at", counting_call_at)

        async def worker(w: int) -> None:
            for i in range(25):
                resp = await transport.send(_post(server, f"{w}-{i}"), None, None)
                assert resp.status == 201

        await asyncio.gather(*(worker(w) for w in range(8)))
    finally:
        monkeypatch.undo()
        await transport.aclose()
    assert len(server.customers) == 201
    assert len(armed) < 10, armed  # aiohttp's own timer would arm 200
    assert transport._watchdog is not None
    assert transport._watchdog._timer is None  # aclose() dropped the timer


async def test_outside_a_task_a_request_is_refused_clearly() -> None:
    """Code driven outside any task (nothing to cancel) is refused, not left without deadline."""
    loop = asyncio.get_running_loop()
    watchdog = Watchdog(loop)
    outcome: asyncio.Future[BaseException] = loop.create_future()

    async def request() -> None:
        watchdog.start(1.0)

    def drive_by_hand() -> None:  # a loop callback: current_task() is None here
        coro = request()
        try:
            coro.send(None)
        except BaseException as exc:  # handed to the test to inspect
            outcome.set_result(exc)

    loop.call_soon(drive_by_hand)
    exc = await outcome
    assert isinstance(exc, RuntimeError)
    assert "inside an asyncio task" in str(exc)
    assert watchdog._timer is None  # nothing was armed


async def test_aclose_on_a_callers_session_keeps_in_flight_deadlines(
    server: s.ScriptedServer,
) -> None:
    """aclose() leaves a caller's session open, so a stalled request must still time out."""
    server.post_script.append(s.stall(10))
    async with aiohttp.ClientSession() as session:
        transport = _transport(timeout=0.3, session=session)
        loop = asyncio.get_running_loop()
        started = loop.time()
        request = asyncio.create_task(transport.send(_post(server), None, None))
        await server.wait_for_requests()
        await transport.aclose()  # the caller's session stays open: nothing ends the stall
        with pytest.raises(errors.RequestTimeoutError):
            await asyncio.wait_for(request, 3.0)
        assert 0.29 <= loop.time() - started < 3.0
    assert transport._watchdog is not None
    assert transport._watchdog._timer is None  # it ran out with the last deadline


def test_a_client_reused_on_a_second_event_loop_says_so() -> None:
    """A transport first used under one asyncio.run and then another names the real mistake."""
    transport = _transport()

    async def first() -> None:
        # Start (and end) watching on this loop, as a request does, without a server.
        watchdog = transport._watchdog = Watchdog(asyncio.get_running_loop())
        watchdog.stop(watchdog.start(1.0))

    async def second() -> None:
        request = proto.create_request("http://127.0.0.1:9", b"{}")
        try:
            with pytest.raises(RuntimeError, match="another event loop"):
                await transport.send(request, None, None)
        finally:
            await transport.aclose()  # the pool it made on this loop

    asyncio.run(first())
    asyncio.run(second())


async def test_closing_the_client_fails_a_request_waiting_for_the_pool_clearly(
    server: s.ScriptedServer,
) -> None:
    """aclose() ends a request queued for a pooled connection with an SDK error, not a cancel."""
    server.post_script.append(s.stall(10))
    # One connection: the second request waits for the first one's.
    transport = _transport(max_connections=1)
    on_wire = asyncio.create_task(transport.send(_post(server, "a"), None, None))
    await server.wait_for_requests()
    queued = asyncio.create_task(transport.send(_post(server, "b"), None, None))
    assert transport._session is not None
    connector = transport._session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    while not any(connector._waiters.values()):  # until "b" is queued for the connection
        await asyncio.sleep(0.005)
    await transport.aclose()
    with pytest.raises(errors.ConnectionLostError):
        await on_wire
    with pytest.raises(errors.ChargeOverError, match="closed while this request waited"):
        await queued
    assert not queued.cancelled()
    assert len(server.received) == 1  # the queued request never reached the server


async def test_a_request_that_times_out_in_the_pool_queue_is_not_sent(
    server: s.ScriptedServer,
) -> None:
    """A deadline spent waiting for a pooled connection is a ConnectError, never a timeout."""
    server.post_script.append(s.stall(10))
    transport = _transport(timeout=0.3, max_connections=1)
    try:
        on_wire = asyncio.create_task(transport.send(_post(server, "a"), None, None))
        await server.wait_for_requests()
        with pytest.raises(errors.ConnectError, match="not sent"):
            await transport.send(_post(server, "b"), None, None)
        with pytest.raises(errors.RequestTimeoutError):  # the one on the wire is ambiguous
            await on_wire
        assert len(server.received) == 1
    finally:
        await transport.aclose()


async def test_the_clock_restarts_once_the_request_has_its_connection(
    server: s.ScriptedServer,
) -> None:
    """A request that queued most of its timeout still gets its full timeout on the wire."""
    server.post_script.append(s.stall(0.4))  # "a" holds the only connection for 0.4 s
    transport = _transport(timeout=0.6, max_connections=1)
    try:
        on_wire = asyncio.create_task(transport.send(_post(server, "a"), None, None))
        await server.wait_for_requests()
        # "b" queues ~0.4 s, then needs a moment on the wire: past 0.6 s from its start, but
        # within 0.6 s of its connection.
        server.post_script.append(s.stall(0.3))
        resp = await transport.send(_post(server, "b"), None, None)
        assert resp.status == 201
        assert (await on_wire).status == 201
    finally:
        await transport.aclose()


async def test_keyless_creates_queued_past_their_timeout_are_never_outcome_unknown() -> None:
    """Many keyless creates through a pool of 1 to a slow server: no OutcomeUnknownError."""
    created = 0

    async def create(request: web.Request) -> web.Response:
        nonlocal created
        await request.read()
        await asyncio.sleep(0.02)  # each create holds the one connection a while
        created += 1
        return web.json_response(
            {"code": 201, "status": "OK", "message": "", "response": {"id": created}}, status=201
        )

    app = web.Application()
    app.router.add_post("/api/v3/customer", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = ChargeOverClient(
        f"http://127.0.0.1:{port}",
        username=USER,
        password=PASSWORD,
        timeout=1.0,
        max_connections=1,
        retry=RetryPolicy(attempts=2, sleep=Sleeps()),
    )
    try:
        # 120 x 20 ms of service through one connection: the queue outlasts the 1 s timeout.
        results = await asyncio.gather(
            *(client.customers.create(company=f"Co {i}") for i in range(120)),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
        await runner.cleanup()
    unknown = [r for r in results if isinstance(r, errors.OutcomeUnknownError)]
    not_sent = [r for r in results if isinstance(r, errors.ConnectError)]
    done = [r for r in results if not isinstance(r, BaseException)]
    assert unknown == []
    assert not_sent  # the queue did outlast the timeout: the case under test happened
    assert len(done) + len(not_sent) == len(results)
    assert created == len(done)  # every customer the server made was reported, none twice


class ForwardProxy(s.LoopbackServer):
    """A tiny HTTP forward proxy: notes each request line, relays it with Connection: close."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay each request on the connection to the origin its absolute URL names."""
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, version = head[0].split(" ")
                self.seen.append(f"{method} {target}")
                url = urllib.parse.urlsplit(target)
                kept = [h for h in head[1:] if h and not h.lower().startswith(_HOP_BY_HOP)]
                length = sum(int(h.split(":")[1]) for h in kept if h.lower().startswith(_LENGTH))
                body = await reader.readexactly(length)
                path = url.path + (f"?{url.query}" if url.query else "")
                origin = await asyncio.open_connection(url.hostname, url.port)
                lines = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
                origin[1].write("\r\n".join(lines).encode("latin-1") + body)
                writer.write(await origin[0].read())  # the origin closes after its answer
                origin[1].close()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


_HOP_BY_HOP = ("connection:", "proxy-", "keep-alive:")
_LENGTH = "content-length:"


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A minimal ChargeOver-like origin (aiohttp.web): every create gets id 7."""

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(
            {"code": 201, "status": "OK", "message": "", "response": {"id": 7}}, status=201
        )

    app = web.Application()
    app.router.add_post("/api/v3/customer", create)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_requests_go_through_the_proxy_given(origin: str) -> None:
    """proxy= sends each request through that proxy, in absolute form."""
    async with ForwardProxy() as proxy:
        client = ChargeOverClient(origin, username=USER, password=PASSWORD, proxy=proxy.base_url)
        async with client:
            created = await client.customers.create(company="A")
    assert created.customer_id == 7
    assert proxy.seen == [f"POST {origin}/api/v3/customer"]


async def test_trust_env_takes_the_proxy_from_the_environment(
    origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is used with trust_env=True (from_env too) and ignored without it."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        async with ChargeOverClient(origin, username=USER, password=PASSWORD) as client:
            await client.customers.create(company="A")
        assert proxy.seen == []  # aiohttp ignores HTTP_PROXY unless trusted
        env = {
            "CHARGEOVER_BASE_URL": origin,
            "CHARGEOVER_USERNAME": USER,
            "CHARGEOVER_PASSWORD": PASSWORD,
        }
        async with ChargeOverClient.from_env(env, trust_env=True) as client:
            await client.customers.create(company="B")
    assert proxy.seen == [f"POST {origin}/api/v3/customer"]


async def test_from_env_reads_chargeover_proxy(origin: str) -> None:
    """CHARGEOVER_PROXY sets the client's proxy."""
    async with ForwardProxy() as proxy:
        env = {
            "CHARGEOVER_BASE_URL": origin,
            "CHARGEOVER_USERNAME": USER,
            "CHARGEOVER_PASSWORD": PASSWORD,
            "CHARGEOVER_PROXY": proxy.base_url,
        }
        async with ChargeOverClient.from_env(env) as client:
            await client.customers.create(company="A")
    assert proxy.seen == [f"POST {origin}/api/v3/customer"]


def test_a_bad_proxy_is_refused_without_echoing_its_url() -> None:
    """A proxy that is not an http(s) URL is a ConfigurationError that never shows the URL."""
    with pytest.raises(errors.ConfigurationError, match="proxy must be") as info:
        ChargeOverClient(
            "http://127.0.0.1:9", username=USER, password=PASSWORD, proxy="socks5://u:pw@h"
        )
    assert "pw" not in str(info.value)
