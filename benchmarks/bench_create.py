"""P1: ``customers.create()`` throughput and CPU against raw aiohttp, on one canned server.

Every implementation sends the same JSON to the same canned loopback server (its own process),
at the same concurrency, in interleaved rounds (the order rotates each round) so that machine
noise hits all of them alike. Reported: median requests/s, the spread (min-max), the median of
the per-round ratios to raw aiohttp, and client CPU per create (``time.process_time``: the server
runs in another process) as a ratio to raw.

Run: ``python -m benchmarks.bench_create [--concurrency 1 64] [--requests 4000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import cattrs
import tenacity

from benchmarks._canned import canned_server
from customer_sdk import ChargeOverClient, CustomerCreate, RetryPolicy

USER, PASSWORD = "bench-user", "bench-password"


def payload(i: int) -> dict[str, Any]:
    """One realistic customer; ``i`` makes the key unique."""
    return {
        "external_key": f"bench-{i}",
        "company": "Acme Widgets GmbH",
        "superuser_name": "Jürgen Müller",
        "superuser_email": "jm@example.com",
        "bill_addr1": "Hauptstraße 1",
        "bill_city": "Berlin",
        "bill_postcode": "10115",
        "bill_country": "DE",
        "currency_id": 1,
        "no_taxes": False,
        "tags": ["bench", "de"],
    }


Impl = Callable[[int], Awaitable[None]]


class Raw:
    """The baseline: what a careful user writes by hand with aiohttp + json."""

    name = "raw aiohttp"

    def __init__(self, base: str) -> None:
        self.url = base + "/api/v3/customer"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300))
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": aiohttp.encode_basic_auth(USER, PASSWORD),
        }

    async def one(self, i: int) -> None:
        """Create one customer."""
        async with self.session.post(
            self.url,
            data=json.dumps(payload(i)),
            headers=self.headers,
            allow_redirects=False,
        ) as resp:
            body = json.loads(await resp.read())
            assert resp.status == 201 and body["response"]["id"]

    async def close(self) -> None:
        """Close the session."""
        await self.session.close()


class Sdk:
    """customer_sdk, ``create(**fields)``: validation included in what is measured."""

    name = "customer_sdk create(**fields)"

    def __init__(self, base: str) -> None:
        self.client = ChargeOverClient(
            base, username=USER, password=PASSWORD, max_connections=300, retry=RetryPolicy()
        )

    async def one(self, i: int) -> None:
        """Create one customer."""
        created = await self.client.customers.create(**payload(i))
        assert created.customer_id

    async def close(self) -> None:
        """Close the client."""
        await self.client.aclose()


class SdkModel(Sdk):
    """customer_sdk with a ``CustomerCreate`` built per call (the 62-field frozen model)."""

    name = "customer_sdk create(CustomerCreate(...))"

    async def one(self, i: int) -> None:
        """Create one customer."""
        created = await self.client.customers.create(CustomerCreate(**payload(i)))
        assert created.customer_id


@attrs.define
class _NaiveCustomer:
    company: str
    external_key: str | None = None
    superuser_name: str | None = None
    superuser_email: str | None = None
    bill_addr1: str | None = None
    bill_city: str | None = None
    bill_postcode: str | None = None
    bill_country: str | None = None
    currency_id: int | None = None
    no_taxes: bool | None = None
    tags: list[str] | None = None


class Naive(Raw):
    """The same stack used naively: attrs + cattrs + a fresh tenacity AsyncRetrying per call."""

    name = "naive attrs+cattrs+tenacity"
    converter = cattrs.Converter()

    async def one(self, i: int) -> None:
        """Create one customer."""
        model = self.converter.structure(payload(i), _NaiveCustomer)
        body = {k: v for k, v in self.converter.unstructure(model).items() if v is not None}
        async for attempt in tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_random_exponential(multiplier=0.5, max=10),
            retry=tenacity.retry_if_exception_type(aiohttp.ClientConnectionError),
            reraise=True,
        ):
            with attempt:
                async with self.session.post(
                    self.url,
                    data=json.dumps(body),
                    headers=self.headers,
                    allow_redirects=False,
                ) as resp:
                    data = json.loads(await resp.read())
                    assert resp.status == 201 and data["response"]["id"]


class Httpx:
    """httpx.AsyncClient, for context."""

    name = "httpx"
    share = 8  # runs 1/8 of the requests: it is ~20x slower, and rates do not need more

    def __init__(self, base: str) -> None:
        import httpx  # optional: the bench extra

        self.url = base + "/api/v3/customer"
        self.client = httpx.AsyncClient(
            auth=(USER, PASSWORD), limits=httpx.Limits(max_connections=300)
        )

    async def one(self, i: int) -> None:
        """Create one customer."""
        resp = await self.client.post(self.url, json=payload(i))
        assert resp.status_code == 201 and resp.json()["response"]["id"]

    async def close(self) -> None:
        """Close the client."""
        await self.client.aclose()


async def run_round(one: Impl, requests: int, concurrency: int, start: int) -> tuple[float, float]:
    """Send ``requests`` creates with ``concurrency`` workers; return (wall s, CPU s)."""
    counter = iter(range(start, start + requests))

    async def worker() -> None:
        for i in counter:
            await one(i)

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def bench(
    base: str, impls: list[type[Any]], concurrency: int, requests: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Interleaved rounds of every implementation at one concurrency; returns stats by name."""
    objs = [cls(base) for cls in impls]
    try:
        for obj in objs:  # warm up pools and caches
            await run_round(obj.one, min(500, requests) // getattr(obj, "share", 1), concurrency, 0)
        rps: dict[str, list[float]] = {o.name: [] for o in objs}
        cpu: dict[str, list[float]] = {o.name: [] for o in objs}
        ratios: dict[str, list[float]] = {o.name: [] for o in objs}
        serial = 10_000
        for r in range(rounds):
            order = objs[r % len(objs) :] + objs[: r % len(objs)]
            got: dict[str, float] = {}
            for obj in order:
                n = max(concurrency, requests // getattr(obj, "share", 1))
                wall, used = await run_round(obj.one, n, concurrency, serial)
                serial += n
                got[obj.name] = n / wall
                rps[obj.name].append(n / wall)
                cpu[obj.name].append(used / n * 1e6)
            for name, value in got.items():
                ratios[name].append(value / got[Raw.name])
    finally:
        for obj in objs:
            await obj.close()
    cpu_raw = statistics.median(cpu[Raw.name])
    return {
        name: {
            "rps": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "ratio": statistics.median(ratios[name]),
            "cpu_us": statistics.median(cpu[name]),
            "cpu_ratio": statistics.median(cpu[name]) / cpu_raw,
        }
        for name, values in rps.items()
    }


def report(concurrency: int, stats: dict[str, dict[str, float]]) -> str:
    """Format one concurrency level's results as Markdown table rows."""
    lines = []
    for name, s in stats.items():
        lines.append(
            f"| {concurrency} | {name} | {s['rps']:,.0f} | {s['min']:,.0f}-{s['max']:,.0f} "
            f"| {s['ratio']:.2f}x | {s['cpu_us']:.0f} us ({s['cpu_ratio']:.2f}x) |"
        )
    return "\n".join(lines)


HEADER = (
    "| concurrency | client | creates/s (median) | spread | vs raw aiohttp | client CPU/create |\n"
    "|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="also the naive stack and httpx")
    args = parser.parse_args(argv)
    impls: list[type[Any]] = [Raw, Sdk, SdkModel]
    if args.all:
        impls += [Naive, Httpx]
    print(HEADER)
    with canned_server() as base:
        for c in args.concurrency:
            n = args.requests if c > 1 else max(500, args.requests // 4)
            stats = asyncio.run(bench(base, impls, c, n, args.rounds))
            print(report(c, stats), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
