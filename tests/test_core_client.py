"""ChargeOverClient end to end over real loopback sockets: every failure class of faults.md."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import hmac
import logging
import re
import traceback
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from customer_sdk import (
    AuthenticationError,
    BadRequestError,
    ChargeOverClient,
    ChargeOverError,
    ConfigurationError,
    ConnectError,
    CustomerCreate,
    ExternalKeyReservedError,
    NotFoundError,
    OutcomeUnknownError,
    PauseGate,
    RateLimitError,
    RedirectError,
    RetryEvent,
    RetryPolicy,
    ValidationError,
)
from tests import _scripted as s

USER, PASSWORD = "canary-user-7f3a", "canary-pass-9c2e"
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


class Sleeps:
    """A recording sleep: remembers each wait, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def server() -> AsyncIterator[s.ScriptedServer]:
    """A scripted loopback server, stopped after the test."""
    async with s.ScriptedServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    """The recording sleep injected into the client's retry policy."""
    return Sleeps()


def make_client(base: str, sleeps: Sleeps, **kw: Any) -> ChargeOverClient:
    """A client with canary credentials and a recording sleep."""
    retry = kw.pop("retry", None) or RetryPolicy(sleep=sleeps)
    return ChargeOverClient(base, username=USER, password=PASSWORD, retry=retry, **kw)


# --- the happy path and input handling --------------------------------------------------------


async def test_create_sends_exactly_the_set_fields(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 201 gives id, created, attempts and Location; the body is the set fields in UTF-8."""
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="Jürgen GmbH", external_key="k1")
    assert (created.customer_id, created.created, created.attempts) == (1, True, 1)
    assert created.location == f"{server.base_url}/api/v3/customer/1"
    (ex,) = server.received
    assert ex.body == '{"company":"Jürgen GmbH","external_key":"k1"}'.encode()
    assert ex.headers["content-type"] == "application/json"
    assert ex.headers["authorization"] == "Basic " + SECRETS[1]


@pytest.mark.parametrize("auth", ["basic", "signature"])
@pytest.mark.parametrize("own_session", [True, False])
async def test_every_request_carries_the_sdk_headers(
    server: s.ScriptedServer, sleeps: Sleeps, auth: str, own_session: bool
) -> None:
    """POST and GET carry Accept, User-Agent and Authorization; only a POST has Content-Type."""
    async with contextlib.AsyncExitStack() as stack:
        session = None if own_session else await stack.enter_async_context(aiohttp.ClientSession())
        client = await stack.enter_async_context(
            make_client(server.base_url, sleeps, auth=auth, session=session)
        )
        await client.customers.create(company="A", external_key="h-1")
        await client.customers.find_by_external_key("h-1")
    post, get = server.received
    for ex in (post, get):
        assert ex.headers["accept"] == "application/json"
        assert ex.headers["user-agent"].startswith("customer-sdk-python")
        scheme = "Basic " if auth == "basic" else "ChargeOver co_public_key="
        assert ex.headers["authorization"].startswith(scheme)
    assert post.headers["content-type"] == "application/json"
    assert post.headers["content-length"] == str(len(post.body))
    assert "content-type" not in get.headers


@pytest.mark.parametrize("style", ["model", "mapping", "keywords"])
async def test_create_accepts_a_model_a_mapping_or_keywords(
    server: s.ScriptedServer, sleeps: Sleeps, style: str
) -> None:
    """The three call styles send the same body."""
    fields: dict[str, Any] = {"company": "Acme", "external_key": "k", "tags": ["a"]}
    async with make_client(server.base_url, sleeps) as client:
        if style == "model":
            await client.customers.create(CustomerCreate(**fields))
        elif style == "mapping":
            await client.customers.create(fields)
        else:
            await client.customers.create(**fields)
    assert server.received[0].json == fields


async def test_create_does_not_hold_the_model_while_the_request_is_in_flight(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """create(model) keeps only the wire dict once sent: the model is freed mid-request."""
    server.post_script.append(s.stall(0.5))
    model = CustomerCreate(company="Acme", external_key="held-1", tags=["a"])
    ref = weakref.ref(model)
    async with make_client(server.base_url, sleeps) as client:
        task = asyncio.create_task(client.customers.create(model))
        del model
        while not server.received:
            await asyncio.sleep(0.005)
        gc.collect()
        assert ref() is None  # the request is still in flight, the model already gone
        created = await task
    assert created.created
    assert server.received[0].json == {"company": "Acme", "external_key": "held-1", "tags": ["a"]}


async def test_invalid_input_raises_before_any_request(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Bad fields raise ValidationError and nothing reaches the server."""
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(ValidationError) as info:
            await client.customers.create(company=5, language_id="1", nope=True)
        with pytest.raises(TypeError):
            await client.customers.create(CustomerCreate(company="A"), company="B")
    assert {e.path for e in info.value.errors} == {"company", "language_id", "nope"}
    assert server.received == []


# --- failure classes ----------------------------------------------------------------------------


async def test_connect_failure_is_resent(sleeps: Sleeps) -> None:
    """A refused connection (nothing sent) is retried and then succeeds (F1)."""
    with aioresponses() as mocked:
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
    with socketless_port() as port:
        async with make_client(
            f"http://127.0.0.1:{port}", sleeps, retry=RetryPolicy(attempts=3, sleep=sleeps)
        ) as client:
            with pytest.raises(ConnectError):
                await client.customers.create(company="A", external_key="k")
    assert len(sleeps.calls) == 2


class socketless_port:
    """A loopback port with nothing listening (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


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
    assert (created.customer_id, created.created) == (1, False)
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
    """A 400 on a keyed create whose key exists is success with created=False (F16)."""
    server.customers["dup"] = {"external_key": "dup", "customer_id": 77, "company": "Old"}
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="dup")
    assert (created.customer_id, created.created) == (77, False)


async def test_400_for_a_key_nobody_has_is_key_reserved(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 400 on a keyed create with no such customer raises ExternalKeyReservedError (F17)."""
    server.post_script.append(s.status(400, "Missing or invalid parameter."))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(ExternalKeyReservedError) as info:
            await client.customers.create(company="A", external_key="deleted-key")
    assert isinstance(info.value, BadRequestError)
    assert info.value.message == "Missing or invalid parameter."
    assert server.count("POST") == 1


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
    assert created.created is False
    assert server.count("POST") == 2
    assert list(server.customers) == ["lag"]


async def test_429_waits_retry_after_and_pauses_other_calls(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 429 with Retry-After 2 waits 2 s (recorded) and then succeeds."""
    server.post_script.append(s.status(429, headers={"Retry-After": "2"}))
    async with make_client(server.base_url, sleeps) as client:
        created = await client.customers.create(company="A", external_key="rl")
    assert created.created is True
    assert 2.0 in sleeps.calls


async def test_429_above_the_cap_fails_fast(server: s.ScriptedServer, sleeps: Sleeps) -> None:
    """A Retry-After above retry_after_cap raises RateLimitError after one request (F14)."""
    server.post_script.append(s.status(429, headers={"Retry-After": "3600"}))
    async with make_client(server.base_url, sleeps) as client:
        with pytest.raises(RateLimitError) as info:
            await client.customers.create(company="A", external_key="rl")
    assert info.value.retry_after == 3600
    assert server.count("POST") == 1


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


async def test_cancellation_propagates_and_is_not_retried(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Cancelling a create mid-request raises CancelledError; no second request (F24)."""
    server.post_script.append(s.stall(5))
    async with make_client(server.base_url, sleeps) as client:
        task = asyncio.create_task(client.customers.create(company="A", external_key="c"))
        while not server.received:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(server.received) == 1
    assert sleeps.calls == []


async def test_on_retry_and_logs_report_each_retry(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """on_retry gets a RetryEvent per retry; WARNING per retry and DEBUG per attempt are logged."""
    events: list[RetryEvent] = []
    server.post_script.append(s.status(503))
    retry = RetryPolicy(sleep=sleeps, on_retry=events.append)
    caplog.set_level(logging.DEBUG, logger="customer_sdk")
    async with make_client(server.base_url, sleeps, retry=retry) as client:
        await client.customers.create(company="A", external_key="ev")
    assert [(e.operation, e.action, e.attempt) for e in events] == [("create", "lookup", 1)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"create: attempt 1 failed (ServerError HTTP 503); lookup in {events[0].delay:.2f} s"
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert re.match(r"POST /api/v3/customer -> 503 in [\d.]+ ms \(attempt 1\)", debug[0])
    assert any("GET /api/v3/customer -> 200" in m for m in debug)
    assert not any("ev" in m.split("->")[0] for m in debug)  # the key (in the query) never logs


# --- lookups ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a,b:c\\d", "ünï/%#& ?", "k" * 1024])
async def test_find_by_external_key_round_trips_any_key(
    server: s.ScriptedServer, sleeps: Sleeps, key: str
) -> None:
    """find_by_external_key finds a customer whose key has the hard characters."""
    async with make_client(server.base_url, sleeps) as client:
        assert await client.customers.find_by_external_key(key) is None
        await client.customers.create(company="A", external_key=key)
        found = await client.customers.find_by_external_key(key)
    assert found is not None
    assert found.external_key == key


async def test_lookup_ignores_a_customer_with_another_key(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A returned customer whose key differs (a server ignoring escapes) is not adopted."""
    server.get_script.append(
        lambda ex: ex.respond(200, s.envelope(200, [{"customer_id": 5, "external_key": "x"}]))
    )
    async with make_client(server.base_url, sleeps) as client:
        assert await client.customers.find_by_external_key("y") is None


async def test_get_returns_the_customer_and_maps_404(sleeps: Sleeps) -> None:
    """get(id) parses the object and raises NotFoundError on 404; a 503 is retried."""
    with aioresponses() as mocked:
        base = "http://127.0.0.1:9/api/v3/customer"
        mocked.get(f"{base}/5", status=503, body="<html>busy</html>")
        mocked.get(f"{base}/5", payload=s.envelope(200, {"customer_id": 5, "company": "A"}))
        mocked.get(
            f"{base}/6", status=404, payload=s.envelope(404, None, "This customer does not exist.")
        )
        async with make_client("http://127.0.0.1:9", sleeps) as client:
            customer = await client.customers.get(5)
            with pytest.raises(NotFoundError, match="does not exist"):
                await client.customers.get(6)
    assert (customer.customer_id, customer.company) == (5, "A")


# --- signature auth ------------------------------------------------------------------------------


async def test_signature_auth_verifies_on_the_server(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A server recomputing the HMAC over the raw URL and body accepts POST and GET."""

    def verify(ex: s.Exchange) -> bool:
        fields = dict(re.findall(r'(co_\w+)="([^"]*)"', ex.headers["authorization"]))
        url = (server.base_url + ex.target).lower()
        msg = "||".join(
            [
                fields["co_public_key"],
                url,
                fields["co_nonce"],
                fields["co_timestamp"],
                ex.body.decode(),
            ]
        )
        want = hmac.new(PASSWORD.encode(), msg.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, fields["co_signature"])

    def post(ex: s.Exchange) -> None:
        assert verify(ex)
        server.default_post(ex)

    def get(ex: s.Exchange) -> None:
        assert verify(ex)
        server.default_get(ex)

    server.post_script.append(post)
    server.get_script.append(get)
    async with make_client(server.base_url, sleeps, auth="signature") as client:
        await client.customers.create(company="Zürich AG", external_key="s/1:,")
        assert await client.customers.find_by_external_key("s/1:,") is not None


# --- lifecycle and configuration -----------------------------------------------------------------


async def test_lifecycle_closes_its_own_session_but_not_the_callers(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Async with closes the client's session; a caller's session is used and left open."""
    async with make_client(server.base_url, sleeps) as client:
        await client.customers.create(company="A")
    assert client.closed
    await client.aclose()  # idempotent
    with pytest.raises(ChargeOverError, match="closed"):
        await client.customers.create(company="B")
    async with aiohttp.ClientSession() as session:
        async with make_client(server.base_url, sleeps, session=session) as client:
            await client.customers.create(company="C")
            await client.customers.create(company="D")
        assert not session.closed
    gc.collect()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "http://acme.example.com"}, "plain http"),
        ({"base_url": "https://u:p@acme.chargeover.com"}, "credentials"),
        ({"base_url": "ftp://x"}, "absolute http"),
        ({"base_url": "https://x", "ssl_context": False}, "allow_insecure"),
        ({"base_url": "https://x", "instance": "acme"}, "exactly one"),
        ({"instance": "ac me"}, "subdomain"),
        ({"base_url": "https://x", "password": ""}, "password is empty"),
    ],
)
def test_unsafe_or_invalid_configuration_is_refused(kwargs: dict[str, Any], message: str) -> None:
    """Insecure or malformed settings raise ConfigurationError naming the problem."""
    args: dict[str, Any] = {"username": USER, "password": PASSWORD, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        ChargeOverClient(**args)


def test_base_url_forms_are_normalised() -> None:
    """An instance name, a trailing /api/v3/ and loopback http are all accepted."""
    assert ChargeOverClient(instance="acme", username="u", password="p").base_url == (
        "https://acme.chargeover.com"
    )
    assert (
        ChargeOverClient("https://acme.chargeover.com/api/v3/", username="u", password="p").base_url
        == "https://acme.chargeover.com"
    )
    assert ChargeOverClient("http://localhost:8080", username="u", password="p").base_url == (
        "http://localhost:8080"
    )


def test_from_env_names_every_missing_variable() -> None:
    """from_env reports every missing variable at once, and reads the instance form."""
    with pytest.raises(ConfigurationError) as info:
        ChargeOverClient.from_env({})
    for name in ("CHARGEOVER_BASE_URL", "CHARGEOVER_USERNAME", "CHARGEOVER_PASSWORD"):
        assert name in str(info.value)
    client = ChargeOverClient.from_env(
        {"CHARGEOVER_INSTANCE": "acme", "CHARGEOVER_USERNAME": "u", "CHARGEOVER_PASSWORD": "p"}
    )
    assert client.base_url == "https://acme.chargeover.com"


# --- secrets -------------------------------------------------------------------------------------


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


async def test_credentials_never_leak(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """Canary credentials appear in no log record, exception chain, traceback or repr."""
    caplog.set_level(logging.DEBUG)
    server.post_script += [
        s.status(401, "Invalid or incorrect authorization"),
        s.status(500),
        s.reset(store=False),
        s.garbage_status,
        s.redirect(307),
        s.status(429, headers={"Retry-After": "999"}),
    ]
    raised: list[BaseException] = []
    async with make_client(
        server.base_url, sleeps, retry=RetryPolicy(attempts=1, sleep=sleeps)
    ) as client:
        for _ in range(6):
            try:
                await client.customers.create(company="A")
            except ChargeOverError as exc:
                raised.append(exc)
        try:
            await client.customers.create(company=1)
        except ValidationError as exc:
            raised.append(exc)
        texts = [repr(client), repr(client.retry), repr(client._engine), repr(client._engine.auth)]
    with socketless_port() as port:
        try:
            async with make_client(
                f"http://127.0.0.1:{port}", sleeps, retry=RetryPolicy(attempts=1)
            ) as dead:
                await dead.customers.create(company="A")
        except ChargeOverError as exc:
            raised.append(exc)
    assert len(raised) == 8
    for err in raised:
        for link in _chain(err):
            texts += [str(link), repr(link)]
        texts.append("".join(traceback.format_exception(err)))
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    blob = "\n".join(texts)
    for secret in SECRETS:
        assert secret not in blob
