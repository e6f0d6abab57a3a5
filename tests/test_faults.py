"""faults.md F1-F24, each driven through ChargeOverClient against the sandbox on real sockets.

Every scenario asserts the outcome (a value or the exact exception type), exactly how many POSTs
and lookups reached the sandbox (its audit), how many customers carry the key afterwards, and
that the client holds no connection once the call is over. Faults are scripted (the n-th request
of a kind takes step n) so each count is exact; pytest runs with warnings as errors and each test
ends with a garbage collection, so an unclosed socket or session fails the test that leaked it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import ssl
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme

from customer_sdk import (
    AdaptiveLimiter,
    AuthenticationError,
    BadRequestError,
    ChargeOverClient,
    ConnectError,
    ConnectionLostError,
    CreatedCustomer,
    ExternalKeyReservedError,
    OutcomeUnknownError,
    PauseGate,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    TLSError,
)
from customer_sdk.sandbox import Sandbox
from tests import _scripted as s
from tests._helpers import PASSWORD, USER, FakeTime, free_port_socket, held_connections

TARGET = "/api/v3/redirect-target"
MiB = 1 << 20
# A stall fault holds STALL seconds; a client meant to give up first uses SHORT_TIMEOUT, still
# far above what an unfaulted loopback request takes on a loaded box.
STALL = 1.5
SHORT_TIMEOUT = 0.5

pytestmark = pytest.mark.usefixtures("collect_garbage")


# --- helpers -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def checked_client(
    base_url: str,
    *,
    retry: RetryPolicy | None = None,
    password: str = PASSWORD,
    **kw: Any,
) -> AsyncIterator[ChargeOverClient]:
    """A client for the sandbox; on a clean exit it asserts no connection is still held."""
    kw.setdefault("timeout", 10.0)
    kw.setdefault("connect_timeout", 5.0)
    client = ChargeOverClient(
        base_url,
        username=USER,
        password=password,
        retry=retry if retry is not None else RetryPolicy.no_wait(),
        **kw,
    )
    try:
        yield client
        held = held_connections(client)
    finally:
        await client.aclose()
    # A connection still acquired when every call has returned is a leak (F24's "0 leaked").
    assert held == 0, f"{held} connection(s) still acquired after the calls returned"


def wire(sb: Sandbox) -> tuple[int, int]:
    """(POSTs to /customer, lookups) the sandbox saw, cross-checked against its counters."""
    creates = sum(1 for e in sb.audit if e.kind == "create")
    lookups = sum(1 for e in sb.audit if e.kind == "lookup")
    assert (sb.counters["create"], sb.counters["lookup"]) == (creates, lookups)
    return creates, lookups


def rows(sb: Sandbox, key: str) -> list[dict[str, Any]]:
    """Every stored customer carrying ``key``."""
    return [c for c in sb.customers.values() if c.get("external_key") == key]


def assert_one_row(sb: Sandbox, key: str, customer_id: int) -> None:
    """Exactly one customer has ``key``, it is the one the call returned, and nothing else."""
    (row,) = rows(sb, key)
    assert row["customer_id"] == customer_id
    assert sb.by_key(key) == row
    assert len(sb.customers) == 1
    assert sum(e.committed for e in sb.audit) == 1  # no other request stored anything


def commit_event(sb: Sandbox) -> asyncio.Event:
    """An event set the moment the sandbox stores a customer (sb.on_commit)."""
    event = asyncio.Event()
    sb.on_commit = lambda _customer: event.set()
    return event


# --- F1 / F2: nothing was sent -------------------------------------------------------------------


async def test_f1_refused_connection_is_resent_and_makes_one_row() -> None:
    """A refused connect proves nothing was sent: it is resent, and one customer results (F1)."""
    # Bound but not listening: the kernel refuses every connect, and the port stays reserved.
    blocker = free_port_socket()
    port = blocker.getsockname()[1]
    sb = Sandbox(port=port, username=USER, password=PASSWORD)
    events: list[RetryEvent] = []

    async def sleep(_: float) -> None:
        # The retry's wait is where the server comes up: the first attempt met nothing.
        blocker.close()
        await sb.start()

    try:
        async with checked_client(
            f"http://127.0.0.1:{port}", retry=RetryPolicy(sleep=sleep, on_retry=events.append)
        ) as client:
            created = await client.customers.create(company="Acme", external_key="f1")
    finally:
        blocker.close()
        await sb.stop()
    assert (created.created, created.attempts) == (True, 2)
    assert [(type(e.error), e.action) for e in events] == [(ConnectError, "resend")]
    assert wire(sb) == (1, 0)
    assert_one_row(sb, "f1", created.customer_id)


async def test_f2_connect_timeout_is_resent_and_makes_one_row() -> None:
    """A connect that times out (SYNs dropped) is resent once the server is reachable (F2)."""
    # A listener with backlog 0 holds one unaccepted connection; with that slot taken Linux
    # drops further SYNs, so the client's connect really hangs until its connect_timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)
    sb = Sandbox(port=port, username=USER, password=PASSWORD)
    events: list[RetryEvent] = []

    async def sleep(_: float) -> None:
        # The retry's wait is where the host becomes reachable: the real server takes the port.
        filler.close()
        listener.close()
        await sb.start()

    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with checked_client(
            f"http://127.0.0.1:{port}",
            retry=RetryPolicy(sleep=sleep, on_retry=events.append),
            connect_timeout=0.3,
        ) as client:
            created = await client.customers.create(company="Acme", external_key="f2")
    finally:
        filler.close()
        listener.close()
        await sb.stop()
    assert loop.time() - started >= 0.3  # the first connect really waited for its timeout
    assert (created.created, created.attempts) == (True, 2)
    assert [(type(e.error), str(e.error), e.action) for e in events] == [
        (ConnectError, "connect timed out", "resend")
    ]
    assert wire(sb) == (1, 0)
    assert_one_row(sb, "f2", created.customer_id)


# --- F3: TLS -------------------------------------------------------------------------------------


async def test_f3_untrusted_certificate_fails_once_without_retry() -> None:
    """A certificate from an unknown CA raises TLSError after one attempt, nothing sent (F3)."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    events: list[RetryEvent] = []
    vt = FakeTime(follow_real_time=True)
    async with Sandbox(username=USER, password=PASSWORD, ssl_context=server_ctx) as sb:
        assert sb.base_url.startswith("https://127.0.0.1:")
        retry = RetryPolicy(sleep=vt.sleep, on_retry=events.append)
        async with checked_client(sb.base_url, retry=retry) as client:
            with pytest.raises(TLSError):
                await client.customers.create(company="Acme", external_key="f3")
        assert (events, vt.sleeps) == ([], [])
        assert sb.audit == []  # no HTTP request got past the handshake
        assert rows(sb, "f3") == []
        # The control: the same server and client settings, trusting the CA, succeed.
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with checked_client(sb.base_url, ssl_context=trusting) as client:
            created = await client.customers.create(company="Acme", external_key="f3")
        assert wire(sb) == (1, 0)
        assert_one_row(sb, "f3", created.customer_id)


# --- F4-F6, F12, F13, F21: ambiguous failures, reconciled by key ----------------------------------

BEFORE_COMMIT = [
    pytest.param("reset_before_commit", id="F4-reset_before_commit"),
    pytest.param("500_before_commit", id="F12-500_before_commit"),
    pytest.param("503_before_commit", id="F12-503_before_commit"),
    pytest.param("502_html", id="F13-502_html"),
    pytest.param("504_html", id="F13-504_html"),
]
AFTER_COMMIT = [
    pytest.param("reset_after_commit", id="F5-reset_after_commit"),
    pytest.param("close_after_commit", id="F6-close_after_commit"),
    pytest.param("500_after_commit", id="F12-500_after_commit"),
    pytest.param("503_after_commit", id="F12-503_after_commit"),
    pytest.param("garbage_status", id="F21-garbage_status"),
]
UNREADABLE_201 = [
    pytest.param("truncated_201", id="F9-truncated_201"),
    pytest.param("stall_body_201", id="F10-stall_body_201"),
    pytest.param("malformed_201", id="F11-malformed_201"),
    pytest.param("empty_201", id="F11-empty_201"),
    pytest.param("noid_201", id="F11-noid_201"),
]


@pytest.mark.parametrize("fault", BEFORE_COMMIT)
async def test_ambiguous_failure_before_commit_is_looked_up_then_resent(fault: str) -> None:
    """An ambiguous failure that stored nothing: lookup finds nothing, one resend (F4/F12/F13)."""
    events: list[RetryEvent] = []
    async with Sandbox(username=USER, password=PASSWORD, faults=f"create:script={fault}") as sb:
        async with checked_client(
            sb.base_url, retry=RetryPolicy.no_wait(on_retry=events.append)
        ) as c:
            created = await c.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (True, 3)
        assert [e.action for e in events] == ["lookup"]
        assert wire(sb) == (2, 1)
        assert_one_row(sb, "k", created.customer_id)
    if fault.endswith("_html"):
        # F13: a proxy's HTML page becomes a short message with the markup stripped.
        error = events[0].error
        assert isinstance(error, ServerError)
        assert 0 < len(error.message) <= 512
        assert "<" not in error.message
        assert ">" not in error.message


@pytest.mark.parametrize("fault", AFTER_COMMIT)
async def test_ambiguous_failure_after_commit_is_found_without_a_resend(fault: str) -> None:
    """An ambiguous failure after the commit: the lookup finds it, 0 extra POSTs (F5/F6/F12/F21)."""
    async with Sandbox(username=USER, password=PASSWORD, faults=f"create:script={fault}") as sb:
        async with checked_client(sb.base_url) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (False, 2)
        assert wire(sb) == (1, 1)
        assert_one_row(sb, "k", created.customer_id)


@pytest.mark.parametrize("fault", BEFORE_COMMIT + AFTER_COMMIT + UNREADABLE_201)
async def test_ambiguous_failure_without_key_is_never_resent(fault: str) -> None:
    """Without an external_key an ambiguous failure is OutcomeUnknownError after 1 POST (F4-F21)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults=f"create:script={fault}", stall_seconds=STALL
    ) as sb:
        timeout = SHORT_TIMEOUT if "stall" in fault else 10.0
        async with checked_client(sb.base_url, timeout=timeout) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.customers.create(company="Acme")
        assert info.value.external_key is None
        assert wire(sb) == (1, 0)
        stored = fault not in {p.values[0] for p in BEFORE_COMMIT}
        assert len(sb.customers) == stored
        # Only a 2xx proves the create happened; the other faults leave it open.
        assert info.value.created is (fault in {p.values[0] for p in UNREADABLE_201})


class StaleKeepAliveProxy(s.LoopbackServer):
    """A TCP relay in front of the sandbox that can go stale on an idle keep-alive connection.

    Once ``stale`` is set, a connection that has already carried a response is closed the
    moment the next request arrives on it, without relaying it: what a client sees when the
    server dropped the idle keep-alive connection just as the request was being written.
    """

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.stale = False
        self.dropped = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay one connection both ways, dropping it when stale (see the class)."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        answered = asyncio.Event()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                answered.set()
                await writer.drain()

        task = asyncio.create_task(downstream())
        self.track(task)
        try:
            while data := await reader.read(65536):
                if self.stale and answered.is_set():
                    self.stale = False  # once: the resend goes through
                    self.dropped += 1
                    break
                up_writer.write(data)
                await up_writer.drain()
        except ConnectionError:
            pass
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError):
                    await w.wait_closed()


async def test_f6_stale_keep_alive_connection_is_reconciled() -> None:
    """A POST written on a keep-alive connection the server dropped is looked up, resent (F6)."""
    events: list[RetryEvent] = []
    async with Sandbox(username=USER, password=PASSWORD) as sb:
        async with StaleKeepAliveProxy(int(sb.base_url.rsplit(":", 1)[1])) as proxy:
            retry = RetryPolicy.no_wait(on_retry=events.append)
            async with checked_client(proxy.base_url, retry=retry) as client:
                # One exchange leaves an idle keep-alive connection in the pool...
                assert await client.customers.find_by_external_key("k") is None
                proxy.stale = True
                # ...and the create is written on it, after the server dropped it.
                created = await client.customers.create(company="Acme", external_key="k")
            assert proxy.dropped == 1
        assert [e.action for e in events] == ["lookup"]
        assert (created.created, created.attempts) == (True, 3)
        assert wire(sb) == (1, 2)  # the dropped POST never arrived; 2 lookups (ours + the probe)
        assert_one_row(sb, "k", created.customer_id)


# --- F7 / F8: timeouts and deadlines -----------------------------------------------------------


async def test_f7_read_timeout_then_commit_before_lookup_is_found() -> None:
    """A read timeout whose commit lands before the lookup: found, no resend (F7)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="create:script=stall", stall_seconds=STALL
    ) as sb:
        committed = commit_event(sb)

        async def sleep(_: float) -> None:
            # The backoff outlasts the stall: the late commit is in before the lookup.
            await committed.wait()

        retry = RetryPolicy(sleep=sleep)
        async with checked_client(sb.base_url, retry=retry, timeout=SHORT_TIMEOUT) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (False, 2)
        assert wire(sb) == (1, 1)
        assert_one_row(sb, "k", created.customer_id)


async def test_f7_read_timeout_then_commit_after_the_resend_stays_one_row() -> None:
    """A stalled POST's commit landing after the resend meets the duplicate guard: 1 row (F7)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="create:script=stall", stall_seconds=STALL
    ) as sb:
        async with checked_client(sb.base_url, timeout=SHORT_TIMEOUT) as client:
            created = await client.customers.create(company="Acme", external_key="k")
            # The lookup ran during the stall: nothing yet, so the create was resent and made it.
            assert (created.created, created.attempts) == (True, 3)
            stalled = sb.audit[0]
            assert (stalled.kind, stalled.fault) == ("create", "stall")
            # A late commit that the duplicate guard refuses leaves no event to await: wait out
            # the stall, then make a round trip, which the server answers only after the stalled
            # handler (whose timer fired first) has tried its commit.
            await asyncio.sleep(max(0.0, stalled.time + sb.stall_seconds - time.monotonic()))
            found = await client.customers.find_by_external_key("k")
        assert found is not None
        assert found.customer_id == created.customer_id
        assert sb.audit[0].committed == 0
        assert wire(sb) == (2, 2)
        assert_one_row(sb, "k", created.customer_id)


async def test_f8_policy_deadline_mid_flight_surfaces_outcome_unknown() -> None:
    """RetryPolicy.deadline cutting a stalled POST raises OutcomeUnknownError; 1 row later (F8)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="create:script=stall", stall_seconds=STALL
    ) as sb:
        committed = commit_event(sb)
        loop = asyncio.get_running_loop()
        async with checked_client(sb.base_url, retry=RetryPolicy.no_wait(deadline=0.4)) as client:
            started = loop.time()
            with pytest.raises(OutcomeUnknownError) as info:
                await client.customers.create(company="Acme", external_key="k")
            assert loop.time() - started < STALL  # cut by the deadline, not by the stall
            assert info.value.external_key == "k"
            assert wire(sb) == (1, 0)  # no time was left for a lookup
            await committed.wait()  # the create did happen, late
            found = await client.customers.find_by_external_key("k")
        assert found is not None
        assert found.customer_id is not None
        assert_one_row(sb, "k", found.customer_id)


async def test_f8_caller_timeout_mid_flight_cancels_cleanly() -> None:
    """asyncio.timeout firing mid-POST raises TimeoutError, no retry, no held connection (F8)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="create:script=stall", stall_seconds=STALL
    ) as sb:
        committed = commit_event(sb)
        async with checked_client(sb.base_url) as client:
            with pytest.raises(TimeoutError) as info:
                async with asyncio.timeout(0.3):
                    await client.customers.create(company="Acme", external_key="k")
            assert type(info.value) is TimeoutError  # the builtin, not an SDK error
            assert held_connections(client) == 0
            assert wire(sb) == (1, 0)
            await committed.wait()
            found = await client.customers.find_by_external_key("k")
        assert found is not None
        assert found.customer_id is not None
        assert_one_row(sb, "k", found.customer_id)


# --- F9-F11: a 201 whose body is lost ------------------------------------------------------------


@pytest.mark.parametrize("fault", UNREADABLE_201)
async def test_created_but_unreadable_201_is_settled_by_lookup_only(fault: str) -> None:
    """A 201 with a cut, stalled, malformed, empty or id-less body: lookup only (F9-F11)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults=f"create:script={fault}", stall_seconds=STALL
    ) as sb:
        timeout = SHORT_TIMEOUT if "stall" in fault else 10.0
        async with checked_client(sb.base_url, timeout=timeout) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (False, 2)
        assert wire(sb) == (1, 1)
        assert_one_row(sb, "k", created.customer_id)


# --- F14 / F15: throttling ----------------------------------------------------------------------


def throttled_client(base_url: str, vt: FakeTime, **retry: Any) -> Any:
    """A client whose retry waits and shared 429 pause both run on ``vt``'s virtual clock."""
    return checked_client(
        base_url,
        retry=RetryPolicy(sleep=vt.sleep, **retry),
        limiter=PauseGate(clock=vt.clock, sleep=vt.sleep),
    )


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("0", 0.0, 0.0),
        ("2", 2.0, 2.0),
        ("date+2", 0.0, 2.0),  # an HTTP-date has whole seconds: 2 s ahead reads as 1-2 s
        ("date-60", 0.0, 0.0),  # in the past: go now
        ("-1", 0.0, 0.5),  # invalid values fall back to the backoff window (initial 0.5 s)
        ("inf", 0.0, 0.5),
        ("nan", 0.0, 0.5),
        ("junk", 0.0, 0.5),
        ("none", 0.0, 0.5),
    ],
)
async def test_f14_retry_after_is_waited_or_falls_back_to_backoff(
    value: str, low: float, high: float
) -> None:
    """A 429's Retry-After is waited exactly; invalid or absent values use the backoff (F14)."""
    vt = FakeTime(follow_real_time=True)
    events: list[RetryEvent] = []
    async with Sandbox(username=USER, password=PASSWORD, faults=f"create:script=429@{value}") as sb:
        async with throttled_client(sb.base_url, vt, on_retry=events.append) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (True, 2)
        (wait,) = vt.sleeps  # one wait: the retry's; the shared pause does not add another
        assert low <= wait <= high
        (event,) = events
        assert isinstance(event.error, RateLimitError)
        assert event.action == "resend"
        if value in {"-1", "inf", "nan", "junk", "none"}:
            assert event.error.retry_after is None  # so the wait above was the backoff's
        else:
            assert event.error.retry_after == wait  # the server's value, as parsed
        assert sb.counters["throttled"] == 1
        assert wire(sb) == (2, 0)
        assert_one_row(sb, "k", created.customer_id)


async def test_f14_retry_after_above_the_cap_fails_fast_and_pauses_at_the_cap() -> None:
    """Retry-After above the cap: one call fails fast; the shared pause is min(value, cap) (F14)."""
    vt = FakeTime(follow_real_time=True)
    async with Sandbox(username=USER, password=PASSWORD, faults="create:script=429@120") as sb:
        async with throttled_client(sb.base_url, vt, retry_after_cap=10.0) as client:
            with pytest.raises(RateLimitError) as info:
                await client.customers.create(company="Acme", external_key="k")
            assert info.value.retry_after == 120
            assert vt.sleeps == []  # failed fast: no wait at all
            assert wire(sb) == (1, 0)
            # The next call on the same client is held by the pause, capped at 10 s, not 120.
            created = await client.customers.create(company="Acme", external_key="k")
        (wait,) = vt.sleeps
        assert 9.0 < wait <= 10.0
        assert created.attempts == 1
        assert wire(sb) == (2, 0)
        assert_one_row(sb, "k", created.customer_id)


async def test_f15_429s_without_retry_after_back_off_with_jitter() -> None:
    """Repeated 429s without Retry-After wait jittered, growing windows, never equal (F15)."""
    vt = FakeTime(follow_real_time=True)
    script = "|".join(["429@none"] * 5)
    async with Sandbox(username=USER, password=PASSWORD, faults=f"create:script={script}") as sb:
        async with throttled_client(sb.base_url, vt, initial_backoff=0.5) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert created.attempts == 6
        assert len(vt.sleeps) == 5
        for n, wait in enumerate(vt.sleeps):
            assert 0.0 <= wait <= 0.5 * 2**n  # full jitter within the n-th window
        assert len(set(vt.sleeps)) == 5
        assert sb.counters["throttled"] == 5
        assert wire(sb) == (6, 0)
        assert_one_row(sb, "k", created.customer_id)


async def test_f15_a_burst_over_the_server_rate_is_spread_by_jitter() -> None:
    """Concurrent creates over the server's rate all land once; their backoffs differ (F15)."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    retry = RetryPolicy(
        sleep=sleep, initial_backoff=0.05, max_backoff=0.4, attempts=40, deadline=30
    )
    async with Sandbox(
        username=USER, password=PASSWORD, rate=40.0, burst=4, retry_after="none"
    ) as sb:
        async with checked_client(sb.base_url, retry=retry) as client:
            results = await asyncio.gather(
                *(client.customers.create(company="Acme", external_key=f"b{i}") for i in range(16))
            )
        assert all(r.created for r in results)
        throttled = sb.counters["throttled"]
        assert throttled > 0
        assert len(waits) == throttled
        assert len(set(waits)) == len(waits)  # no two callers retry in lock-step
        assert wire(sb) == (16 + throttled, 0)
        assert len(sb.customers) == 16
        for i, r in enumerate(results):
            assert [c["customer_id"] for c in rows(sb, f"b{i}")] == [r.customer_id]


@pytest.mark.parametrize("initial_rate", [None, 200.0])
async def test_f15_a_burst_of_429s_brings_the_adaptive_rate_down(
    initial_rate: float | None,
) -> None:
    """An AdaptiveLimiter (unpaced, or at 200/s) meeting a 20/s server lowers its rate (F15)."""
    limiter = AdaptiveLimiter(initial_rate=initial_rate)
    retry = RetryPolicy(initial_backoff=0.05, max_backoff=0.4, attempts=40, deadline=30)
    async with Sandbox(
        username=USER, password=PASSWORD, rate=20.0, burst=5, retry_after="none"
    ) as sb:
        async with checked_client(sb.base_url, retry=retry, limiter=limiter) as client:
            results = await asyncio.gather(
                *(client.customers.create(company="Acme", external_key=f"a{i}") for i in range(30))
            )
        assert sb.counters["throttled"] > 0
        assert limiter.throttles == sb.counters["throttled"]
        assert limiter.rate is not None  # unpaced (None) before: the 429s set a rate
        assert limiter.min_rate <= limiter.rate < (initial_rate or math.inf)
        assert all(r.created for r in results)
        assert wire(sb) == (30 + sb.counters["throttled"], 0)
        assert len(sb.customers) == 30


# --- F16-F19: answers that are final -----------------------------------------------------------


async def test_f16_duplicate_of_a_pre_existing_customer_returns_it() -> None:
    """A 400 for a key that already exists returns that customer with created=False (F16)."""
    async with Sandbox(username=USER, password=PASSWORD) as sb:
        async with checked_client(sb.base_url) as client:
            first = await client.customers.create(company="Old", external_key="k")
            again = await client.customers.create(company="New", external_key="k")
        assert (first.created, again.created, again.customer_id, again.attempts) == (
            True,
            False,
            first.customer_id,
            2,
        )
        assert [e.status for e in sb.audit if e.kind == "create"] == [201, 400]
        assert wire(sb) == (2, 1)
        assert_one_row(sb, "k", first.customer_id)
        assert rows(sb, "k")[0]["company"] == "Old"


async def test_f16_duplicate_of_our_own_earlier_attempt_returns_it() -> None:
    """A call whose earlier attempt created the customer, unbeknown, gets it back (F16)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="create:script=503_after_commit"
    ) as sb:
        # One attempt only: the 503 leaves the first call unknown (it cannot look up).
        async with checked_client(sb.base_url, retry=RetryPolicy(attempts=1)) as client:
            with pytest.raises(OutcomeUnknownError):
                await client.customers.create(company="Acme", external_key="k")
        async with checked_client(sb.base_url) as client:
            again = await client.customers.create(company="Acme", external_key="k")
        assert (again.created, again.attempts) == (False, 2)
        assert [e.status for e in sb.audit if e.kind == "create"] == [503, 400]
        assert wire(sb) == (2, 1)
        assert_one_row(sb, "k", again.customer_id)


async def test_f17_server_validation_400_is_not_retried_and_keeps_its_message() -> None:
    """A validation 400 is raised at once with the server's message; nothing stored (F17)."""
    async with Sandbox(username=USER, password=PASSWORD, faults="create:script=400|400") as sb:
        async with checked_client(sb.base_url) as client:
            with pytest.raises(BadRequestError) as keyless:
                await client.customers.create(company="Acme")
            assert type(keyless.value) is BadRequestError
            assert wire(sb) == (1, 0)
            # With a key the 400 might be a duplicate: one lookup decides it is not, and the
            # message does not say the key is taken, so it stays a plain BadRequestError.
            with pytest.raises(BadRequestError) as keyed:
                await client.customers.create(company="Acme", external_key="k")
            assert type(keyed.value) is BadRequestError
        assert wire(sb) == (2, 1)
        assert sb.customers == {}
    # The server's text, passed through unchanged (chargeover-api.md, "Errors").
    assert keyless.value.message == keyed.value.message == "Missing or invalid parameter."


async def test_f17_key_of_a_deleted_customer_is_reported_as_reserved() -> None:
    """A 400 for a key no live customer has (deleted) is ExternalKeyReservedError (F17)."""
    async with Sandbox(username=USER, password=PASSWORD) as sb:
        async with checked_client(sb.base_url) as client:
            first = await client.customers.create(company="Acme", external_key="k")
            sb.delete(first.customer_id)
            with pytest.raises(ExternalKeyReservedError) as info:
                await client.customers.create(company="Acme", external_key="k")
        assert info.value.external_key == "k"
        assert "already exists" in info.value.message  # the server's own words, kept
        assert [e.status for e in sb.audit if e.kind == "create"] == [201, 400]
        assert wire(sb) == (2, 1)
        assert sb.customers == {}


@pytest.mark.parametrize(
    ("fault", "password", "error"),
    [
        pytest.param(None, "wrong-password", AuthenticationError, id="F18-wrong-password"),
        pytest.param("401", PASSWORD, AuthenticationError, id="F18-401"),
        pytest.param("403", PASSWORD, PermissionDeniedError, id="F18-403"),
    ],
)
async def test_f18_auth_failures_are_not_retried(
    fault: str | None, password: str, error: type[Exception]
) -> None:
    """401 (wrong password or fault) and 403 raise after exactly one request (F18)."""
    events: list[RetryEvent] = []
    faults = None if fault is None else f"create:script={fault}"
    async with Sandbox(username=USER, password=PASSWORD, faults=faults) as sb:
        retry = RetryPolicy.no_wait(on_retry=events.append)
        async with checked_client(sb.base_url, retry=retry, password=password) as client:
            with pytest.raises(error) as info:
                await client.customers.create(company="Acme", external_key="k")
        assert type(info.value) is error
        assert events == []
        assert wire(sb) == (1, 0)
        assert [e.status for e in sb.audit] == [401 if error is AuthenticationError else 403]
        assert sb.customers == {}


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_f19_redirects_are_not_followed(code: int) -> None:
    """A 3xx on the POST raises RedirectError; nothing reaches the target, nothing stored (F19)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults=f"create:script=redirect_{code}"
    ) as sb:
        async with checked_client(sb.base_url) as client:
            with pytest.raises(RedirectError) as info:
                await client.customers.create(company="Acme", external_key="k")
        assert info.value.status == code
        assert info.value.location is not None
        assert info.value.location.endswith(TARGET)
        assert [e.path for e in sb.audit] == ["/api/v3/customer"]
        assert sb.counters["other"] == 0
        assert wire(sb) == (1, 0)
        assert sb.customers == {}


# --- F20: hostile bodies ----------------------------------------------------------------------

# The sandbox for F20 runs in a child process: in this one its own 8 MiB answer (and asyncio's
# copy of what the socket did not take at once) would swamp the client's memory being measured.
_CHILD = """
import asyncio, json, sys
from customer_sdk.sandbox import Sandbox

async def main():
    user, password, faults = sys.argv[1:4]
    async with Sandbox(username=user, password=password, faults=faults) as sb:
        print(sb.base_url, flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        audit = [[e.kind, e.status, e.fault, e.committed] for e in sb.audit]
        print(json.dumps({"audit": audit, "customers": list(sb.customers.values())}))

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def sandbox_process(faults: str) -> AsyncIterator[tuple[str, asyncio.Future[Any]]]:
    """A sandbox in a child process: its URL, and a future of its audit, set on exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        USER,
        PASSWORD,
        faults,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    report: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    try:
        async with asyncio.timeout(30):
            base_url = (await proc.stdout.readline()).decode().strip()
        assert base_url.startswith("http://127.0.0.1:"), base_url
        yield base_url, report
        out, _ = await proc.communicate(b"\n")
        report.set_result(json.loads(out))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def create_traced(client: ChargeOverClient) -> tuple[CreatedCustomer, int]:
    """Create key "k" while tracing allocations; the result and the peak traced bytes."""
    tracemalloc.start()
    try:
        created = await client.customers.create(company="Acme", external_key="k")
        return created, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("fault", "inflated"),
    [
        pytest.param("oversized_201", 8 * MiB, id="F20-oversized_201"),
        pytest.param("gzip_bomb_201", 100 * MiB, id="F20-gzip_bomb_201"),
    ],
)
async def test_f20_hostile_body_is_cut_at_the_cap_with_bounded_memory(
    fault: str, inflated: int
) -> None:
    """An 8 MiB or gzip-bomb 201 is read only to the cap, memory stays bounded; lookup (F20)."""
    cap = 256 * 1024
    async with (
        sandbox_process(f"create:script={fault}") as (base_url, report),
        checked_client(base_url, max_response_bytes=cap) as client,
    ):
        created, peak = await create_traced(client)
    # Measured ~0.8 MiB (8 MiB body) and ~1.6 MiB (bomb; aiohttp inflates in bounded steps).
    assert peak < 4 * MiB, f"peak {peak / MiB:.2f} MiB for a body of {inflated / MiB:.0f} MiB"
    assert (created.created, created.attempts) == (False, 2)
    seen = report.result()
    assert seen["audit"] == [["create", 201, fault, 1], ["lookup", 200, None, 0]]
    assert [(c["customer_id"], c["external_key"]) for c in seen["customers"]] == [
        (created.customer_id, "k")
    ]


async def test_f20_control_without_the_cap_the_whole_body_is_read() -> None:
    """The control for F20: with a cap above the body, the 8 MiB really lands in memory."""
    async with (
        sandbox_process("create:script=oversized_201") as (base_url, report),
        checked_client(base_url, max_response_bytes=64 * MiB) as client,
    ):
        created, peak = await create_traced(client)
    assert peak > 8 * MiB  # so the bound above measures the cap, not a blind spot
    # Read in full, the padded body's response.id is 0: still a lookup, still one row.
    assert (created.created, created.attempts) == (False, 2)
    assert len(report.result()["customers"]) == 1


# --- F22 / F23: the lookup itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "lookups"),
    [
        pytest.param("500|503", 3, id="F22-500-503"),
        pytest.param("reset|reset", 3, id="F22-reset"),
        pytest.param("truncated_200", 2, id="F22-truncated_200"),
        pytest.param("stall", 2, id="F22-stall"),
        pytest.param("429@0|500", 3, id="F22-429-500"),
    ],
)
@pytest.mark.parametrize("commit", ["after", "before"])
async def test_f22_a_failing_lookup_is_retried_until_it_answers(
    steps: str, lookups: int, commit: str
) -> None:
    """A lookup failing by 5xx, reset, cut body, timeout or 429 is retried, then decides (F22)."""
    faults = f"create:script=503_{commit}_commit;lookup:script={steps}"
    async with Sandbox(username=USER, password=PASSWORD, faults=faults, stall_seconds=STALL) as sb:
        timeout = SHORT_TIMEOUT if "stall" in steps else 10.0
        async with checked_client(sb.base_url, timeout=timeout) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        resent = commit == "before"
        assert created.created is resent
        assert created.attempts == 1 + lookups + resent
        assert wire(sb) == (1 + resent, lookups)
        assert_one_row(sb, "k", created.customer_id)


async def test_f22_a_reset_lookup_costs_one_request_per_attempt() -> None:
    """A reset lookup is not silently resent by aiohttp: 3 attempts are 3 lookups (F22)."""
    async with Sandbox(
        username=USER, password=PASSWORD, faults="lookup:script=reset|reset|reset|reset"
    ) as sb:
        async with checked_client(sb.base_url, retry=RetryPolicy.no_wait(attempts=3)) as client:
            with pytest.raises(ConnectionLostError):
                await client.customers.find_by_external_key("k")
        assert wire(sb) == (0, 3)


async def test_f22_lookups_failing_past_the_budget_leave_the_create_unknown() -> None:
    """While no lookup answers, the create stays OutcomeUnknownError; a later one settles (F22)."""
    faults = "create:script=503_after_commit;lookup:script=" + "|".join(["500"] * 3)
    async with Sandbox(username=USER, password=PASSWORD, faults=faults) as sb:
        async with checked_client(sb.base_url, retry=RetryPolicy.no_wait(attempts=4)) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.customers.create(company="Acme", external_key="k")
            assert info.value.external_key == "k"
            assert wire(sb) == (1, 3)  # never resent while it may exist
            found = await client.customers.find_by_external_key("k")
        assert found is not None
        assert found.customer_id is not None
        assert_one_row(sb, "k", found.customer_id)


async def test_f23_lagging_lookup_leads_to_duplicate_400_then_found() -> None:
    """The lookup lags the write: resend, duplicate-key 400, lookup again, one row (F23)."""
    faults = "create:script=reset_after_commit;lookup:script=lag"
    async with Sandbox(username=USER, password=PASSWORD, faults=faults, lookup_lag=60.0) as sb:
        async with checked_client(sb.base_url) as client:
            created = await client.customers.create(company="Acme", external_key="k")
        assert (created.created, created.attempts) == (False, 4)
        assert [(e.kind, e.status, e.fault) for e in sb.audit] == [
            ("create", None, "reset_after_commit"),
            ("lookup", 200, "lag"),
            ("create", 400, None),
            ("lookup", 200, None),
        ]
        assert wire(sb) == (2, 2)
        assert_one_row(sb, "k", created.customer_id)


@pytest.mark.parametrize("auth", ["basic", "signature"])
async def test_f23_reconcile_round_trips_a_hard_key_under_either_auth(auth: str) -> None:
    """F5 + F23 with a key full of where-syntax and non-ASCII, signed or basic: 1 row (F23)."""
    key = "k:1,2\\3/ü %#&?"
    faults = "create:script=reset_after_commit;lookup:script=lag"
    async with Sandbox(username=USER, password=PASSWORD, faults=faults, lookup_lag=60.0) as sb:
        async with checked_client(sb.base_url, auth=auth) as client:
            created = await client.customers.create(company="Acme", external_key=key)
        assert (created.created, created.attempts) == (False, 4)
        assert wire(sb) == (2, 2)
        assert_one_row(sb, key, created.customer_id)


# --- F24: cancellation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "stalled", "seen"),
    [
        pytest.param("create:script=stall", "create", (1, 0), id="F24-during-POST"),
        pytest.param(
            "create:script=503_after_commit;lookup:script=stall",
            "lookup",
            (1, 1),
            id="F24-during-reconcile-lookup",
        ),
    ],
)
async def test_f24_cancel_mid_request_propagates_and_leaks_nothing(
    faults: str, stalled: str, seen: tuple[int, int]
) -> None:
    """Cancelling a create mid-request raises CancelledError, holds no connection (F24)."""
    events: list[RetryEvent] = []
    async with Sandbox(username=USER, password=PASSWORD, faults=faults, stall_seconds=STALL) as sb:
        committed = commit_event(sb)
        async with checked_client(
            sb.base_url, retry=RetryPolicy.no_wait(on_retry=events.append)
        ) as c:
            task = asyncio.create_task(c.customers.create(company="Acme", external_key="k"))
            async with asyncio.timeout(10):
                await sb.wait_for_audit(lambda e: e.kind == stalled)  # that request is in
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert held_connections(c) == 0
            assert [e.action for e in events] == ([] if stalled == "create" else ["lookup"])
            assert wire(sb) == seen  # nothing more was sent after the cancel
            # The server commits anyway: the caller settles it later by key, 1 row.
            await committed.wait()
            found = await c.customers.find_by_external_key("k")
        assert found is not None
        assert found.customer_id is not None
        assert_one_row(sb, "k", found.customer_id)
