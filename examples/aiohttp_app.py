"""An aiohttp.web service that creates ChargeOver customers: one client for the whole process.

Run it (``pip install customer-sdk``; aiohttp comes with it)::

    export CHARGEOVER_BASE_URL=... CHARGEOVER_USERNAME=... CHARGEOVER_PASSWORD=...
    python examples/aiohttp_app.py --port 8080

The client is made once, in a ``cleanup_ctx`` generator: the code before its ``yield`` runs at
startup, the code after it at cleanup, so the client (its connection pool and its limiter) is
shared by every request and closed when the app stops. As in ``fastapi_app.py``, request paths
use a short ``retry_after_cap`` and ``deadline``: one 429 with ``Retry-After: 20`` fails that
request fast (503 with the server's ``Retry-After``) and holds the others for at most 2 s.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import AsyncIterator

from aiohttp import web

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
CHARGEOVER = web.AppKey("chargeover", ChargeOverClient)

routes = web.RouteTableDef()


async def chargeover_client(app: web.Application) -> AsyncIterator[None]:
    """Create the one client at startup; close it (and its connections) at cleanup."""
    app[CHARGEOVER] = ChargeOverClient.from_env(retry=REQUEST_POLICY)
    yield
    await app[CHARGEOVER].aclose()


@routes.post("/signups")
async def create_signup(request: web.Request) -> web.Response:
    """Create the customer for a sign-up (JSON: account_id, company, optional email)."""
    body = await request.json()
    if not isinstance(body, dict):
        return web.json_response({"detail": "expected a JSON object"}, status=400)
    # The external_key is what makes a retry (ours, or the caller's repeated request) safe.
    fields = {"company": body.get("company"), "external_key": body.get("account_id")}
    if body.get("email") is not None:
        fields["superuser_email"] = body["email"]
    try:
        created = await request.app[CHARGEOVER].customers.create(fields)
    except ValidationError as exc:
        return web.json_response({"detail": [str(p) for p in exc.errors]}, status=422)
    except RateLimitError as exc:
        headers = {}
        if exc.retry_after is not None and math.isfinite(exc.retry_after):
            headers["Retry-After"] = str(math.ceil(exc.retry_after))
        detail = {"detail": "ChargeOver is rate limiting"}
        return web.json_response(detail, status=503, headers=headers)
    except OutcomeUnknownError:
        return web.json_response({"detail": "not confirmed yet; repeat the request"}, status=504)
    except ChargeOverError as exc:
        return web.json_response({"detail": f"ChargeOver failed: {type(exc).__name__}"}, status=502)
    result = {"customer_id": created.customer_id, "created": created.created}
    return web.json_response(result, status=201)


@routes.get("/signups/{account_id}")
async def get_signup(request: web.Request) -> web.Response:
    """Look a sign-up's customer up by its external_key (404 when there is none)."""
    customer = await request.app[CHARGEOVER].customers.find_by_external_key(
        request.match_info["account_id"]
    )
    if customer is None:
        return web.json_response({"detail": "no such sign-up"}, status=404)
    return web.json_response({"customer_id": customer.customer_id, "company": customer.company})


def make_app() -> web.Application:
    """The application: its routes, and the client's startup/cleanup context."""
    app = web.Application()
    app.add_routes(routes)
    app.cleanup_ctx.append(chargeover_client)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the sign-up example.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port)
