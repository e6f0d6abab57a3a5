"""Sans-I/O units of the core: models, the strict converter, the protocol layer, auth, retry."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import random
import re
import urllib.parse
from typing import Any

import attrs
import orjson
import pytest
from multidict import CIMultiDict

import customer_sdk
from customer_sdk import _protocol as proto
from customer_sdk import errors
from customer_sdk._auth import BasicAuth, SignatureAuth
from customer_sdk._models import (
    FIELD_NAMES,
    Customer,
    CustomerCreate,
    _fast_wire,
    _full_wire,
    wire_from_mapping,
)
from customer_sdk._protocol import HttpResponse, Outcome
from customer_sdk._ratelimit import PauseGate
from customer_sdk._retry import RetryPolicy
from customer_sdk._serde import converter, dumps, structure_create, unstructure_create

# --- models and the strict converter ------------------------------------------------------

FULL: dict[str, Any] = {
    "parent_customer_id": 7,
    "external_key": "crm-1",
    "company": "Acme",
    "language_id": 1,
    "currency_id": 2,
    "class_id": 3,
    "admin_id": 4,
    "campaign_id": 5,
    "campaign_details": "fall promo",
    "superuser_username": "jdoe",
    "superuser_email": "j@acme.example",
    "superuser_name": "Jane Doe",
    "superuser_first_name": "Jane",
    "superuser_last_name": "Doe",
    "superuser_phone": "+1 555 0100",
    "bill_addr1": "1 Main St",
    "bill_addr2": "Suite 2",
    "bill_addr3": "c/o x",
    "bill_city": "Springfield",
    "bill_state": "IL",
    "bill_postcode": "62701",
    "bill_country": "US",
    "ship_addr1": "2 Dock Rd",
    "ship_addr2": "Bay 3",
    "ship_addr3": "rear",
    "ship_city": "Shelbyville",
    "ship_state": "IL",
    "ship_postcode": "62565",
    "ship_country": "United States",
    **{f"custom_{i}": f"c{i}" for i in range(1, 21)},
    "brand_id": 8,
    "terms_id": 9,
    "no_taxes": True,
    "no_dunning": False,
    "no_latefees": True,
    "no_procfees": False,
    "invoice_delivery": "email",
    "dunning_delivery": "print",
    "tax_ident": "DE123",
    "tags": ["vip", "eu"],
}

BAD_INPUTS: list[tuple[dict[str, Any], set[str]]] = [
    ({"company": 123}, {"company"}),
    ({"company": ""}, {"company"}),
    ({"company": "   "}, {"company"}),
    ({}, {"company"}),
    ({"company": None}, {"company"}),
    ({"company": b"Acme"}, {"company"}),
    ({"company": "A", "language_id": True}, {"language_id"}),
    ({"company": "A", "language_id": "5"}, {"language_id"}),
    ({"company": "A", "language_id": 1.7}, {"language_id"}),
    ({"company": "A", "language_id": 0}, {"language_id"}),
    ({"company": "A", "currency_id": -1}, {"currency_id"}),
    ({"company": "A", "parent_customer_id": "7"}, {"parent_customer_id"}),
    ({"company": "A", "brand_id": 2.0}, {"brand_id"}),
    ({"company": "A", "terms_id": [1]}, {"terms_id"}),
    ({"company": "A", "no_taxes": 1}, {"no_taxes"}),
    ({"company": "A", "no_dunning": "true"}, {"no_dunning"}),
    ({"company": "A", "no_procfees": 0}, {"no_procfees"}),
    ({"company": "A", "invoice_delivery": "mail"}, {"invoice_delivery"}),
    ({"company": "A", "dunning_delivery": "EMAIL"}, {"dunning_delivery"}),
    ({"company": "A", "invoice_delivery": 1}, {"invoice_delivery"}),
    ({"company": "A", "tags": "a;b"}, {"tags"}),
    ({"company": "A", "tags": [1]}, {"tags[0]"}),
    ({"company": "A", "tags": ["ok", ""]}, {"tags[1]"}),
    ({"company": "A", "tags": ["a\nb"]}, {"tags[0]"}),
    ({"company": "A", "tags": {"a"}}, {"tags"}),
    ({"company": "A\r\nX-Injected: 1"}, {"company"}),
    ({"company": "A", "bill_city": "x\x00"}, {"bill_city"}),
    ({"company": "A", "custom_20": "line1\nline2"}, {"custom_20"}),
    ({"company": "A", "external_key": ""}, {"external_key"}),
    ({"company": "A", "external_key": 42}, {"external_key"}),
    ({"company": "A", "external_key": "k\r"}, {"external_key"}),
    ({"company": "A", "superuser_email": "not-an-email"}, {"superuser_email"}),
    ({"company": "A", "superuser_email": "a @b.c"}, {"superuser_email"}),
    ({"company": "A", "superuser_email": "@b.c"}, {"superuser_email"}),
    ({"company": "A", "tax_ident": 12345}, {"tax_ident"}),
    ({"company": "A", "unknown_field": 1}, {"unknown_field"}),
    ({"company": "A", "Company": "dup"}, {"Company"}),
    ({"company": "A", "extra": {"company": "shadow"}}, {"extra.company"}),
    ({"company": "A", "extra": {"x": {1, 2}}}, {"extra.x"}),
    ({"company": "A", "extra": {"x": object()}}, {"extra.x"}),
    ({"company": "A", "extra": {"x": float("nan")}}, {"extra.x"}),
    ({"company": "A", "extra": {"x": "a\nb"}}, {"extra.x"}),
    ({"company": "A", "extra": {1: "x"}}, {"extra"}),
    ({"company": "A", "extra": ["x"]}, {"extra"}),
]


def _paths(exc: errors.ValidationError) -> set[str]:
    return {e.path for e in exc.errors}


def test_bad_input_corpus_is_large_enough() -> None:
    """The bad-input corpus holds at least 40 distinct cases."""
    assert len(BAD_INPUTS) >= 40


@pytest.mark.parametrize(("row", "paths"), BAD_INPUTS)
def test_bad_input_raises_validation_error_on_every_path(
    row: dict[str, Any], paths: set[str]
) -> None:
    """Each bad row raises ValidationError naming the bad field, via dict, kwargs and model."""
    with pytest.raises(errors.ValidationError) as via_converter:
        converter.structure(row, CustomerCreate)
    assert _paths(via_converter.value) == paths
    with pytest.raises(errors.ValidationError) as via_wire:
        wire_from_mapping(row)
    assert _paths(via_wire.value) == paths


class _Text(str):
    """A str subclass: valid for the full check, never taken by the fast path."""


# Values that sit on either side of some field's rule, for the fast/full agreement test.
_EDGE_VALUES: list[Any] = [
    None, "", " ", "x", "a\nb", "a\rb", "a\x00b", "C:\\new", _Text("t"), 0, -1, 1, 7, True,
    False, 1.5, "email", "print", "fax", "a@b.c", "a b@c.d", "@b.c", "a@", ["t"], ("t", "u"),
    [], ["", "t"], [" "], ["a\nb"], [1], "t", {"k": "v"},
]  # fmt: skip


def test_fast_path_agrees_with_the_full_check() -> None:
    """The one-pass fast path accepts only what the full check accepts, with the same wire."""
    rng = random.Random(5)
    names = [*FIELD_NAMES, "extra", "unknown_field"]
    for _ in range(20_000):
        row = dict(FULL) if rng.random() < 0.5 else {"company": "Acme"}
        for name in rng.sample(names, rng.randint(1, 4)):
            row[name] = rng.choice(_EDGE_VALUES)
        try:
            full: dict[str, Any] | None = _full_wire(row)
        except errors.ValidationError:
            full = None
        for owned in (False, True):
            fast = _fast_wire(dict(row), owned)
            assert fast is None or fast == full, row
        if full is not None:
            assert wire_from_mapping(row) == full
    # The fast path takes the ordinary rows (else this test would prove nothing).
    assert _fast_wire(FULL) == FULL
    assert _fast_wire({"company": "Acme", "tags": ("a",), "no_taxes": None}) == {
        "company": "Acme",
        "tags": ["a"],
    }


def test_fast_path_copies_what_it_does_not_own() -> None:
    """A caller's mapping and tag list are copied; create's own keywords dict is reused."""
    tags = ["a"]
    row = {"company": "Acme", "tags": tags}
    wire = wire_from_mapping(row)
    assert wire == row
    assert wire is not row
    assert wire["tags"] is not tags
    assert wire_from_mapping(row, owned=True) is row


def test_many_problems_are_reported_in_one_error_in_wire_order() -> None:
    """A row with many problems gets one error listing every problem, in wire order."""
    row = {
        "tags": [1],
        "language_id": True,
        "external_key": "",
        "zzz": 1,
        "invoice_delivery": "fax",
        "no_taxes": "yes",
    }
    with pytest.raises(errors.ValidationError) as info:
        structure_create(row)
    paths = [e.path for e in info.value.errors]
    assert paths == [
        "external_key",
        "company",
        "language_id",
        "no_taxes",
        "invoice_delivery",
        "tags[0]",
        "zzz",
    ]
    assert "7 invalid fields" in str(info.value)


def test_direct_construction_validates_every_field_at_once() -> None:
    """CustomerCreate(...) itself raises one ValidationError naming all its bad fields."""
    with pytest.raises(errors.ValidationError) as info:
        CustomerCreate(company="", language_id=True, tags=["x", 3])
    assert _paths(info.value) == {"company", "language_id", "tags[1]"}


def test_every_seed_field_round_trips_to_the_exact_wire_dict() -> None:
    """Every field of the seed page is accepted and serialised under its wire name and type."""
    assert set(FULL) == set(FIELD_NAMES)
    model = CustomerCreate(**FULL)
    assert unstructure_create(model) == FULL
    assert orjson.loads(dumps(model)) == FULL
    assert wire_from_mapping(FULL) == FULL


def test_unset_fields_are_never_sent_and_false_flags_are() -> None:
    """Only the fields that were set go on the wire; a False flag is sent as false."""
    body = dumps(CustomerCreate(company="A", no_taxes=False))
    assert orjson.loads(body) == {"company": "A", "no_taxes": False}


def test_non_ascii_text_is_sent_as_utf8() -> None:
    """Non-ASCII text is sent intact as UTF-8 bytes, not as backslash-u escapes."""
    body = dumps(CustomerCreate(company="Jürgen Müller 株式会社"))
    assert "Jürgen Müller 株式会社".encode() in body
    assert b"\\u" not in body


def test_extra_sends_unlisted_fields_and_tags_become_a_tuple() -> None:
    """extra= is merged into the body; a tags list is frozen into a tuple on the model."""
    model = CustomerCreate(company="A", tags=["a", "b"], extra={"superuser_id": 5})
    assert model.tags == ("a", "b")
    assert orjson.loads(dumps(model)) == {"company": "A", "tags": ["a", "b"], "superuser_id": 5}


def test_model_is_frozen_and_keyword_only() -> None:
    """A CustomerCreate cannot be changed after it is built, nor built positionally."""
    model = CustomerCreate(company="A")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.company = "B"  # type: ignore[misc]
    with pytest.raises(TypeError):
        CustomerCreate("A")  # type: ignore[call-arg,arg-type]
    assert attrs.evolve(model, company="B").company == "B"


def test_repr_hides_personal_data() -> None:
    """The model's repr shows the company and key, never e-mail, names or addresses."""
    text = repr(CustomerCreate(**FULL))
    for secret in ("j@acme.example", "Jane Doe", "1 Main St", "+1 555 0100"):
        assert secret not in text
    assert "crm-1" in text


def test_customer_read_model_is_lenient_and_keeps_unknown_fields() -> None:
    """Customer.from_wire accepts null/0 ids, no_procfees 0, both datetimes, unknown keys."""
    customer = Customer.from_wire(
        {
            "customer_id": "12",
            "parent_customer_id": 0,
            "currency_id": None,
            "company": "Acme",
            "external_key": "k",
            "no_procfees": 0,
            "no_taxes": True,
            "custom_1": None,
            "custom_2": "",
            "tags": "a, b",
            "write_datetime": "2015-03-19 08:55:33",
            "mod_datetime": "2026-03-10T01:01:49-05:00",
            "url_self": "https://x/api/v3/customer/12",
        }
    )
    assert customer.customer_id == 12
    assert customer.fields["parent_customer_id"] is None
    assert customer.fields["currency_id"] is None
    assert customer.fields["no_procfees"] is False
    assert customer.fields["no_taxes"] is True
    assert customer.fields["custom_1"] is None
    assert customer.fields["tags"] == ("a", "b")
    assert customer.write_datetime == dt.datetime(2015, 3, 19, 8, 55, 33)
    assert customer.mod_datetime is not None
    assert customer.mod_datetime.utcoffset() == dt.timedelta(hours=-5)
    assert customer.extra == {"url_self": "https://x/api/v3/customer/12"}
    assert customer.external_key == "k"
    assert customer.company == "Acme"


# --- the protocol layer --------------------------------------------------------------------


AUTH_MISSING = "Invalid or incorrect authorization [Missing (basic) authorization header.]"


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
        (errors.TimeoutError("x"), Outcome.AMBIGUOUS),
        (errors.ConnectionLostError("x"), Outcome.AMBIGUOUS),
        (errors.ConnectionLostError("x", status=201), Outcome.CREATED_ID_UNKNOWN),
        (errors.TimeoutError("x", status=201), Outcome.CREATED_ID_UNKNOWN),
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
    out, it = [], iter(value)
    for ch in it:
        out.append(next(it) if ch == "\\" else ch)
    return "".join(out)


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


# --- auth ----------------------------------------------------------------------------------


def test_basic_auth_header() -> None:
    """Basic auth is base64(username:password), computed once."""
    auth = BasicAuth("user", "pa:ss")
    assert auth.header("POST", "x", b"") == "Basic " + base64.b64encode(b"user:pa:ss").decode()


def test_signature_known_answer() -> None:
    """The legacy signature matches a digest computed independently (openssl dgst -hmac)."""
    auth = SignatureAuth("pub", "priv-key", clock=lambda: NOW, nonce=lambda: "abc12345")
    url = "http://127.0.0.1:8080/api/v3/customer?where=external_key%3AEQUALS%3Aab%2Fc"
    header = auth.header("POST", url, '{"company":"Äcme"}'.encode())
    assert header == (
        'ChargeOver co_public_key="pub" co_nonce="abc12345" co_timestamp="1700000000" '
        'co_signature_method="HMAC-SHA256" co_version="1.0" '
        'co_signature="9c1478f43bd5f578286b7c087d6c4022daa622dfe433932b02cbe09d98401f4a"'
    )


def test_signature_nonce_is_random_lowercase_alnum() -> None:
    """Without an injected nonce each header has a fresh 8-char [a-z0-9] nonce."""
    auth = SignatureAuth("pub", "priv")
    nonces = {
        re.search(r'co_nonce="([^"]*)"', auth.header("GET", "http://x", None))[1]  # type: ignore[index]
        for _ in range(20)
    }
    assert len(nonces) == 20
    assert all(re.fullmatch(r"[a-z0-9]{8}", n) for n in nonces)


def test_auth_reprs_hide_secrets() -> None:
    """Neither auth object's repr shows the password or private key."""
    assert "s3cret" not in repr(BasicAuth("u", "s3cret"))
    assert "s3cret" not in repr(SignatureAuth("u", "s3cret"))


# --- retry policy and the pause gate --------------------------------------------------------


def test_retry_policy_defaults_and_validation() -> None:
    """The documented defaults hold, and non-positive settings are refused."""
    policy = RetryPolicy()
    assert (policy.attempts, policy.initial_backoff, policy.max_backoff) == (8, 0.5, 30.0)
    assert (policy.retry_after_cap, policy.deadline, policy.wait) == (60.0, 180.0, True)
    for bad in ({"attempts": 0}, {"initial_backoff": 0}, {"max_backoff": -1}, {"deadline": 0}):
        with pytest.raises(ValueError, match="must be"):
            RetryPolicy(**bad)  # type: ignore[arg-type]
    assert RetryPolicy.no_wait().wait is False
    assert RetryPolicy.disabled().attempts == 1


async def test_pause_gate_holds_every_caller_and_only_extends() -> None:
    """A 429 pause makes every acquire wait it out; a shorter one never shortens it."""
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = PauseGate(clock=lambda: now[0], sleep=sleep)
    await gate.acquire()
    assert slept == []
    gate.on_throttled(2.0)
    gate.on_throttled(0.5)
    gate.on_throttled(None)
    await gate.acquire()
    await gate.acquire()
    assert slept == [2.0]


async def test_pause_gate_does_not_spin_with_a_sleep_that_does_not_wait() -> None:
    """With waits switched off the gate returns after one yield instead of busy-looping."""
    calls = []

    async def no_sleep(seconds: float) -> None:
        calls.append(seconds)

    gate = PauseGate(clock=lambda: 0.0, sleep=no_sleep)
    gate.on_throttled(5.0)
    await gate.acquire()
    assert calls == [5.0]


# --- the public surface ---------------------------------------------------------------------


def test_all_is_sorted_complete_and_documented() -> None:
    """__all__ is sorted, every name exists, and every public class/function has a docstring."""
    names = customer_sdk.__all__
    assert names == sorted(names)
    for name in names:
        obj = getattr(customer_sdk, name)
        if callable(obj) or isinstance(obj, type):
            assert obj.__doc__, name
    assert not any("tenacity" in repr(getattr(customer_sdk, n)) for n in names)


def test_the_exception_tree_matches_its_drawing() -> None:
    """Each class drawn in errors.__doc__ derives from the class drawn above it."""
    assert errors.__doc__ is not None
    stack: list[tuple[int, type]] = []
    seen = 0
    for line in errors.__doc__.splitlines():
        m = re.match(r"^(\s*(?:[│ ]\s*)*)(?:[├└]── )?([A-Z]\w+)(?:\s|$)", line)
        if not m or not hasattr(errors, m[2]):
            continue
        depth = len(m[1]) + (4 if "──" in line else 0)
        cls = getattr(errors, m[2])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert issubclass(cls, stack[-1][1]), (cls, stack[-1][1])
        stack.append((depth, cls))
        seen += 1
    drawn_everything = {
        n
        for n in errors.__all__
        if isinstance(getattr(errors, n), type)
        and issubclass(getattr(errors, n), errors.ChargeOverError)
    }
    assert seen == len(drawn_everything) >= 20  # every exported error class is drawn
