"""Diagnostic: client CPU per create, layer by layer, from bare aiohttp up to ``create_many``.

Not part of the suite's targets: this splits the gap that P1 and P2 measure into its layers so
that a change can be aimed at the right one. Every layer sends the same customer to the same
canned server (its own process) with the same number of workers, in interleaved rounds whose
order rotates; reported is the median client CPU per create and each layer's increment over the
one before it. The layers, each including the previous:

1. ``raw aiohttp``: ``session.post`` of ``json.dumps`` of the dict, ``json.loads`` of the answer;
2. ``transport.send``: the SDK's transport, sending prebuilt bytes (its headers are the
   session's defaults);
3. ``engine.send``: plus the limiter, per-request bookkeeping and 429 accounting;
4. ``engine.create``: plus the create path given an already valid wire dict (serialisation,
   retry state, parsing the answer, the result object);
5. ``create(**fields)``: plus validating the fields into the wire dict;
6. ``create_many``: plus the bulk job (queues, job limiter, results stream), one job per round.

Run: ``python -m benchmarks.bench_layers [--requests 20000] [--rounds 5] [--concurrency 16]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import orjson

from benchmarks._canned import canned_server
from benchmarks.bench_create import PASSWORD, USER, payload
from customer_sdk import ChargeOverClient
from customer_sdk import _protocol as proto

Round = Callable[[int, int], Awaitable[None]]  # (first row number, rows)


def _pool(one: Callable[[int], Awaitable[None]], concurrency: int) -> Round:
    async def run(start: int, n: int) -> None:
        numbers: Iterator[int] = iter(range(start, start + n))

        async def worker() -> None:
            for i in numbers:
                await one(i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    return run


def layers(
    base: str, session: aiohttp.ClientSession, client: ChargeOverClient, concurrency: int
) -> dict[str, Round]:
    """The six layers as round runners, sharing one client and one raw session."""
    url = base + proto.CUSTOMER_PATH
    raw_headers = {
        "Content-Type": "application/json",
        "Authorization": aiohttp.encode_basic_auth(USER, PASSWORD),
    }

    async def raw(i: int) -> None:
        async with session.post(url, data=json.dumps(payload(i)), headers=raw_headers) as resp:
            assert json.loads(await resp.read())["response"]["id"]

    engine = client._engine
    transport = engine.transport
    run_state = engine.retrier.start()

    async def transport_send(i: int) -> None:
        request = proto.create_request(client.base_url, orjson.dumps(payload(i)))
        resp = await transport.send(request, None, None)
        assert orjson.loads(resp.body)["response"]["id"]

    async def client_send(i: int) -> None:
        request = proto.create_request(client.base_url, orjson.dumps(payload(i)))
        resp = await engine.send(request, run_state)
        assert orjson.loads(resp.body)["response"]["id"]

    async def create_wire(i: int) -> None:
        wire = payload(i)
        assert (await engine.create(orjson.dumps(wire), wire["external_key"])).customer_id

    async def create(i: int) -> None:
        assert (await client.customers.create(**payload(i))).customer_id

    async def create_many(start: int, n: int) -> None:
        rows = (payload(i) for i in range(start, start + n))
        async with client.customers.create_many(rows, concurrency=concurrency) as job:
            async for result in job:
                assert result.customer_id

    return {
        "raw aiohttp": _pool(raw, concurrency),
        "transport.send": _pool(transport_send, concurrency),
        "engine.send": _pool(client_send, concurrency),
        "engine.create": _pool(create_wire, concurrency),
        "create(**fields)": _pool(create, concurrency),
        "create_many": create_many,
    }


async def measure(
    base: str, requests: int, rounds: int, concurrency: int
) -> dict[str, list[float]]:
    """Client CPU microseconds per create, per layer, one value per round."""
    cpu: dict[str, list[float]] = {}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session,
        ChargeOverClient(
            base, username=USER, password=PASSWORD, max_connections=concurrency
        ) as client,
    ):
        runners = layers(base, session, client, concurrency)
        for run in runners.values():  # warm up
            await run(0, 1000)
        names = list(runners)
        serial = 0
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                start = time.process_time()
                await runners[name](serial, requests)
                cpu.setdefault(name, []).append((time.process_time() - start) / requests * 1e6)
                serial += requests
    return cpu


def main(argv: list[str] | None = None) -> int:
    """Run the diagnostic and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    with canned_server() as base:
        got = asyncio.run(measure(base, args.requests, args.rounds, args.concurrency))
    print("| layer | client CPU/create (median) | spread | vs raw | added by this layer |")
    print("|---|---|---|---|---|")
    previous = None
    raw = statistics.median(got["raw aiohttp"])
    for name, values in got.items():
        value = statistics.median(values)
        added = "" if previous is None else f"{value - previous:+.1f} us"
        print(
            f"| {name} | {value:.1f} us | {min(values):.0f}-{max(values):.0f} "
            f"| {value / raw:.2f}x | {added} |"
        )
        previous = value
    print(
        f"\nconcurrency {args.concurrency}, {args.requests:,} creates per layer per round, "
        f"{args.rounds} rounds."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
