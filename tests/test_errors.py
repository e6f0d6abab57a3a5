"""The public exception tree (customer_sdk.errors), as drawn and as raised for each status."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from aioresponses import aioresponses

import customer_sdk
from customer_sdk import ChargeOverClient, RetryPolicy, errors
from tests import _scripted as s
from tests._helpers import Sleeps, make_client, requests_sent


def test_the_exception_tree_matches_its_drawing() -> None:
    """Each class drawn in errors.__doc__ derives from the class drawn above it."""
    assert errors.__doc__ is not None
    stack: list[tuple[int, type]] = []
    seen = 0
    for line in errors.__doc__.splitlines():
        # One character class for the indent: nested quantifiers backtrack for minutes on a
        # long line of blanks that does not match.
        m = re.match(r"^([\s│]*)(?:[├└]── )?([A-Z]\w+)(?:\s|$)", line)
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


# --- every documented status, through the real client ------------------------------------------

BASE = "https://acme.chargeover.com"
CUSTOMER = f"{BASE}/api/v3/customer"
# The lookup's URL carries the escaped key in its query; any query on the collection matches.
LOOKUP = re.compile(r"^https://acme\.chargeover\.com/api/v3/customer\?")

# docs/faults.md, "Failure classes": each status and the exception it raises.
STATUSES: list[tuple[int, type[errors.APIError]]] = [
    (400, errors.BadRequestError),
    (401, errors.AuthenticationError),
    (403, errors.PermissionDeniedError),
    (404, errors.NotFoundError),
    (409, errors.BadRequestError),
    (422, errors.BadRequestError),
    (429, errors.RateLimitError),
    (500, errors.ServerError),
    (502, errors.ServerError),
    (503, errors.ServerError),
    (504, errors.ServerError),
    (301, errors.RedirectError),
    (302, errors.RedirectError),
    (307, errors.RedirectError),
    (308, errors.RedirectError),
]


def answer(mocked: aioresponses, method: str, url: str | re.Pattern[str], status: int) -> None:
    """Register ``status`` for every request to ``url``: an error envelope, or a bare redirect."""
    if 300 <= status < 400:
        mocked.add(url, method, status=status, body=b"", headers={"Location": "/elsewhere"})
    else:
        envelope = s.envelope(status, None if status >= 500 else False, f"message {status}")
        mocked.add(url, method, status=status, payload=envelope, repeat=True)


Call = Callable[[ChargeOverClient], Awaitable[object]]
CALLS: dict[str, tuple[str, str | re.Pattern[str], Call]] = {
    "get": ("GET", f"{CUSTOMER}/5", lambda c: c.customers.get(5)),
    "find": ("GET", LOOKUP, lambda c: c.customers.find_by_external_key("k,1:x")),
    "create": ("POST", CUSTOMER, lambda c: c.customers.create(company="Acme")),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize(("status", "cls"), STATUSES, ids=[str(st) for st, _ in STATUSES])
async def test_each_status_raises_its_exception_through_the_client(
    mocked: aioresponses, sleeps: Sleeps, call: str, status: int, cls: type[errors.APIError]
) -> None:
    """Each status raises its exception from get, find_by_external_key and a keyless create.

    One request each (retries disabled). A keyless create's 5xx is OutcomeUnknownError instead:
    the server may have stored it, and without a key nothing can tell (faults.md, AMBIGUOUS).
    """
    method, url, make_call = CALLS[call]
    answer(mocked, method, url, status)
    async with make_client(BASE, sleeps, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(errors.ChargeOverError) as info:
            await make_call(client)
    exc = info.value
    if call == "create" and status >= 500:
        assert type(exc) is errors.OutcomeUnknownError
        assert (exc.external_key, exc.created) == (None, False)
        assert exc.last_error == f"ServerError: HTTP {status}: message {status}"
        assert len(requests_sent(mocked)) == 1
        return
    assert type(exc) is cls
    assert isinstance(exc, errors.APIError)
    assert exc.status == status
    if isinstance(exc, errors.RedirectError):
        assert (exc.location, exc.message) == ("/elsewhere", "(empty body)")
    else:
        assert exc.message == f"message {status}"
    assert len(requests_sent(mocked)) == 1


@pytest.mark.parametrize("call", ["get", "find"])
async def test_a_non_json_200_is_malformed(mocked: aioresponses, sleeps: Sleeps, call: str) -> None:
    """A 200 whose body is not JSON raises MalformedResponseError from a read, with the status."""
    method, url, make_call = CALLS[call]
    mocked.add(url, method, status=200, body="<html>maintenance</html>", repeat=True)
    async with make_client(BASE, sleeps, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(errors.MalformedResponseError) as info:
            await make_call(client)
    assert info.value.status == 200


async def test_a_non_json_201_to_a_keyless_create_is_unknown_but_created(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """A keyless create answered 201 with an unreadable body: OutcomeUnknownError(created=True)."""
    mocked.post(CUSTOMER, status=201, body="<html>ok</html>")
    async with make_client(BASE, sleeps, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(errors.OutcomeUnknownError) as info:
            await client.customers.create(company="Acme")
    assert info.value.created is True
    assert info.value.last_error == "MalformedResponseError: HTTP 201 with no JSON envelope: ok"


@pytest.mark.parametrize("retry_after", ["1", None], ids=["with-retry-after", "without"])
@pytest.mark.parametrize("call", list(CALLS))
async def test_429_is_retried_then_raised_as_rate_limit_error(
    mocked: aioresponses, sleeps: Sleeps, call: str, retry_after: str | None
) -> None:
    """Repeated 429s use every attempt, then RateLimitError carries the server's Retry-After."""
    method, url, make_call = CALLS[call]
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    mocked.add(
        url,
        method,
        status=429,
        payload=s.envelope(429, False, "slow"),
        headers=headers,
        repeat=True,
    )
    async with make_client(BASE, sleeps, retry=RetryPolicy.no_wait(attempts=3)) as client:
        with pytest.raises(errors.RateLimitError) as info:
            await make_call(client)
    assert info.value.retry_after == (None if retry_after is None else 1.0)
    assert len(requests_sent(mocked)) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("call", ["get", "find"])
async def test_5xx_on_a_read_is_retried_then_raised_as_server_error(
    mocked: aioresponses, sleeps: Sleeps, call: str, status: int
) -> None:
    """A read (safe to repeat) retries a 5xx on every attempt, then raises ServerError."""
    method, url, make_call = CALLS[call]
    answer(mocked, method, url, status)
    async with make_client(BASE, sleeps, retry=RetryPolicy.no_wait(attempts=3)) as client:
        with pytest.raises(errors.ServerError) as info:
            await make_call(client)
    assert info.value.status == status
    assert len(requests_sent(mocked)) == 3


async def test_keyed_create_400_for_a_key_nobody_has_is_key_reserved(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """A keyed 400 saying the key is taken, looked up, nobody has it: ExternalKeyReservedError."""
    taken = "This external key is already in use."
    mocked.post(CUSTOMER, status=400, payload=s.envelope(400, False, taken))
    mocked.get(LOOKUP, payload=s.envelope(200, []))
    async with make_client(BASE, sleeps) as client:
        with pytest.raises(errors.ExternalKeyReservedError) as info:
            await client.customers.create(company="Acme", external_key="gone-1")
    assert isinstance(info.value, errors.BadRequestError)
    assert (info.value.status, info.value.message) == (400, taken)
    assert [r.method for r in requests_sent(mocked)] == ["POST", "GET"]


async def test_keyed_create_400_for_an_existing_key_returns_it(
    mocked: aioresponses, sleeps: Sleeps
) -> None:
    """A keyed create's 400 whose lookup finds the key: that customer, created=False (F16)."""
    mocked.post(CUSTOMER, status=400, payload=s.envelope(400, False, "in use"))
    mocked.get(LOOKUP, payload=s.envelope(200, [{"customer_id": 77, "external_key": "dup-1"}]))
    async with make_client(BASE, sleeps) as client:
        created = await client.customers.create(company="Acme", external_key="dup-1")
    assert (created.customer_id, created.created, created.attempts) == (77, False, 2)


def test_a_request_timeout_is_also_the_builtin_timeout_error() -> None:
    """RequestTimeoutError is a TransportError and a builtin TimeoutError (except catches it)."""
    exc = errors.RequestTimeoutError("no answer", status=201)
    assert isinstance(exc, errors.TransportError)
    assert isinstance(exc, TimeoutError)
    assert (str(exc), exc.status) == ("no answer", 201)


def test_the_old_timeout_name_still_works_with_a_deprecation_warning() -> None:
    """customer_sdk.TimeoutError and errors.TimeoutError are RequestTimeoutError, and warn."""
    with pytest.warns(DeprecationWarning, match="RequestTimeoutError"):
        assert customer_sdk.TimeoutError is errors.RequestTimeoutError
    with pytest.warns(DeprecationWarning, match="RequestTimeoutError"):
        assert errors.TimeoutError is errors.RequestTimeoutError
    with pytest.raises(AttributeError):
        customer_sdk.NoSuchName  # noqa: B018


def test_the_package_logger_has_a_null_handler() -> None:
    """Without logging configured, the SDK's records reach no last-resort stderr handler."""
    handlers = logging.getLogger("customer_sdk").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
