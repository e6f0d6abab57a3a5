"""ChargeOverClient and client.customers (customer_sdk._client): calls, lifecycle, settings.

The happy path and input handling over a scripted loopback server, lookups, configuration and
secrets, and the shape of every request the SDK sends (checked through aioresponses). What each
failure does to a create is in test_create.py; each status's exception is in test_errors.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import traceback
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import aioresponses

import customer_sdk
from customer_sdk import (
    ChargeOverClient,
    ChargeOverError,
    ConfigurationError,
    CustomerCreate,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from tests import _scripted as s
from tests._helpers import (
    PASSWORD,
    SECRETS,
    USER,
    Sent,
    Sleeps,
    free_port_socket,
    keyed,
    make_client,
    requests_sent,
)

# --- the happy path and input handling -------------------------------------------------------


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
        await server.wait_for_requests()
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
            await client.customers.create(company=5, language_id="1", nope=True)  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            await client.customers.create(CustomerCreate(company="A"), company="B")  # type: ignore[call-overload]
    assert {e.path for e in info.value.errors} == {"company", "language_id", "nope"}
    assert server.received == []


# --- lookups ---------------------------------------------------------------------------------


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


async def test_get_returns_the_customer_and_maps_404(mocked: aioresponses, sleeps: Sleeps) -> None:
    """get(id) parses the object and raises NotFoundError on 404; a 503 is retried."""
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


# --- lifecycle and configuration -------------------------------------------------------------


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


# --- secrets ---------------------------------------------------------------------------------


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
            await client.customers.create(company=1)  # type: ignore[call-overload]
        except ValidationError as exc:
            raised.append(exc)
        texts = [repr(client), repr(client.retry), repr(client._engine), repr(client._engine.auth)]
    with free_port_socket() as closed:  # bound, not listening: the connect is refused
        try:
            port = closed.getsockname()[1]
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


# --- the requests on the wire (aioresponses) ----------------------------------------------------

BASE = "https://acme.chargeover.com"
CUSTOMER = f"{BASE}/api/v3/customer"
LOOKUP = re.compile(r"^https://acme\.chargeover\.com/api/v3/customer\?")


@contextlib.asynccontextmanager
async def shared_session_client(**kw: Any) -> AsyncIterator[ChargeOverClient]:
    """A no-wait client on a caller's session: every header then travels per request."""
    async with (
        aiohttp.ClientSession() as session,
        ChargeOverClient(
            BASE,
            username=USER,
            password=PASSWORD,
            session=session,
            retry=RetryPolicy.no_wait(),
            **kw,
        ) as client,
    ):
        yield client


def assert_sdk_headers(sent: Sent, auth: str = "basic") -> None:
    """Accept JSON, the SDK's User-Agent, and the Authorization of the scheme."""
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == f"customer-sdk-python/{customer_sdk.__version__}"
    if auth == "basic":
        assert sent.headers["Authorization"] == "Basic " + SECRETS[1]
    else:
        assert sent.headers["Authorization"].startswith(f'ChargeOver co_public_key="{USER}" ')


@pytest.mark.parametrize("auth", ["basic", "signature"])
async def test_a_create_is_one_json_post_of_exactly_the_set_fields(
    mocked: aioresponses, auth: str
) -> None:
    """POST /api/v3/customer: the SDK headers, Content-Type JSON, the set fields as UTF-8."""
    mocked.post(CUSTOMER, status=201, payload=s.envelope(201, {"id": 3}))
    async with shared_session_client(auth=auth) as client:
        await client.customers.create(
            CustomerCreate(company="Jürgen GmbH", external_key="k-1", tags=["a", "b"])
        )
    (sent,) = requests_sent(mocked)
    assert (sent.method, str(sent.url)) == ("POST", CUSTOMER)
    assert_sdk_headers(sent, auth)
    assert sent.content_type == "application/json"
    assert sent.body == '{"external_key":"k-1","company":"Jürgen GmbH","tags":["a","b"]}'.encode()


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("plain-1", "external_key:EQUALS:plain-1"),
        ("a,b:c\\d", "external_key:EQUALS:a\\,b\\:c\\d"),
        ("ünï/%#& ?", "external_key:EQUALS:ünï/%#& ?"),
    ],
)
async def test_a_lookup_is_one_get_with_the_key_escaped_in_where(
    mocked: aioresponses, key: str, where: str
) -> None:
    """find_by_external_key: GET /api/v3/customer?where=external_key:EQUALS:<escaped>, no body."""
    mocked.get(LOOKUP, payload=s.envelope(200, []))
    async with shared_session_client() as client:
        assert await client.customers.find_by_external_key(key) is None
    (sent,) = requests_sent(mocked)
    assert (sent.method, sent.url.path) == ("GET", "/api/v3/customer")
    assert dict(sent.url.query) == {"where": where, "limit": "1"}
    assert_sdk_headers(sent)
    assert (sent.body, sent.content_type) == (None, None)
    assert "Content-Type" not in sent.headers


async def test_a_get_is_one_get_of_the_customers_url(mocked: aioresponses) -> None:
    """get(id): GET /api/v3/customer/{id} with the SDK headers and no body."""
    mocked.get(f"{CUSTOMER}/35", payload=s.envelope(200, {"customer_id": 35}))
    async with shared_session_client() as client:
        await client.customers.get(35)
    (sent,) = requests_sent(mocked)
    assert (sent.method, str(sent.url), sent.body) == ("GET", f"{CUSTOMER}/35", None)
    assert_sdk_headers(sent)


async def test_a_bulk_call_posts_the_rows_as_bulk_items(mocked: aioresponses) -> None:
    """batch_size > 1: POST /api/v3/_bulk whose body is exactly the items, in row order."""
    rows = keyed(3)
    items = [
        {"code": 201, "status": "OK", "message": "", "response": {"id": 10 + i}} for i in range(3)
    ]
    mocked.post(f"{BASE}/api/v3/_bulk", payload=s.envelope(200, {"_bulk": items}))
    async with (
        shared_session_client() as client,
        client.customers.create_many(rows, concurrency=1, batch_size=3) as job,
    ):
        results = [r async for r in job]
    assert sorted((r.index, r.customer_id) for r in results) == [(0, 10), (1, 11), (2, 12)]
    (sent,) = requests_sent(mocked)
    assert (sent.method, str(sent.url)) == ("POST", f"{BASE}/api/v3/_bulk")
    assert_sdk_headers(sent)
    assert sent.content_type == "application/json"
    assert sent.body is not None
    assert orjson.loads(sent.body) == [
        {"request_method": "POST", "uri": "/api/v3/customer", "payload": row} for row in rows
    ]


async def test_a_lookup_key_that_cannot_be_encoded_is_refused_before_any_request() -> None:
    """find_by_external_key with a lone surrogate raises ConfigurationError, not UnicodeError."""
    async with ChargeOverClient("http://127.0.0.1:9", username="u", password="p") as client:
        with pytest.raises(ConfigurationError, match="surrogate"):
            await client.customers.find_by_external_key("k-\ud800")
