"""Contract tests of the sandbox server, over real loopback HTTP.

Each wire rule of chargeover-api.md the sandbox plays, each fault name of INTERFACES.md section A
as a client sees it on the socket (plus its audit entry and whether it committed), the rate
limiter, the SPEC parser and the server's lifecycle. Byte-level faults are observed with a raw
socket client, because aiohttp's client would hide the difference between a RST and a FIN.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import logging
import math
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest
import trustme

from customer_sdk import ChargeOverClient, RetryPolicy
from customer_sdk._auth import SignatureAuth
from customer_sdk._protocol import escape_where_value
from customer_sdk.sandbox import (
    REDIRECT_TARGET,
    AuditEntry,
    FaultSpecError,
    Sandbox,
    _wire,
    parse_faults,
)

CUSTOMER = "/api/v3/customer"
AUTH_MISSING = "Invalid or incorrect authorization [Missing (basic) authorization header.]"
INVALID = "Missing or invalid parameter."
NO_DATA = "A required parameter was missing: No data."


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_server_noise(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: aiohttp's server and asyncio log no warning, error or lost task exception."""
    yield
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not noisy, [f"{r.name}: {r.getMessage()}" for r in noisy]


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A running sandbox with short stalls and a long lookup lag."""
    async with Sandbox(stall_seconds=0.3, lookup_lag=60.0) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session that leaves bodies as sent (no gzip inflation)."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


def basic(sb: Sandbox, password: str | None = None) -> dict[str, str]:
    """The Basic Authorization header for the sandbox (or a wrong password)."""
    token = f"{sb.username}:{sb.password if password is None else password}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def client(sb: Sandbox, **kw: Any) -> ChargeOverClient:
    """A no-wait ChargeOverClient bound to the sandbox."""
    return ChargeOverClient(
        sb.base_url,
        username=sb.username,
        password=sb.password,
        retry=RetryPolicy.no_wait(),
        **kw,
    )


async def call(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    method: str,
    target: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """One authorised request; returns (status, parsed JSON or raw bytes, response)."""
    data = raw if raw is not None else (None if body is None else orjson.dumps(body))
    hdrs = basic(sb) if headers is None else headers
    async with http.request(
        method, sb.base_url + target, data=data, headers=hdrs, allow_redirects=False
    ) as resp:
        payload = await resp.read()
        try:
            return resp.status, orjson.loads(payload), resp
        except orjson.JSONDecodeError:
            return resp.status, payload, resp


class Wire:
    """What a raw socket client saw: the bytes, and how the connection ended."""

    def __init__(self, data: bytes, end: str) -> None:
        self.data = data
        self.end = end  # "eof" (FIN) or "reset" (RST)

    @property
    def head(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[0]

    @property
    def body(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[2]

    @property
    def status(self) -> int | None:
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", self.data)
        return int(m.group(1)) if m else None

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


async def wire(
    sb: Sandbox, method: str, target: str, body: bytes = b"", *, auth: bytes | None = None
) -> Wire:
    """Send one request on a fresh raw socket and read until the server ends the connection."""
    host, port = sb.base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    authorization = basic(sb)["Authorization"].encode() if auth is None else auth
    writer.write(head.encode() + b"Authorization: " + authorization + b"\r\n\r\n" + body)
    chunks: list[bytes] = []
    end = "eof"
    try:
        while chunk := await reader.read(1 << 16):
            chunks.append(chunk)
    except ConnectionResetError:
        end = "reset"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionResetError:
            end = "reset"
    return Wire(b"".join(chunks), end)


def create_body(key: str, **fields: Any) -> bytes:
    """A valid create body with this external_key."""
    return orjson.dumps({"company": f"Co {key}", "external_key": key, **fields})


# --- creates and their envelopes -------------------------------------------------------------


async def test_create_201_envelope_and_location(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """A create answers 201, the documented envelope with response.id, and a Location header."""
    status, env, resp = await call(http, sb, "POST", CUSTOMER, {"company": "Acme"})
    assert status == 201
    assert env == {"code": 201, "status": "OK", "message": "", "details": {}, "response": {"id": 1}}
    assert resp.headers["Location"] == f"{sb.base_url}{CUSTOMER}/1"
    assert sb.customers[1]["company"] == "Acme"
    assert sb.audit[-1] == AuditEntry(
        "POST", CUSTOMER, "create", 201, None, 1, sb.audit[-1].time, ""
    )
    assert sb.counters["committed"] == 1
    assert sb.counters["create"] == 1


async def test_stored_object_looks_like_chargeovers(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """GET returns every create field (unset ones null/""), no_procfees as 0/1, flags as bools."""
    body = {"company": "Acme", "no_procfees": True, "no_taxes": True, "tags": ["a", "b"]}
    await call(http, sb, "POST", CUSTOMER, body)
    status, env, _ = await call(http, sb, "GET", f"{CUSTOMER}/1")
    obj = env["response"]
    assert status == 200
    assert env["code"] == 200
    assert env["status"] == "OK"
    assert obj["customer_id"] == 1
    assert obj["no_procfees"] == 1
    assert type(obj["no_procfees"]) is int
    assert obj["no_taxes"] is True
    assert obj["no_dunning"] is False
    assert obj["tags"] == ["a", "b"]
    assert obj["parent_customer_id"] is None
    assert obj["custom_3"] is None
    assert obj["bill_city"] == ""
    assert obj["invoice_delivery"] == "email"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", obj["write_datetime"])
    assert obj["mod_datetime"] == obj["write_datetime"]
    assert obj == sb.customers[1]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", NO_DATA),
        (b"{}", NO_DATA),
        (b"  ", NO_DATA),
        (b'{"company": "Acme"', INVALID),
        (b"[]", INVALID),
        (b'"Acme"', INVALID),
        (b'{"bill_city": "Oslo"}', INVALID),
        (b'{"company": ""}', INVALID),
        (b'{"company": 5}', INVALID),
        (b'{"company": "A", "brand_id": "1"}', INVALID),
        (b'{"company": "A", "brand_id": true}', INVALID),
        (b'{"company": "A", "no_taxes": 2}', INVALID),
        (b'{"company": "A", "invoice_delivery": "fax"}', INVALID),
        (b'{"company": "A", "tags": "a,b"}', INVALID),
        (b'{"company": "A", "tags": [1]}', INVALID),
        (b'{"company": "A", "bill_city": 7}', INVALID),
    ],
)
async def test_create_400_messages(
    sb: Sandbox, http: aiohttp.ClientSession, raw: bytes, message: str
) -> None:
    """Server-side validation answers 400 with the documented messages and stores nothing."""
    status, env, _ = await call(http, sb, "POST", CUSTOMER, raw=raw)
    assert status == 400
    assert env == {
        "code": 400,
        "status": "Error",
        "message": message,
        "details": {},
        "response": False,
    }
    assert sb.customers == {}
    assert sb.audit[-1].status == 400


async def test_create_accepts_every_field_type(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """Ints, bools or 0/1, deliveries, tags, strings and null (unset) pass the server's checks."""
    body = {
        "company": "Acme",
        "brand_id": 3,
        "no_dunning": False,
        "dunning_delivery": "print",
        "tags": [],
        "bill_city": "Oslo",
        "class_id": None,
        "no_procfees": 0,  # as ChargeOver writes it back (tests/recordings/list_200_2026.json)
        "superuser_id": 9,  # unlisted by the seed, accepted by ChargeOver: kept as sent
    }
    status, _, _ = await call(http, sb, "POST", CUSTOMER, body)
    obj = sb.customers[1]
    assert status == 201
    assert (obj["brand_id"], obj["dunning_delivery"], obj["class_id"]) == (3, "print", None)
    assert obj["superuser_id"] == 9


async def test_duplicate_and_reserved_external_key(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A taken key is a 400; after delete() it stays reserved while every lookup finds nothing."""
    assert (await call(http, sb, "POST", CUSTOMER, raw=create_body("k1")))[0] == 201
    status, env, _ = await call(http, sb, "POST", CUSTOMER, raw=create_body("k1"))
    assert status == 400
    assert env["status"] == "Error"
    assert env["response"] is False
    sb.delete(1)
    assert sb.by_key("k1") is None
    assert sb.customers == {}
    status, _, _ = await call(http, sb, "POST", CUSTOMER, raw=create_body("k1"))
    assert status == 400
    _, env, _ = await call(http, sb, "GET", f"{CUSTOMER}?where=external_key:EQUALS:k1")
    assert env["response"] == []
    assert (await call(http, sb, "GET", f"{CUSTOMER}/external_key:k1"))[0] == 404
    assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 404
    with pytest.raises(KeyError):
        sb.delete(1)


async def test_on_commit_runs_before_the_response(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """on_commit sees each stored customer synchronously, before any response byte is written."""
    seen: list[tuple[int, int]] = []
    sb.on_commit = lambda obj: seen.append((obj["customer_id"], len(sb.audit)))
    await call(http, sb, "POST", CUSTOMER, {"company": "Acme"})
    assert seen == [(1, 0)]  # the audit entry (written with the response) came after


# --- auth ------------------------------------------------------------------------------------


async def test_401_missing_and_wrong_credentials(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """No header: the documented 401 message; a wrong password: a similar one; nothing stored."""
    status, env, _ = await call(http, sb, "POST", CUSTOMER, {"company": "A"}, headers={})
    assert (status, env["message"], env["response"]) == (401, AUTH_MISSING, False)
    status, env, _ = await call(
        http, sb, "POST", CUSTOMER, {"company": "A"}, headers=basic(sb, "wrong")
    )
    assert status == 401
    assert env["message"].startswith("Invalid or incorrect authorization [")
    assert env["message"] != AUTH_MISSING
    garbled = {"Authorization": "Basic %%%"}
    assert (await call(http, sb, "GET", f"{CUSTOMER}/1", headers=garbled))[0] == 401
    assert sb.customers == {}
    assert [e.status for e in sb.audit] == [401, 401, 401]


async def test_signature_auth_accepted(sb: Sandbox) -> None:
    """The legacy HMAC signature over the exact URL (query included) and body is accepted."""
    async with client(sb, auth="signature") as c:
        created = await c.customers.create(company="Acme", external_key="a b,c:d/é")
        found = await c.customers.find_by_external_key("a b,c:d/é")
        assert found is not None
        assert found.customer_id == created.customer_id
        assert (await c.customers.get(created.customer_id)).company == "Acme"


@pytest.mark.parametrize("case", ["stale", "future", "forged", "tampered_body", "other_url"])
async def test_signature_auth_refused(sb: Sandbox, http: aiohttp.ClientSession, case: str) -> None:
    """A stale or future timestamp, a wrong key, a changed body or URL is a 401."""
    clock = {"stale": lambda: time.time() - 1000, "future": lambda: time.time() + 1000}.get(
        case, time.time
    )
    key = "not-the-password" if case == "forged" else sb.password
    signer = SignatureAuth(sb.username, key, clock=clock)
    url = sb.base_url + CUSTOMER
    body = b'{"company": "Acme"}'
    signed_url = url + "?x=1" if case == "other_url" else url
    header = signer.header("POST", signed_url, body)
    sent = b'{"company": "Evil"}' if case == "tampered_body" else body
    status, env, _ = await call(
        http, sb, "POST", CUSTOMER, raw=sent, headers={"Authorization": header}
    )
    assert status == 401
    assert env["message"].startswith("Invalid or incorrect authorization [")
    assert sb.customers == {}


# A known-answer vector for the signature, computed outside Python from the documented algorithm
# (docs/chargeover-api.md, "Base URL and auth"), so the sandbox is not checked against the SDK's
# own signer. The message (one line) and the command:
#   sandbox_pub||http://sandbox.example:8080/api/v3/customer?mode=strict||abc123xy||1700000000||
#   {"company":"Acme"}
#   printf '%s' "$message" | openssl dgst -sha256 -hmac 's3cret-key'
VECTOR_USER, VECTOR_KEY, VECTOR_HOST = "sandbox_pub", "s3cret-key", "Sandbox.Example:8080"
VECTOR_CREATE = "9c323f86f703d6595e999cdcfe10be6fcb372429b7f797accf89b5130e4bb91a"
# The same for a GET with no body (the trailing "||" kept): ...customer/1||abc123xy||1700000000||
VECTOR_GET = "6e6a50bc53e5b8ee28962f79238645b6e6bf9522cc4ff8f0e50a540f8fb84562"


def vector_header(signature: str) -> dict[str, str]:
    """The vector's Host and signature Authorization headers, with this co_signature."""
    auth = (
        f'ChargeOver co_public_key="{VECTOR_USER}" co_nonce="abc123xy" '
        f'co_timestamp="1700000000" co_signature_method="HMAC-SHA256" co_version="1.0" '
        f'co_signature="{signature}"'
    )
    return {"Host": VECTOR_HOST, "Authorization": auth}


async def test_signature_known_answer_vector(http: aiohttp.ClientSession) -> None:
    """A signature computed by hand over a mixed-case URL is accepted; one digit off is refused."""
    # An unbounded age lets the vector's fixed 2023 timestamp through; the Host header fixes the
    # signed URL whatever port the sandbox got.
    async with Sandbox(username=VECTOR_USER, password=VECTOR_KEY, signature_max_age=math.inf) as sb:
        body = b'{"company":"Acme"}'
        target = f"{CUSTOMER}?Mode=Strict"
        flipped = VECTOR_CREATE[:-1] + ("0" if VECTOR_CREATE[-1] != "0" else "1")
        status, env, _ = await call(
            http, sb, "POST", target, raw=body, headers=vector_header(flipped)
        )
        assert (status, env["message"]) == (
            401,
            "Invalid or incorrect authorization [Signature mismatch.]",
        )
        assert sb.customers == {}
        status, env, _ = await call(
            http, sb, "POST", target, raw=body, headers=vector_header(VECTOR_CREATE)
        )
        assert (status, env["response"]) == (201, {"id": 1})
        status, env, _ = await call(
            http, sb, "GET", f"{CUSTOMER}/1", headers=vector_header(VECTOR_GET)
        )
        assert (status, env["response"]["company"]) == (200, "Acme")


@pytest.mark.parametrize(
    "auth",
    [
        'ChargeOver co_public_key="\xc3\xa9\xed\xa0\x80" co_nonce="n" co_timestamp="1"'.encode(
            "latin-1"
        ),
        b'ChargeOver co_public_key="x" co_nonce="n" co_timestamp="1e999" co_signature="s"',
        b"Basic \xc3\xa9\xc3\xa9",
        b"Bearer abc",
        b"Basic",
    ],
)
async def test_hostile_authorization_headers_are_a_clean_401(sb: Sandbox, auth: bytes) -> None:
    """Malformed, non-ASCII or unknown-scheme Authorization headers get a 401, never a 500."""
    w = await wire(sb, "GET", f"{CUSTOMER}/1", auth=auth)
    assert w.status == 401
    assert orjson.loads(w.body)["message"].startswith("Invalid or incorrect authorization [")


# --- reads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", [f"{CUSTOMER}/\u00b2", f"{CUSTOMER}/{'9' * 5000}", f"{CUSTOMER}/"]
)
async def test_odd_ids_are_an_unknown_endpoint(
    sb: Sandbox, http: aiohttp.ClientSession, target: str
) -> None:
    """Non-ASCII digits, a 5000-digit id or no id are a 400 of kind other, not a crash."""
    status, env, _ = await call(http, sb, "GET", quote(target))
    assert (status, env["message"]) == (400, INVALID)
    assert sb.audit[-1].kind == "other"


async def test_get_404_has_null_response(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """An unknown id is a 404 whose response is null and message the documented one."""
    status, env, _ = await call(http, sb, "GET", f"{CUSTOMER}/42")
    assert status == 404
    assert env == {
        "code": 404,
        "status": "Error",
        "message": "This customer does not exist.",
        "details": {},
        "response": None,
    }
    assert sb.audit[-1].kind == "get"


KEYS = [
    "a,b",
    "a:b",
    "a\\b",
    "\\,:\\:",
    "a/b",
    "50%",
    "%2C",
    "#frag",
    "a&b=c",
    "+plus+",
    "with space",
    "naïve ключ 鍵 🎉",
    "k" * 1024,
    "é" * 1024,
]


async def test_keys_round_trip_through_the_client(sb: Sandbox) -> None:
    r"""Keys with , : \\ / % # & + spaces, non-ASCII and 1 KB length are found exactly."""
    async with client(sb) as c:
        ids = {
            key: (await c.customers.create(company="Co", external_key=key)).customer_id
            for key in KEYS
        }
        for key in KEYS:
            found = await c.customers.find_by_external_key(key)
            assert found is not None, key
            assert found.customer_id == ids[key], key
        assert await c.customers.find_by_external_key("a") is None
    assert all(e.kind == "lookup" for e in sb.audit if e.method == "GET")


async def test_external_key_path_form(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """GET /customer/external_key:{key} returns one object, or 404 with a null response."""
    for key in ("plain", "a/b c,d:é"):
        await call(http, sb, "POST", CUSTOMER, raw=create_body(key))
        status, env, _ = await call(
            http, sb, "GET", f"{CUSTOMER}/external_key:{quote(key, safe='')}"
        )
        assert status == 200
        assert env["response"]["external_key"] == key
    status, env, _ = await call(http, sb, "GET", f"{CUSTOMER}/external_key:nope")
    assert (status, env["response"]) == (404, None)
    assert sb.audit[-1].kind == "lookup"


def where(*clauses: str) -> str:
    """The query path for these where clauses, percent-encoded."""
    return f"{CUSTOMER}?where=" + quote(",".join(clauses), safe="")


async def test_where_operators(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """EQUALS NOTEQUALS GT LT GTE LTE CONTAINS IS:NULL ISNOT:NULL filter, AND-ed by commas."""
    for i, city in enumerate(["Oslo", "Bergen", "", "Oslo"], start=1):
        body = {"company": f"Co{i}", "external_key": f"k{i}", "bill_city": city, "brand_id": i}
        await call(http, sb, "POST", CUSTOMER, body)

    async def ids(*clauses: str) -> list[int]:
        status, env, _ = await call(http, sb, "GET", where(*clauses))
        assert status == 200
        assert isinstance(env["response"], list)
        return [o["customer_id"] for o in env["response"]]

    assert await ids("bill_city:EQUALS:Oslo") == [1, 4]
    assert await ids("bill_city:NOTEQUALS:Oslo") == [2, 3]
    assert await ids("customer_id:GT:2") == [3, 4]
    assert await ids("customer_id:LT:2") == [1]
    assert await ids("brand_id:GTE:3") == [3, 4]
    assert await ids("brand_id:LTE:1") == [1]
    assert await ids("company:CONTAINS:co") == [1, 2, 3, 4]
    assert await ids("bill_city:IS:NULL") == [3]
    assert await ids("bill_city:ISNOT:NULL") == [1, 2, 4]
    assert await ids("bill_city:EQUALS:Oslo", "customer_id:GT:1") == [4]
    assert await ids("external_key:EQUALS:" + escape_where_value("k2")) == [2]
    assert await ids("external_key:EQUALS:nope") == []


@pytest.mark.parametrize(
    "query",
    [
        "where=" + quote("nosuchfield:EQUALS:1", safe=""),
        "where=" + quote("company:LIKE:x", safe=""),
        "where=" + quote("company", safe=""),
        "where=company:EQUALS:x&limit=abc",
        "where=company:EQUALS:x&limit=0",
        "where=company:EQUALS:x&offset=-1",
        "where=company:EQUALS:x&order=nosuch:ASC",
        "where=company:EQUALS:x&order=customer_id:UP",
    ],
)
async def test_bad_query_is_400(sb: Sandbox, http: aiohttp.ClientSession, query: str) -> None:
    """A where/limit/offset/order the server cannot use answers 400 Missing or invalid parameter."""
    status, env, _ = await call(http, sb, "GET", f"{CUSTOMER}?{query}")
    assert (status, env["message"]) == (400, INVALID)


async def test_paging_and_order(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """limit/offset page a stable order; an empty page ends it; DESC reverses; default limit 10."""
    for i in range(12):
        await call(http, sb, "POST", CUSTOMER, {"company": f"Co{i:02}"})
    base = where("customer_id:GT:0")
    seen: list[int] = []
    offset = 0
    while True:
        _, env, _ = await call(
            http, sb, "GET", f"{base}&limit=5&offset={offset}&order=customer_id:ASC"
        )
        page = [o["customer_id"] for o in env["response"]]
        if not page:
            break
        seen += page
        offset += 5
    assert seen == list(range(1, 13))
    _, env, _ = await call(http, sb, "GET", f"{base}&limit=3&order=customer_id:DESC")
    assert [o["customer_id"] for o in env["response"]] == [12, 11, 10]
    _, env, _ = await call(http, sb, "GET", f"{base}&order=company:DESC&limit=2&offset=1")
    assert [o["company"] for o in env["response"]] == ["Co10", "Co09"]
    _, env, _ = await call(http, sb, "GET", base)
    assert len(env["response"]) == 10
    status, env, _ = await call(http, sb, "GET", f"{CUSTOMER}?limit=2")
    assert status == 200
    assert len(env["response"]) == 2
    assert sb.audit[-1].kind == "other"


# --- _bulk -----------------------------------------------------------------------------------


def bulk_items(*payloads: Any) -> list[dict[str, Any]]:
    """A _bulk body of customer creates."""
    return [{"request_method": "POST", "uri": CUSTOMER, "payload": p} for p in payloads]


async def test_bulk_items_succeed_or_fail_on_their_own(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """Up to 25 items: per-item results in order under response._bulk; bad items sink no others."""
    payloads: list[Any] = [{"company": f"Co{i}", "external_key": f"b{i}"} for i in range(23)]
    payloads.insert(3, {"company": 5})
    payloads.insert(7, {"company": "Dup", "external_key": "b0"})
    status, env, _ = await call(http, sb, "POST", "/api/v3/_bulk", bulk_items(*payloads))
    assert status == 200
    assert env["code"] == 200
    assert env["status"] == "OK"
    results = env["response"]["_bulk"]
    assert len(results) == 25
    assert [r["code"] for r in results].count(201) == 23
    assert results[3] == {"code": 400, "status": "Error", "message": INVALID, "response": False}
    assert results[7]["code"] == 400
    assert results[0] == {"code": 201, "status": "OK", "message": "", "response": {"id": 1}}
    assert len(sb.customers) == 23
    assert sb.audit[-1].kind == "bulk"
    assert sb.audit[-1].committed == 23
    assert sb.counters["committed"] == 23


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (bulk_items(*({"company": f"C{i}"} for i in range(26))), None),
        ([], NO_DATA),
        ({"request_method": "POST"}, INVALID),
    ],
)
async def test_bulk_call_level_400(
    sb: Sandbox, http: aiohttp.ClientSession, items: Any, message: str | None
) -> None:
    """More than 25 items, none, or not a list is one 400 and nothing is stored."""
    status, env, _ = await call(http, sb, "POST", "/api/v3/_bulk", items)
    assert status == 400
    assert env["response"] is False
    if message is not None:
        assert env["message"] == message
    assert sb.customers == {}


async def test_a_body_over_the_size_limit_is_an_audited_400(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A body aiohttp refuses to read gets a 400 envelope, and the audit records that 400."""
    big = io.BytesIO(b"[" + b" " * (2 << 20) + b"]")  # over aiohttp's 1 MiB client_max_size
    async with http.post(f"{sb.base_url}/api/v3/_bulk", data=big, headers=basic(sb)) as resp:
        status, env = resp.status, orjson.loads(await resp.read())
    assert (status, env["message"]) == (400, INVALID)
    assert (sb.audit[-1].kind, sb.audit[-1].status) == ("bulk", 400)


async def test_tagless_customers_do_not_share_one_tags_list(sb: Sandbox) -> None:
    """Each stored customer has its own tags list (mutating one changes no other)."""
    async with client(sb) as c:
        await c.customers.create(company="A")
        await c.customers.create(company="B")
    sb.customers[1]["tags"].append("x")
    assert sb.customers[2]["tags"] == []


# --- rate limiting ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["seconds", "date", "none"])
async def test_rate_limit_429_retry_after_modes(http: aiohttp.ClientSession, mode: Any) -> None:
    """Over the bucket a 429 envelope; Retry-After in ceil seconds, as an HTTP-date, or absent."""
    async with Sandbox(rate=0.4, burst=2, retry_after=mode) as sb:
        statuses = [(await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] for _ in range(3)]
        assert statuses == [404, 404, 429]
        status, env, resp = await call(http, sb, "POST", CUSTOMER, {"company": "A"})
        assert status == 429
        assert env["code"] == 429
        assert env["status"] == "Error"
        value = resp.headers.get("Retry-After")
        if mode == "seconds":
            # The next token is at most 2.5 s away at 0.4/s (less if this machine is slow).
            assert value is not None
            assert value.isdigit()
            assert 1 <= int(value) <= 3
        elif mode == "date":
            assert value is not None
            delta = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            assert -1 < delta <= 4
        else:
            assert value is None
        assert sb.counters["throttled"] == 2
        assert sb.customers == {}
        assert [e.status for e in sb.audit][-2:] == [429, 429]


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, "1"), (1.0, "1"), (1.01, "2"), (2.5, "3"), (119.2, "120")]
)
def test_retry_after_seconds_is_the_ceiling(wait: float, header: str) -> None:
    """A rate-limit Retry-After in seconds is the ceiling of the wait for the next token."""
    assert _wire.seconds_header(wait) == header


async def test_rate_limit_is_shared_and_changeable(http: aiohttp.ClientSession) -> None:
    """The bucket is shared by every client; set_rate replaces it while running, None lifts it."""
    async with Sandbox(rate=0.01, burst=1) as sb, aiohttp.ClientSession() as other:
        assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 404
        assert (await call(other, sb, "GET", f"{CUSTOMER}/1"))[0] == 429
        sb.set_rate(None)
        assert [(await call(other, sb, "GET", f"{CUSTOMER}/1"))[0] for _ in range(5)] == [404] * 5
        sb.set_rate(0.01, burst=3)
        got = [(await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] for _ in range(4)]
        assert got == [404, 404, 404, 429]
        with pytest.raises(ValueError, match="rate"):
            sb.set_rate(0)
        with pytest.raises(ValueError, match="burst"):
            sb.set_rate(1, burst=0)


# --- create/bulk faults on the wire ------------------------------------------------------------

# fault -> (how the connection ends, status on the wire, audit status, committed)
WRITE_FAULTS: dict[str, tuple[str, int | None, int | None, int]] = {
    "reset_before_commit": ("reset", None, None, 0),
    "reset_after_commit": ("reset", None, None, 1),
    "close_after_commit": ("eof", None, None, 1),
    "truncated_201": ("eof", 201, 201, 1),
    "malformed_201": ("eof", 201, 201, 1),
    "empty_201": ("eof", 201, 201, 1),
    "noid_201": ("eof", 201, 201, 1),
    "500_before_commit": ("eof", 500, 500, 0),
    "503_before_commit": ("eof", 503, 503, 0),
    "500_after_commit": ("eof", 500, 500, 1),
    "503_after_commit": ("eof", 503, 503, 1),
    "502_html": ("eof", 502, 502, 0),
    "504_html": ("eof", 504, 504, 0),
    "garbage_status": ("eof", None, None, 1),
    "redirect_301": ("eof", 301, 301, 0),
    "redirect_302": ("eof", 302, 302, 0),
    "redirect_307": ("eof", 307, 307, 0),
    "redirect_308": ("eof", 308, 308, 0),
    "400": ("eof", 400, 400, 0),
    "401": ("eof", 401, 401, 0),
    "403": ("eof", 403, 403, 0),
    "oversized_201": ("eof", 201, 201, 1),
    "gzip_bomb_201": ("eof", 201, 201, 1),
}


def check_write_fault_body(fault: str, w: Wire) -> None:
    """The fault-specific part of what the client saw."""
    length = w.header("Content-Length")
    if fault == "truncated_201":
        assert length is not None
        assert 0 < len(w.body) < int(length)
    elif fault == "malformed_201":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(w.body)
    elif fault == "empty_201":
        assert w.body == b""
        assert length == "0"
    elif fault == "noid_201":
        assert orjson.loads(w.body)["response"] == {}
    elif fault in (
        "500_before_commit",
        "503_before_commit",
        "500_after_commit",
        "503_after_commit",
    ):
        env = orjson.loads(w.body)
        assert env["code"] == w.status
        assert env["status"] == "Error"
        assert env["message"]
    elif fault in ("502_html", "504_html"):
        content_type = w.header("Content-Type")
        assert content_type is not None
        assert content_type.startswith("text/html")
        assert len(w.body) > 4096
        assert b"<html>" in w.body
    elif fault == "garbage_status":
        assert w.data
        assert not w.data.startswith(b"HTTP/")
    elif fault.startswith("redirect_"):
        assert w.header("Location") == REDIRECT_TARGET
    elif fault in ("400", "401", "403"):
        env = orjson.loads(w.body)
        assert env["response"] is False
        assert env["message"]
    elif fault == "oversized_201":
        assert len(w.body) == int(length or 0) >= 8 << 20
        assert orjson.loads(w.body)["code"] == 201
    elif fault == "gzip_bomb_201":
        assert w.header("Content-Encoding") == "gzip"
        assert len(w.body) == int(length or 0) < 1 << 20
        inflater = zlib.decompressobj(31)
        inflated, data = 0, w.body
        while data:
            inflated += len(inflater.decompress(data, 1 << 24))
            data = inflater.unconsumed_tail
        assert inflated >= 100 << 20
    else:
        assert w.data == b""  # reset / close: no response byte at all


@pytest.mark.parametrize("fault", sorted(WRITE_FAULTS))
async def test_create_fault_on_the_wire(sb: Sandbox, fault: str) -> None:
    """Each create fault: what the socket shows, its audit entry, and whether it committed."""
    end, status, audit_status, committed = WRITE_FAULTS[fault]
    sb.set_faults(f"create:script={fault}")
    w = await wire(sb, "POST", CUSTOMER, create_body("k1"))
    assert (w.end, w.status) == (end, status), w.data[:200]
    entry = sb.audit[-1]
    assert (entry.kind, entry.fault, entry.status, entry.committed) == (
        "create",
        fault,
        audit_status,
        committed,
    )
    assert len(sb.customers) == committed == sb.counters["committed"]
    assert sb.counters["faulted"] == 1
    check_write_fault_body(fault, w)
    if w.status == 201:
        assert w.header("Location") == f"{sb.base_url}{CUSTOMER}/1"
    # the script has run out: the next create is served normally
    assert (await wire(sb, "POST", CUSTOMER, create_body("k2"))).status == 201


async def test_redirect_target_records_hits_as_other(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A 3xx on a create stores nothing; a client that followed it would show up as kind other."""
    sb.set_faults("create:script=redirect_307")
    status, _, resp = await call(http, sb, "POST", CUSTOMER, {"company": "A"})
    assert status == 307
    assert resp.headers["Location"] == REDIRECT_TARGET
    await call(http, sb, "POST", REDIRECT_TARGET, {"company": "A"})
    assert sb.audit[-1].kind == "other"
    assert sb.audit[-1].path == REDIRECT_TARGET
    assert sb.customers == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("none", None),
        ("0", "0"),
        ("2", "2"),
        ("-1", "-1"),
        ("inf", "inf"),
        ("nan", "nan"),
        ("junk", "junk"),
        ("120", "120"),
        ("date+2", 2.0),
        ("date-60", -60.0),
    ],
)
async def test_429_fault_retry_after_values(
    sb: Sandbox, http: aiohttp.ClientSession, value: str, expected: Any
) -> None:
    """429@V sends a 429 envelope whose Retry-After is V verbatim, absent, or an HTTP-date."""
    sb.set_faults(f"create:script=429@{value};lookup:script=429@{value}")
    for target, method in ((CUSTOMER, "POST"), (where("company:EQUALS:x"), "GET")):
        status, env, resp = await call(http, sb, method, target, {"company": "A"})
        assert status == 429
        assert env["code"] == 429
        header = resp.headers.get("Retry-After")
        if isinstance(expected, float):
            assert header is not None
            delta = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
            assert abs(delta - expected) <= 2
        else:
            assert header == expected
        assert sb.audit[-1].fault == f"429@{value}"
    assert sb.customers == {}
    assert sb.counters["throttled"] == 2


async def test_400_fault_is_validation_envelope(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """The 400 fault answers the server's validation envelope for a valid body, storing nothing."""
    sb.set_faults("create:script=400")
    status, env, _ = await call(http, sb, "POST", CUSTOMER, {"company": "A"})
    assert (status, env["message"], env["response"]) == (400, INVALID, False)


async def test_stall_commits_at_the_end_of_the_stall(sb: Sandbox) -> None:
    """stall: no answer at all; the customer is stored only when the stall ends, then FIN (F7)."""
    sb.set_faults("create:script=stall")
    committed_at: list[float] = []
    sb.on_commit = lambda obj: committed_at.append(time.monotonic())
    task = asyncio.ensure_future(wire(sb, "POST", CUSTOMER, create_body("k1")))
    started = await sb.wait_for_audit(lambda e: e.fault == "stall")
    assert started.status is None
    assert started.committed == 0
    assert sb.customers == {}
    w = await task
    assert (w.end, w.data) == ("eof", b"")
    assert committed_at
    assert committed_at[0] - started.time >= sb.stall_seconds * 0.8
    assert sb.by_key("k1") is not None
    assert sb.audit[0].committed == 1
    assert sb.audit[0].fault == "stall"


async def test_stalled_commit_refused_when_the_key_was_taken(sb: Sandbox) -> None:
    """A create resent during the stall stores the key; the late commit then fails: 1 row (F7)."""
    sb.set_faults("create:script=stall")
    stalled = asyncio.ensure_future(wire(sb, "POST", CUSTOMER, create_body("k1")))
    await sb.wait_for_audit(lambda e: e.fault == "stall")
    assert (await wire(sb, "POST", CUSTOMER, create_body("k1"))).status == 201
    await stalled
    assert len(sb.customers) == 1
    assert sb.audit[0].committed == 0


async def test_stall_body_201(sb: Sandbox) -> None:
    """stall_body_201: the 201 head and half the body, then silence until the stall ends, FIN."""
    sb.set_faults("create:script=stall_body_201")
    w = await wire(sb, "POST", CUSTOMER, create_body("k1"))
    length = w.header("Content-Length")
    assert w.status == 201
    assert w.end == "eof"
    assert length is not None
    assert 0 < len(w.body) < int(length)
    entry = sb.audit[-1]
    assert (entry.status, entry.committed) == (201, 1)
    assert sb.by_key("k1") is not None


async def test_stop_ends_a_stall_at_once() -> None:
    """stop() while a stall is in flight returns promptly, the stalled create uncommitted."""
    sb = Sandbox(stall_seconds=120.0, faults="create:script=stall;get:script=stall")
    await sb.start()
    try:
        create = asyncio.ensure_future(wire(sb, "POST", CUSTOMER, create_body("k1")))
        get = asyncio.ensure_future(wire(sb, "GET", f"{CUSTOMER}/1"))
        await sb.wait_for_audit(lambda e: e.kind == "create" and e.fault == "stall")
        await sb.wait_for_audit(lambda e: e.kind == "get" and e.fault == "stall")
    finally:
        began = time.monotonic()
        await sb.stop()
        took = time.monotonic() - began
    assert took < sb.stall_seconds / 10
    for w in await asyncio.gather(create, get):
        assert w.data == b""
    assert sb.customers == {}
    await sb.stop()  # idempotent


async def test_bulk_faults(sb: Sandbox) -> None:
    """Bulk takes the create faults: before-commit stores nothing, after-commit stores all."""
    body = orjson.dumps(bulk_items({"company": "A"}, {"company": "B"}))
    sb.set_faults("bulk:script=reset_before_commit|500_after_commit|truncated_201|stall")
    assert (await wire(sb, "POST", "/api/v3/_bulk", body)).end == "reset"
    assert sb.customers == {}
    assert (await wire(sb, "POST", "/api/v3/_bulk", body)).status == 500
    assert len(sb.customers) == 2
    w = await wire(sb, "POST", "/api/v3/_bulk", body)
    assert w.status == 200
    assert len(w.body) < int(w.header("Content-Length") or 0)
    assert len(sb.customers) == 4
    w = await wire(sb, "POST", "/api/v3/_bulk", body)
    assert w.data == b""
    assert len(sb.customers) == 6
    assert [(e.fault, e.committed) for e in sb.audit] == [
        ("reset_before_commit", 0),
        ("500_after_commit", 2),
        ("truncated_201", 2),
        ("stall", 2),
    ]


async def test_success_shaped_fault_does_not_fire_on_a_rejected_create(sb: Sandbox) -> None:
    """A *_201 fault on a create that fails validation leaves the normal 400; no fault recorded."""
    sb.set_faults("create:script=truncated_201|reset_after_commit")
    w = await wire(sb, "POST", CUSTOMER, b'{"company": 5}')
    assert w.status == 400
    assert orjson.loads(w.body)["message"] == INVALID
    first = sb.audit[-1]
    assert first.fault is None
    w = await wire(sb, "POST", CUSTOMER, b'{"company": 5}')
    second = sb.audit[-1]
    assert w.end == "reset"
    assert (second.fault, second.committed) == ("reset_after_commit", 0)


# --- lookup/get faults -------------------------------------------------------------------------

# fault -> (end, status, audit status)
READ_FAULTS: dict[str, tuple[str, int | None, int | None]] = {
    "500": ("eof", 500, 500),
    "503": ("eof", 503, 503),
    "reset": ("reset", None, None),
    "stall": ("eof", None, None),
    "truncated_200": ("eof", 200, 200),
}


@pytest.mark.parametrize("kind", ["lookup", "get"])
@pytest.mark.parametrize("fault", sorted(READ_FAULTS))
async def test_read_fault_on_the_wire(sb: Sandbox, kind: str, fault: str) -> None:
    """Each lookup/get fault: what the socket shows and its audit entry; nothing is stored."""
    assert (await wire(sb, "POST", CUSTOMER, create_body("k1"))).status == 201
    sb.set_faults(f"{kind}:script={fault}")
    target = where("external_key:EQUALS:k1") if kind == "lookup" else f"{CUSTOMER}/1"
    w = await wire(sb, "GET", target)
    end, status, audit_status = READ_FAULTS[fault]
    assert (w.end, w.status) == (end, status)
    entry = sb.audit[-1]
    assert (entry.kind, entry.fault, entry.status, entry.committed) == (
        kind,
        fault,
        audit_status,
        0,
    )
    if fault == "truncated_200":
        assert 0 < len(w.body) < int(w.header("Content-Length") or 0)
    elif status is None:
        assert w.data == b""
    else:
        assert orjson.loads(w.body)["code"] == status
    healthy = await wire(sb, "GET", target)
    assert healthy.status == 200
    assert b'"k1"' in healthy.body


async def test_lag_hides_young_customers(http: aiohttp.ClientSession) -> None:
    """lag: customers younger than lookup_lag are invisible to lookups and GETs, then appear."""
    async with Sandbox(lookup_lag=0.3, faults="lookup:lag=1.0;get:lag=1.0") as sb:
        # A hand-moved clock: a loaded machine must not let the lag expire mid-test.
        now = [100.0]
        sb._store._clock = lambda: now[0]
        await call(http, sb, "POST", CUSTOMER, raw=create_body("k1"))
        _, env, _ = await call(http, sb, "GET", where("external_key:EQUALS:k1"))
        assert env["response"] == []
        assert (await call(http, sb, "GET", f"{CUSTOMER}/external_key:k1"))[0] == 404
        assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 404
        assert [e.fault for e in sb.audit[1:]] == ["lag"] * 3
        now[0] += 0.29
        assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 404  # still young
        now[0] += 0.02  # now past lookup_lag
        _, env, _ = await call(http, sb, "GET", where("external_key:EQUALS:k1"))
        assert [o["external_key"] for o in env["response"]] == ["k1"]
        assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 200


# --- plans: scripts, mixes, seeds, errors ------------------------------------------------------


async def fault_sequence(seed: int, spec: str, n: int) -> list[str | None]:
    """The faults a fresh sandbox deals to n creates."""
    async with Sandbox(faults=spec, seed=seed) as sb, aiohttp.ClientSession() as http:
        for i in range(n):
            await call(http, sb, "POST", CUSTOMER, {"company": f"C{i}"})
        return [e.fault for e in sb.audit]


async def test_mix_is_seeded_and_reproducible() -> None:
    """The same seed plays a mix out identically; another seed differently; rates near p."""
    spec = "create:400=0.3,500_before_commit=0.2"
    first = await fault_sequence(7, spec, 120)
    assert first == await fault_sequence(7, spec, 120)
    assert first != await fault_sequence(8, spec, 120)
    assert 0.15 < first.count("400") / 120 < 0.45
    assert 0.08 < first.count("500_before_commit") / 120 < 0.35


async def test_mix_draws_per_kind_independently(http: aiohttp.ClientSession) -> None:
    """Interleaving other kinds does not change a kind's draws (one RNG per kind)."""
    spec = "create:400=0.5;get:500=0.5"
    alone = await fault_sequence(3, spec, 30)
    async with Sandbox(faults=spec, seed=3) as sb:
        for i in range(30):
            await call(http, sb, "GET", f"{CUSTOMER}/1")
            await call(http, sb, "POST", CUSTOMER, {"company": f"C{i}"})
        assert [e.fault for e in sb.audit if e.kind == "create"] == alone


async def test_script_steps_then_no_fault_and_restart(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """The n-th request takes step n, ok is no fault, then none; set_faults restarts the script."""
    sb.set_faults("create:script=400|ok|503_before_commit")
    got = [(await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] for _ in range(5)]
    assert got == [400, 201, 503, 201, 201]
    sb.set_faults("create:script=400|ok|503_before_commit")
    assert (await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] == 400
    sb.set_faults(None)
    assert (await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] == 201


async def test_kinds_without_a_rule_are_untouched(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """A rule for one kind leaves the others alone (and 'other' requests never fault)."""
    sb.set_faults("get:500=1.0")
    assert (await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] == 201
    assert (await call(http, sb, "GET", where("customer_id:EQUALS:1")))[0] == 200
    assert (await call(http, sb, "GET", f"{CUSTOMER}/1"))[0] == 500


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("patch:400=0.1", "'patch'"),
        ("create:explode=0.1", "'explode'"),
        ("create:lag=0.1", "'lag'"),
        ("lookup:truncated_201=1", "'truncated_201'"),
        ("create:400=1.5", "'1.5'"),
        ("create:400=-0.1", "'-0.1'"),
        ("create:400=nan", "'nan'"),
        ("create:400=x", "'x'"),
        ("create:400", "'400'"),
        ("create:400=0.6,401=0.6", "more than 1"),
        ("create:400=0.1,400=0.2", "twice"),
        ("create:script=400||ok", "empty script step"),
        ("create:script=ok|bogus", "'bogus'"),
        ("create:429@soon=0.1", "'soon'"),
        ("create:429@date+inf=0.1", "'date+inf'"),
        ("bulk:script=429@date-1e300", "'date-1e300'"),
        ("create:400=0.1;create:401=0.1", "two rules"),
        ("create:", "no faults"),
    ],
)
def test_fault_spec_errors_name_the_culprit(spec: str, named: str) -> None:
    """parse_faults and Sandbox(faults=) raise FaultSpecError naming the bad part."""
    with pytest.raises(FaultSpecError, match=re.escape(named)):
        parse_faults(spec)
    with pytest.raises(FaultSpecError):
        Sandbox(faults=spec)


def test_parse_faults_accepts_the_documented_examples() -> None:
    """The SPEC examples of INTERFACES.md parse into the expected rules."""
    plan = parse_faults("create:reset_after_commit=0.05,503_after_commit=0.05;lookup:lag=0.2")
    assert plan.rules["create"].mix == (("reset_after_commit", 0.05), ("503_after_commit", 0.05))
    assert plan.rules["lookup"].mix == (("lag", 0.2),)
    script = parse_faults(" create:script=reset_before_commit|ok ; ").rules["create"].script
    assert script == ("reset_before_commit", None)
    assert not parse_faults(None)
    assert not parse_faults("")


async def test_set_faults_with_a_bad_spec_keeps_the_old_plan(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """A FaultSpecError from set_faults leaves the running plan in place."""
    sb.set_faults("create:400=1")
    with pytest.raises(FaultSpecError):
        sb.set_faults("create:nope=1")
    assert (await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] == 400


# --- outage, lifecycle, TLS --------------------------------------------------------------------


async def test_outage_503_then_recovery(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    """During an outage every request is a 503 JSON envelope; end_outage restores service."""
    sb.start_outage(60)
    for method, target in (
        ("POST", CUSTOMER),
        ("GET", f"{CUSTOMER}/1"),
        ("GET", where("company:EQUALS:A")),
    ):
        status, env, _ = await call(http, sb, method, target, {"company": "A"})
        assert status == 503
        assert env["code"] == 503
        assert env["status"] == "Error"
    assert sb.customers == {}
    assert {e.fault for e in sb.audit} == {"outage"}
    sb.end_outage()
    assert (await call(http, sb, "POST", CUSTOMER, {"company": "A"}))[0] == 201


async def test_counters_and_audit_cover_every_request(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """Counters count requests per kind, faults and commits; audit keeps arrival order."""
    sb.set_faults("get:script=500")
    await call(http, sb, "POST", CUSTOMER, {"company": "A"})
    await call(http, sb, "GET", f"{CUSTOMER}/1")
    await call(http, sb, "GET", where("company:EQUALS:A"))
    await call(http, sb, "POST", "/api/v3/_bulk", bulk_items({"company": "B"}))
    await call(http, sb, "GET", "/api/v3/invoice")
    assert [e.kind for e in sb.audit] == ["create", "get", "lookup", "bulk", "other"]
    assert [e.status for e in sb.audit] == [201, 500, 200, 200, 400]
    times = [e.time for e in sb.audit]
    assert times == sorted(times)
    assert dict(sb.counters) == {
        "requests": 5,
        "create": 1,
        "get": 1,
        "lookup": 1,
        "bulk": 1,
        "other": 1,
        "faulted": 1,
        "committed": 2,
    }


async def test_lifecycle_binds_loopback_and_leaves_nothing_behind() -> None:
    """Start binds 127.0.0.1 on a free port with random secrets; stop leaves no task running."""
    a, b = Sandbox(), Sandbox()
    with pytest.raises(RuntimeError):
        _ = a.base_url
    assert a.username != b.username
    assert a.password != b.password
    assert a.password not in repr(a)
    async with a, b:
        assert a.base_url.startswith("http://127.0.0.1:")
        assert a.base_url != b.base_url
        with pytest.raises(RuntimeError):
            await a.start()
        async with client(a) as c:
            await c.customers.create(company="A")
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as http:
            await call(http, a, "GET", f"{CUSTOMER}/1")


async def test_serves_https_with_a_given_context() -> None:
    """With ssl_context the sandbox serves HTTPS and base_url says so."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with Sandbox(ssl_context=server_ctx) as sb:
        assert sb.base_url.startswith("https://127.0.0.1:")
        async with client(sb, ssl_context=client_ctx) as c:
            assert (await c.customers.create(company="A", external_key="k")).customer_id == 1
            assert await c.customers.find_by_external_key("k") is not None


async def test_constructor_rejects_bad_settings() -> None:
    """A bad retry_after, rate or burst is a ValueError at construction."""
    with pytest.raises(ValueError, match="retry_after"):
        Sandbox(retry_after="minutes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        Sandbox(rate=-1)
    with pytest.raises(ValueError, match="burst"):
        Sandbox(rate=1, burst=0)


async def test_sustains_concurrent_clients() -> None:
    """Concurrent creates from one client all land exactly once, in a lean request path."""
    async with Sandbox() as sb, client(sb, max_connections=32) as c:
        results = await asyncio.gather(
            *(c.customers.create(company=f"C{i}", external_key=f"k{i}") for i in range(400))
        )
        assert sorted(r.customer_id for r in results) == list(range(1, 401))
        assert len(sb.customers) == 400 == sb.counters["committed"]
