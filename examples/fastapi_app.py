"""A FastAPI service that creates ChargeOver customers: one client for the whole process.

Run it (``pip install customer-sdk fastapi uvicorn``)::

    export CHARGEOVER_BASE_URL=... CHARGEOVER_USERNAME=... CHARGEOVER_PASSWORD=...
    uvicorn examples.fastapi_app:app

(``customer-sdk sandbox`` prints those exports for a local sandbox.)

The client is made once at startup and closed at shutdown (the ``lifespan``): it owns the
connection pool and the limiter, so every request shares them, and a 429 from ChargeOver pauses
the whole service's calls rather than each collecting its own.

A request path must not wait the way a batch job may. The SDK's default policy honours a
``Retry-After`` of up to 60 s and gives a call 180 s in all; here ``REQUEST_POLICY`` honours at
most 2 s and gives a call 8 s, so one 429 with ``Retry-After: 20`` fails that one request fast
(503 with the server's ``Retry-After``) and holds the others for at most 2 s, instead of stalling
every request for 20. Failures that the SDK retries safely (resets, 5xx, lost answers) are still
retried within those 8 s, and a create is still never duplicated.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from customer_sdk import (
    ChargeOverClient,
    ChargeOverError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    ValidationError,
)

# For calls made while a user waits: a short Retry-After cap, a short deadline, fewer attempts.
REQUEST_POLICY = RetryPolicy(attempts=4, retry_after_cap=2.0, deadline=8.0)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the one client at startup; close it (and its connections) at shutdown."""
    client = ChargeOverClient.from_env(retry=REQUEST_POLICY)
    app.state.chargeover = client
    try:
        yield
    finally:
        await client.aclose()


app = FastAPI(title="signups", lifespan=lifespan)


class Signup(BaseModel):
    """A sign-up form: ``account_id`` is our id for the customer, used as its external_key."""

    account_id: str
    company: str
    email: str | None = None


def chargeover(request: Request) -> ChargeOverClient:
    """The process's client, made by :func:`lifespan`."""
    client: ChargeOverClient = request.app.state.chargeover
    return client


@app.exception_handler(RateLimitError)
async def rate_limited(request: Request, exc: RateLimitError) -> JSONResponse:
    """ChargeOver asked for a longer wait than a request can afford: say when to retry."""
    headers = {}
    if exc.retry_after is not None and math.isfinite(exc.retry_after):
        headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return JSONResponse({"detail": "ChargeOver is rate limiting"}, status_code=503, headers=headers)


@app.post("/signups", status_code=201)
async def create_signup(signup: Signup, request: Request) -> dict[str, object]:
    """Create the customer for a sign-up; a repeated sign-up finds the existing customer.

    Raises:
        HTTPException: 422 for fields ChargeOver would refuse, 504 when the create may have
            happened but could not be verified (repeating the request is safe), 502 for any
            other ChargeOver failure.
    """
    # The external_key is what makes a retry (ours, or the caller's repeated request) safe.
    fields = {"company": signup.company, "external_key": signup.account_id}
    if signup.email is not None:
        fields["superuser_email"] = signup.email
    try:
        created = await chargeover(request).customers.create(fields)
    except ValidationError as exc:
        raise HTTPException(422, [str(problem) for problem in exc.errors]) from exc
    except OutcomeUnknownError as exc:
        raise HTTPException(504, "not confirmed yet; repeat the request") from exc
    except RateLimitError:
        raise  # rate_limited() answers it
    except ChargeOverError as exc:
        raise HTTPException(502, f"ChargeOver failed: {type(exc).__name__}") from exc
    return {"customer_id": created.customer_id, "created": created.created}


@app.get("/signups/{account_id}")
async def get_signup(account_id: str, request: Request) -> dict[str, object]:
    """Look a sign-up's customer up by its external_key.

    Raises:
        HTTPException: 404 when there is none.
    """
    customer = await chargeover(request).customers.find_by_external_key(account_id)
    if customer is None:
        raise HTTPException(404, "no such sign-up")
    return {"customer_id": customer.customer_id, "company": customer.company}
