"""A fake ChargeOver customer API that does NOT enforce a unique ``external_key``.

The sandbox refuses a second customer with a taken key (as ChargeOver does), which hides a blind
resend: it turns into a 400 the SDK then settles by lookup. This fake stores every create it
receives, so any resend of a payload shows as a duplicate. It answers creates (``201`` with
``response.id`` and ``Location``, as ``tests/recordings/create_201.json``) and
``where=external_key:EQUALS:`` lookups (a list, as ``tests/recordings/query_by_key_200.json``)
from what it stored, and records when every request arrived. Nothing else; any auth accepted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Self

import orjson
from aiohttp import web

__all__ = ["NonUniqueServer", "audit"]

_PATH = "/api/v3/customer"
_PREFIX = "external_key:EQUALS:"


def _envelope(code: int, response: object) -> bytes:
    return orjson.dumps({"code": code, "status": "OK", "message": "", "response": response})


def _unescape(value: str) -> str:
    r"""Undo ``escape_where_value`` (docs/chargeover-api.md, "Looking customers up")."""
    out, escaped = [], False
    for ch in value:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


class NonUniqueServer:
    """The fake on a free loopback port; ``async with`` starts and stops it.

    Attributes:
        customers: Every stored customer, in creation order (``customer_id`` added).
        arrivals: ``time.monotonic()`` of every request received, in order.
    """

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        app = web.Application()
        app.router.add_post(_PATH, self._create)
        app.router.add_get(_PATH, self._lookup)
        self._runner = web.AppRunner(app, access_log=None)
        self.base_url = ""
        self.port = 0

    async def __aenter__(self) -> Self:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def count_by(self, field: str) -> Counter[Any]:
        """How many stored customers carry each value of ``field``."""
        return Counter(c.get(field) for c in self.customers)

    async def _create(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        body = orjson.loads(await request.read())
        customer_id = len(self.customers) + 1
        self.customers.append({**body, "customer_id": customer_id})
        return web.Response(
            status=201,
            body=_envelope(201, {"id": customer_id}),
            content_type="application/json",
            headers={"Location": f"{request.url.origin()}{_PATH}/{customer_id}"},
        )

    async def _lookup(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        where = request.query.get("where", "")
        if not where.startswith(_PREFIX):
            return web.Response(status=400, body=_envelope(400, None))
        key = _unescape(where[len(_PREFIX) :])
        found = [c for c in self.customers if c.get("external_key") == key]
        return web.Response(status=200, body=_envelope(200, found), content_type="application/json")


def audit(
    server: NonUniqueServer,
    wire_bodies: list[bytes] | None,
    outcomes: Mapping[int, tuple[str, int | None]],
    n: int,
) -> dict[str, int]:
    """Check every row of a soak against what the server stored and what reached the wire.

    Row ``i`` has company ``Soak {i}``; even rows carry ``external_key`` ``s-{i}``, odd rows
    none. Asserts 0 duplicates, 0 lost, and 0 false unknowns (a row reported unknown whose
    request never left the client); returns the counts for the summary line.

    Args:
        server: The fake, after the run.
        wire_bodies: The body of every request that reached the proxy; None: no proxy, and an
            unknown row need only not be duplicated.
        outcomes: Row index -> (outcome, customer_id) as reported.
        n: The number of rows.

    Returns:
        Counts: ``created``, ``existed``, ``unknown``, ``unknown_stored`` (true unknowns the
        server stored), ``unknown_unstored`` (sent, then eaten by the network).
    """
    stored = {c["company"]: c for c in server.customers}
    by_company = server.count_by("company")
    on_wire = (
        None if wire_bodies is None else {orjson.loads(b)["company"] for b in wire_bodies if b}
    )
    counts: Counter[str] = Counter()
    for i in range(n):
        company = f"Soak {i}"
        outcome, customer_id = outcomes[i]
        counts[outcome] += 1
        assert by_company[company] <= 1, f"row {i} stored {by_company[company]} times"
        if i % 2 == 0 or outcome in ("created", "existed"):
            # Every keyed row settled; every row reported created is the one stored.
            assert outcome in ("created", "existed"), f"keyed row {i} ended {outcome}"
            assert company in stored, f"row {i} reported {outcome} but not stored (lost)"
            assert stored[company]["customer_id"] == customer_id, f"row {i}: another id"
        elif outcome == "unknown":
            if on_wire is not None:
                assert company in on_wire, f"row {i} reported unknown, never sent (false unknown)"
            counts["unknown_stored" if company in stored else "unknown_unstored"] += 1
        else:
            assert company not in stored, f"row {i} reported {outcome} but stored (lost)"
    assert len(server.customers) == sum(by_company.values())
    return dict(counts)
