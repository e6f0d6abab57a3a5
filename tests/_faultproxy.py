"""A raw-socket HTTP/1.1 proxy that breaks requests the way a real network and gateway do.

It reads each request off the client's connection (head, then ``Content-Length`` bytes), draws
one fault for it from a seeded random source, and either forwards it to the upstream over its
own keep-alive connection or not. The faults (``FAULTS``) are ones a network or a gateway
produces: a reset before or after the request was forwarded, a response cut mid-body, a header
block cut short, a stall past the client's timeout, a 5xx before or after forwarding, a 429.
It never delivers a request twice: the upstream sees each request at most once.

``wire_bodies`` holds the body of every request that reached the proxy (it left the client),
forwarded or not, so a test can tell a row that was sent and lost from one never sent at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import Counter
from collections.abc import Mapping
from typing import Self

__all__ = ["FAULTS", "FaultProxy"]

FAULTS = (
    "reset_before",  # RST after the request arrived; never forwarded
    "reset_after",  # forwarded and answered upstream; RST instead of the answer
    "cut_body",  # forwarded; the answer's head and half its body, then FIN
    "cut_head",  # forwarded; half the answer's header block, then FIN
    "stall",  # forwarded; no answer for ``stall`` seconds, then FIN
    "503_before",  # a gateway's 503; never forwarded
    "503_after",  # forwarded; a gateway's 503 instead of the answer
    "429",  # a 429 with Retry-After: 0; never forwarded
)
_NOT_FORWARDED = frozenset({"reset_before", "503_before", "429"})


def _status(code: int, text: str, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {code} {text}\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
        f"{extra}Connection: close\r\n\r\noops!"
    ).encode()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    return head, await reader.readexactly(_content_length(head))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """The proxy on a free loopback port, in front of ``upstream_port``.

    Args:
        upstream_port: The loopback port of the real (fake) server.
        rates: Fault name -> probability per request (they add up to the faulted share).
        seed: The random source's seed.
        stall: Seconds a stalled answer is held (above the client's timeout).
        methods: The request methods faulted (others pass through).
    """

    def __init__(
        self,
        upstream_port: int,
        rates: Mapping[str, float],
        *,
        seed: int,
        stall: float = 1.0,
        methods: frozenset[str] = frozenset({"GET", "POST"}),
    ) -> None:
        unknown = set(rates) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self._upstream_port = upstream_port
        self._rates = list(rates.items())
        self._random = random.Random(seed)
        self._stall = stall
        self._methods = methods
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.wire_bodies: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        """The proxy's ``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"

    def _draw(self, method: bytes) -> str | None:
        if method.decode() not in self._methods:
            return None
        x = self._random.random()
        for name, rate in self._rates:
            if x < rate:
                return name
            x -= rate
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head, body = await _read_message(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests += 1
                self.wire_bodies.append(body)
                fault = self._draw(head.split(b" ", 1)[0])
                if fault is not None:
                    self.faults[fault] += 1
                if fault == "reset_before":
                    _reset(writer)
                    return
                if fault in ("503_before", "429"):
                    extra = "Retry-After: 0\r\n" if fault == "429" else ""
                    text = "Too Many Requests" if fault == "429" else "Service Unavailable"
                    writer.write(_status(int(fault[:3]), text, extra))
                    await writer.drain()
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self._upstream_port)
                upstream[1].write(head + body)
                answer_head, answer_body = await _read_message(upstream[0])
                if await self._answer(fault, writer, answer_head, answer_body):
                    return
        finally:
            self._handlers.discard(task)
            if upstream is not None:
                upstream[1].close()
                with contextlib.suppress(Exception):
                    await upstream[1].wait_closed()
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, fault: str | None, writer: asyncio.StreamWriter, head: bytes, body: bytes
    ) -> bool:
        """Deliver (or break) a forwarded request's answer; True when the connection ends."""
        if fault == "reset_after":
            _reset(writer)
            return True
        if fault == "cut_body":
            writer.write(head + body[: len(body) // 2])
        elif fault == "cut_head":
            writer.write(head[: len(head) // 2])
        elif fault == "stall":
            await asyncio.sleep(self._stall)
        elif fault == "503_after":
            writer.write(_status(503, "Service Unavailable"))
        else:
            writer.write(head + body)
            await writer.drain()
            return False
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return True

    @staticmethod
    def forwarded(fault: str | None) -> bool:
        """Whether a request given ``fault`` reaches the upstream."""
        return fault not in _NOT_FORWARDED
