"""A tiny scripted HTTP/1.1 server on raw sockets, for client tests that need real faults.

It answers ``POST /api/v3/customer``, ``POST /api/v3/_bulk`` and the ``where`` lookup. Each
request pops the next action of its kind (POST or GET) from a script; when a script is
empty the server answers normally from an in-memory store keyed by ``external_key``. Actions
can cut a body, reset or close the connection, stall, or send garbage, which aioresponses
cannot fake. Everything it received is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import urllib.parse
from collections.abc import Callable
from typing import Any, Self

import attrs
import orjson

Action = Callable[["Exchange"], Any]


@attrs.define
class Exchange:
    """One request as received, and the means to answer it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    writer: asyncio.StreamWriter
    server: ScriptedServer

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)

    def respond(
        self,
        status: int,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Write a complete response (a JSON envelope or raw bytes)."""
        body = raw if raw is not None else orjson.dumps(payload)
        head = [
            f"HTTP/1.1 {status} X",
            f"Content-Length: {len(body)}",
            "Content-Type: application/json",
        ]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def envelope(status: int, response: Any, message: str = "") -> dict[str, Any]:
    """A ChargeOver envelope."""
    return {
        "code": status,
        "status": "OK" if status < 400 else "Error",
        "message": message,
        "details": {},
        "response": response,
    }


# --- actions ---------------------------------------------------------------------------------


def ok(ex: Exchange) -> None:
    """Store the customer and answer 201 (or 400 if the key exists)."""
    ex.server.default_post(ex)


def commit(ex: Exchange) -> int:
    """Store the customer without answering; returns its id."""
    return ex.server.store(ex.json)


def status(
    code: int, message: str = "boom", headers: dict[str, str] | None = None, store: bool = False
) -> Action:
    """Answer ``code`` with an error envelope, optionally after storing the customer."""

    def act(ex: Exchange) -> None:
        if store:
            commit(ex)
        ex.respond(code, envelope(code, False if code < 500 else None, message), headers=headers)

    return act


def reset(store: bool) -> Action:
    """Reset the connection after reading the request, before or after storing it."""

    def act(ex: Exchange) -> None:
        if store:
            commit(ex)
        ex.reset()

    return act


def close_after_commit(ex: Exchange) -> None:
    """Store, then close cleanly without an answer."""
    commit(ex)
    ex.writer.close()


def cut_201(ex: Exchange) -> None:
    """Store, then send a 201 whose body stops half way, and close."""
    cid = commit(ex)
    body = orjson.dumps(envelope(201, {"id": cid}))
    ex.writer.write(
        f"HTTP/1.1 201 Created\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body[: len(body) // 2]
    )
    ex.writer.close()


def malformed_201(ex: Exchange) -> None:
    """Store, then answer 201 with a body that is not JSON."""
    commit(ex)
    ex.respond(201, raw=b'{"code":201,"status":"OK","response":{"id":')


def garbage_status(ex: Exchange) -> None:
    """Store, then send a garbage status line and close."""
    commit(ex)
    ex.writer.write(b"HTTP/1.1 ABC Garbage\r\n\r\n")
    ex.writer.close()


def stall(seconds: float, store: bool = True) -> Action:
    """Hold the request (optionally storing it first), then answer normally."""

    async def act(ex: Exchange) -> None:
        if store:
            commit(ex)
        await asyncio.sleep(seconds)
        ex.respond(201, envelope(201, {"id": 1}))

    return act


def redirect(code: int) -> Action:
    """Answer with a redirect to the counted trap path."""

    def act(ex: Exchange) -> None:
        ex.respond(code, raw=b"", headers={"Location": "/trap"})

    return act


class LoopbackServer:
    """A TCP server on 127.0.0.1; stopping it also cancels every connection's handler.

    Subclasses answer one connection in :meth:`serve`. ``async with`` starts it on a free port;
    :meth:`stop` and :meth:`start` with the same port take it down and bring it back.
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # What a connection's handler raised: a broken test handler must fail its test (at
        # stop), not look to the client like a dropped connection that it then retries.
        self.failures: list[Exception] = []

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: a free one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cancel every connection's handler (idle keep-alives included)."""
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.failures:
            failures, self.failures = self.failures, []
            raise AssertionError(f"the test server's handler raised {failures[0]!r}") from (
                failures[0]
            )

    def track(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task`` on :meth:`stop` unless it has ended by then."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection."""
        raise NotImplementedError

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.track(task)
        try:
            await self.serve(reader, writer)
        except Exception as exc:  # kept, and raised by stop()
            self.failures.append(exc)
            writer.transport.abort()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@attrs.define(eq=False, slots=False)
class ScriptedServer(LoopbackServer):
    """The server: scripts per method, a store, and a log of what it received.

    Not slotted, so a test may replace ``default_get`` or ``default_post`` on one instance.
    """

    post_script: list[Action] = attrs.Factory(list)
    get_script: list[Action] = attrs.Factory(list)
    received: list[Exchange] = attrs.Factory(list)
    customers: dict[str, dict[str, Any]] = attrs.Factory(dict)
    _arrived: asyncio.Condition = attrs.Factory(asyncio.Condition)

    def __attrs_post_init__(self) -> None:
        LoopbackServer.__init__(self)

    def count(self, method: str, path: str = "/api/v3/customer") -> int:
        """How many requests of this method reached this path (query ignored)."""
        return sum(
            1 for e in self.received if e.method == method and e.target.split("?")[0] == path
        )

    def store(self, data: dict[str, Any]) -> int:
        """Store a customer; returns its id."""
        cid = len(self.customers) + 1
        self.customers[str(data.get("external_key", f"nokey-{cid}"))] = {**data, "customer_id": cid}
        return cid

    def count_path(self, prefix: str) -> int:
        """Requests whose target starts with ``prefix``."""
        return sum(1 for e in self.received if e.target.startswith(prefix))

    def default_post(self, ex: Exchange) -> None:
        """201 with a new id, or 400 when the key is already taken; _bulk item by item."""
        if ex.target.startswith("/api/v3/_bulk"):
            items = [self.bulk_item(i["payload"]) for i in ex.json]
            ex.respond(200, envelope(200, {"_bulk": items}))
            return
        data = ex.json
        if data.get("external_key") in self.customers:
            ex.respond(400, envelope(400, False, "external key already in use"))
            return
        cid = self.store(data)
        ex.respond(
            201,
            envelope(201, {"id": cid}),
            headers={"Location": f"{self.base_url}/api/v3/customer/{cid}"},
        )

    def bulk_item(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One _bulk item's answer: 201 with the new id, or 400 when its key is taken."""
        if payload.get("external_key") in self.customers:
            return {"code": 400, "status": "Error", "message": "in use", "response": False}
        return {"code": 201, "status": "OK", "message": "", "response": {"id": self.store(payload)}}

    def default_get(self, ex: Exchange) -> None:
        """Answer the where=external_key:EQUALS:... query from the store."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(ex.target).query)
        where = query.get("where", [""])[0]
        prefix = "external_key:EQUALS:"
        found = []
        if where.startswith(prefix):
            # docs/chargeover-api.md, "Escaping": only "\\," and "\\:" are escapes.
            raw = where[len(prefix) :]
            key = re.sub(r"\\([,:])", r"\1", raw)
            match = self.customers.get(key)
            found = [match] if match else []
        ex.respond(200, envelope(200, found))

    async def wait_for_requests(self, n: int = 1, timeout: float = 10.0) -> None:
        """Return once ``n`` requests have arrived (head and body read), or fail after timeout."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= n)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read requests off the connection; answer each by its script, else by default."""
        try:
            while not writer.is_closing():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                ex = Exchange(method, target, headers, body, writer, self)
                self.received.append(ex)
                async with self._arrived:
                    self._arrived.notify_all()
                script = self.post_script if method == "POST" else self.get_script
                if target.startswith("/trap"):
                    ex.respond(200, envelope(200, {}))
                elif script:
                    result = script.pop(0)(ex)
                    if asyncio.iscoroutine(result):
                        await result
                elif method == "POST":
                    self.default_post(ex)
                else:
                    self.default_get(ex)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
