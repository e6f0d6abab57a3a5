"""The sans-I/O protocol layer (customer_sdk._protocol): requests, envelopes, errors, classes."""

from __future__ import annotations

import email.utils
import re
import urllib.parse
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._protocol import HttpResponse, Outcome
from tests._helpers import AUTH_MISSING


def _resp(status: int, body: bytes | dict[str, Any] | str, **headers: str) -> HttpResponse:
    raw = orjson.dumps(body) if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    return HttpResponse(status, CIMultiDict(headers), raw)


def test_created_envelope_gives_id_and_location() -> None:
    """The documented 201 envelope yields response.id and the Location header."""
    resp = _resp(
        201,
        {"code": 201, "status": "OK", "message": "", "details": {}, "response": {"id": 1234}},
        Location="https://acme.chargeover.com/api/v3/customer/1234",
    )
    assert proto.parse_created(resp) == (1234, "https://acme.chargeover.com/api/v3/customer/1234")


def test_envelope_without_details_is_accepted() -> None:
    """A 2015-style envelope without details parses (details defaults to {})."""
    env = proto.parse_envelope(b'{"code":200,"status":"OK","message":"","response":[]}')
    assert env is not None
    assert env.details == {}
    assert env.response == []


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (
            400,
            {
                "code": 400,
                "status": "Error",
                "message": "Missing or invalid parameter.",
                "details": {},
                "response": False,
            },
            errors.BadRequestError,
            "Missing or invalid parameter.",
        ),
        (
            400,
            {
                "code": 400,
                "status": "Error",
                "message": "A required parameter was missing: No data.",
                "response": False,
            },
            errors.BadRequestError,
            "A required parameter was missing: No data.",
        ),
        (
            401,
            {
                "code": 401,
                "status": "Error",
                "message": AUTH_MISSING,
                "details": {},
                "response": False,
            },
            errors.AuthenticationError,
            AUTH_MISSING,
        ),
        (
            403,
            {"code": 403, "status": "Error", "message": "Forbidden", "response": False},
            errors.PermissionDeniedError,
            "Forbidden",
        ),
        (
            404,
            {
                "code": 404,
                "status": "Error",
                "message": "This customer does not exist.",
                "details": {},
                "response": None,
            },
            errors.NotFoundError,
            "This customer does not exist.",
        ),
        (
            409,
            {"code": 409, "status": "Error", "message": "Conflict", "response": False},
            errors.BadRequestError,
            "Conflict",
        ),
        (
            429,
            {"code": 429, "status": "Error", "message": "Too many", "response": False},
            errors.RateLimitError,
            "Too many",
        ),
        (
            500,
            {"code": 200, "status": "OK", "message": "lies", "response": False},
            errors.ServerError,
            "lies",
        ),
        (503, b"", errors.ServerError, "(empty body)"),
        (302, b"", errors.RedirectError, "(empty body)"),
    ],
)
def test_status_maps_to_its_exception(
    status: int, body: Any, cls: type[errors.APIError], message: str
) -> None:
    """Each HTTP status maps to its exception; the HTTP status wins over the envelope code."""
    exc = proto.error_for(_resp(status, body))
    assert type(exc) is cls
    assert exc.status == status
    assert exc.message == message


def test_proxy_html_page_becomes_a_short_stripped_message() -> None:
    """A 502 HTML page (script, style, tags) becomes <= 512 chars of plain text."""
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
        "<script>var x = '<b>';</script></head><body><h1>Bad Gateway</h1>"
        + "<p>upstream said no</p>" * 100
        + "</body></html>"
    )
    exc = proto.error_for(_resp(502, page))
    assert isinstance(exc, errors.ServerError)
    assert len(exc.message) <= 512
    assert "<" not in exc.message
    assert "color:red" not in exc.message
    assert exc.message.startswith("502 Bad Gateway Bad Gateway upstream said no")


@pytest.mark.parametrize(
    "body",
    [
        b'{"code":201,"status":"OK","response":{"id":',
        b"",
        b"<html>ok</html>",
        b'{"code":201,"response":{}}',
        b'{"code":201,"response":{"id":"12"}}',
        b'{"code":201,"response":{"id":0}}',
        b"[1,2]",
    ],
)
def test_created_without_a_usable_id_is_malformed(body: bytes) -> None:
    """A 201 that is cut, empty, not JSON or lacks a positive int id is MalformedResponseError."""
    with pytest.raises(errors.MalformedResponseError) as info:
        proto.parse_created(_resp(201, body))
    assert proto.classify(info.value) is Outcome.CREATED_ID_UNKNOWN


def test_query_and_object_shapes() -> None:
    """A query's response is a list ([] when empty); a GET's is an object; else malformed."""
    assert proto.parse_list(_resp(200, {"code": 200, "response": []})) == []
    assert proto.parse_list(_resp(200, {"code": 200, "response": [{"customer_id": 1}, 5]})) == [
        {"customer_id": 1}
    ]
    assert proto.parse_object(_resp(200, {"response": {"customer_id": 1}})) == {"customer_id": 1}
    with pytest.raises(errors.MalformedResponseError):
        proto.parse_list(_resp(200, {"code": 200, "response": 3}))
    with pytest.raises(errors.NotFoundError):
        proto.parse_object(_resp(404, {"code": 404, "response": None}))


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (errors.ConnectError("x"), Outcome.NOT_SENT),
        (errors.TLSError("x"), Outcome.FATAL),
        (errors.RequestTimeoutError("x"), Outcome.AMBIGUOUS),
        (errors.ConnectionLostError("x"), Outcome.AMBIGUOUS),
        (errors.ConnectionLostError("x", status=201), Outcome.CREATED_ID_UNKNOWN),
        (errors.RequestTimeoutError("x", status=201), Outcome.CREATED_ID_UNKNOWN),
        (errors.MalformedResponseError("x", status=201), Outcome.CREATED_ID_UNKNOWN),
        (errors.MalformedResponseError("x", status=500), Outcome.AMBIGUOUS),
        (errors.RateLimitError(429, "x", retry_after=None), Outcome.THROTTLED),
        (errors.ServerError(503, "x"), Outcome.AMBIGUOUS),
        (errors.AuthenticationError(401, "x"), Outcome.FATAL),
        (errors.PermissionDeniedError(403, "x"), Outcome.FATAL),
        (errors.BadRequestError(400, "x"), Outcome.REJECTED),
        (errors.NotFoundError(404, "x"), Outcome.REJECTED),
        (errors.RedirectError(307, "x", location="/y"), Outcome.REJECTED),
    ],
)
def test_classification_follows_the_faults_table(
    exc: errors.ChargeOverError, outcome: Outcome
) -> None:
    """Every error type falls in the failure class faults.md gives it."""
    assert proto.classify(exc) is outcome


def _unescape_where(value: str) -> str:
    # docs/chargeover-api.md, "Escaping": only "\\," and "\\:" are escapes.
    return re.sub(r"\\([,:])", r"\1", value)


@pytest.mark.parametrize(
    "key",
    [
        "plain",
        "a,b",
        "a:b",
        "a\\b",
        "a\\,b",
        "a/b",
        "100%",
        "x#y",
        "a&b=c",
        "with space",
        "ünï©ødé-キー",
        "k" * 1024,
        ":,\\:,",
        "?q=1",
    ],
)
def test_lookup_key_round_trips_through_the_where_filter(key: str) -> None:
    """Any key survives escaping plus URL-encoding and decodes back exactly."""
    request = proto.find_by_key_request("https://acme.chargeover.com", key)
    query = urllib.parse.urlsplit(request.url).query
    where = urllib.parse.parse_qs(query)["where"][0]
    field, op, value = re.split(r"(?<!\\):", where, maxsplit=2)
    assert (field, op) == ("external_key", "EQUALS")
    assert _unescape_where(value) == key
    assert request.path == "/api/v3/customer"  # the key never reaches a log through the path


def test_bulk_request_limits_and_shape() -> None:
    """_bulk carries 1 to 25 creates as request_method/uri/payload items."""
    with pytest.raises(ValueError, match="1 to 25"):
        proto.bulk_request("https://x", [])
    with pytest.raises(ValueError, match="1 to 25"):
        proto.bulk_request("https://x", [{"company": "a"}] * 26)
    request = proto.bulk_request("https://x", [{"company": "a"}] * 25)
    assert request.url == "https://x/api/v3/_bulk"
    assert request.body is not None
    items = orjson.loads(request.body)
    assert len(items) == 25
    assert items[0] == {
        "request_method": "POST",
        "uri": "/api/v3/customer",
        "payload": {"company": "a"},
    }


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": " 2 "}, 2.0),
        ({"Retry-After": "3600"}, 3600.0),
        ({"Retry-After": email.utils.formatdate(NOW + 5, usegmt=True)}, 5.0),
        ({"Retry-After": email.utils.formatdate(NOW - 60, usegmt=True)}, 0.0),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "junk"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"retry-after-ms": "bogus", "Retry-After": "9"}, 9.0),
    ],
)
def test_retry_after_table(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After as seconds, HTTP-date or retry-after-ms; invalid values give None."""
    got = proto.parse_retry_after(CIMultiDict(headers), now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("message", "taken"),
    [
        ("Another customer already exists with this external_key.", True),
        ("This external key is already in use.", True),
        ("external_key must be unique", True),
        ("Duplicate EXTERNAL_KEY", True),
        ("A required parameter was missing: No data.", False),
        ("Missing or invalid parameter.", False),
        ("Customer already exists.", False),  # says nothing of the key
        ("", False),
    ],
)
def test_says_key_taken_needs_the_key_named_and_taken(message: str, taken: bool) -> None:
    """A 400 is labelled a taken key only when its message names the key and says it is taken."""
    assert proto.says_key_taken(message) is taken
