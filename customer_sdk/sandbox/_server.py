"""The sandbox server: a local, stateful ChargeOver on aiohttp.web that breaks on demand.

One low-level ``aiohttp.web.Server`` handler (no router, no access log: it must sustain thousands
of requests a second) checks every request in a fixed order: outage, authorization, the shared
token bucket, then the fault dealt to it, then the endpoint itself. Byte-level faults act on the
real socket: a TCP RST (SO_LINGER 0 and abort), a FIN with no answer, a cut or stalled body, a
garbage status line. Every request leaves an :class:`AuditEntry`.

What it does not do: persist anything, implement any endpoint but the customer ones of
chargeover-api.md, or check the SDK's stricter client-side rules (CR/LF, positive ids, e-mail
shape) — only the server's own type checks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import hashlib
import hmac
import math
import re
import secrets
import socket
import ssl
import struct
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, unquote

import attrs
import orjson
from aiohttp import web

from customer_sdk._protocol import BULK_PATH, CUSTOMER_PATH, MAX_BULK
from customer_sdk.sandbox import _wire
from customer_sdk.sandbox._faults import FaultDealer, parse_faults
from customer_sdk.sandbox._store import (
    INVALID,
    NO_DATA,
    Store,
    WhereError,
    parse_order,
    parse_where,
)

__all__ = ["REDIRECT_TARGET", "AuditEntry", "Sandbox"]

#: Where the ``redirect_3xx`` faults point; any hit there is recorded as kind "other".
REDIRECT_TARGET: Final = "/api/v3/redirect-target"
NOT_FOUND: Final = "This customer does not exist."
_KEY_PREFIX: Final = CUSTOMER_PATH + "/external_key:"
_JSON_HEADERS: Final = {"Content-Type": _wire.JSON}
_DEFAULT_LIMIT: Final = 10  # ChargeOver's default page size
_MAX_LIMIT: Final = 500
_SIGNATURE_PARAM: Final = re.compile(r'(co_[a-z_]+)="([^"]*)"')
_LINGER_RST: Final = struct.pack("ii", 1, 0)
# Faults whose answer is a 2xx: they only make sense when the request succeeded. On a create
# that fails validation the normal 400 goes out instead and the fault does not fire.
_SUCCESS_SHAPED: Final = frozenset(
    {
        "truncated_201",
        "malformed_201",
        "empty_201",
        "noid_201",
        "stall_body_201",
        "oversized_201",
        "gzip_bomb_201",
    }
)
# Status and message of each fault that answers with a JSON error envelope.
_ERROR_ANSWERS: Final = {
    "500_before_commit": (500, "Internal server error."),
    "503_before_commit": (503, "Service temporarily unavailable."),
    "500_after_commit": (500, "Internal server error."),
    "503_after_commit": (503, "Service temporarily unavailable."),
    "500": (500, "Internal server error."),
    "503": (503, "Service temporarily unavailable."),
    "400": (400, INVALID),
    "401": (401, _wire.AUTH_WRONG),
    "403": (403, "Access denied: this API user may not use this endpoint."),
}
_GARBAGE: Final = b"XTTP/1.1 2O1 Cr\x00ated\r\nContent-Length: 0\r\n\r\n"


@attrs.frozen
class AuditEntry:
    """One request the sandbox received, and what it did with it.

    Attributes:
        method: The HTTP method.
        path: The request path, without the query.
        kind: ``create``, ``get``, ``lookup``, ``bulk`` or ``other``.
        status: The status sent, or None when no status line went out (reset, close, garbage,
            stall).
        fault: The fault that fired (``outage`` during an outage), or None.
        committed: Customers stored by this request.
        time: ``time.monotonic()`` when it arrived.
        query: The raw (still percent-encoded) query string, "" when none.
    """

    method: str
    path: str
    kind: str
    status: int | None
    fault: str | None
    committed: int
    time: float
    query: str = ""


class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` banked."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0 when granted, else the seconds until the next one."""
        now = time.monotonic()
        tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate


def _bucket(rate: float | None, burst: int | None) -> _Bucket | None:
    """Build the shared bucket from the settings (None: unlimited), checking them."""
    if rate is None:
        return None
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if burst is None:
        burst = max(1, math.ceil(rate))
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    return _Bucket(rate, burst)


def _classify(method: str, path: str, query: str) -> str:
    """The request kind (INTERFACES.md: a lookup is a GET with ``where`` or ``external_key:``)."""
    if path == CUSTOMER_PATH:
        if method == "POST":
            return "create"
        if method == "GET" and (query.startswith("where=") or "&where=" in query):
            return "lookup"
    elif path.startswith(CUSTOMER_PATH + "/") and method == "GET":
        tail = path[len(CUSTOMER_PATH) + 1 :]
        if tail.startswith("external_key:"):
            return "lookup"
        if _is_id(tail):
            return "get"
    elif path == BULK_PATH and method == "POST":
        return "bulk"
    return "other"


def _is_id(text: str) -> bool:
    """Whether a path segment is a customer id: ASCII digits only, of a sane length."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with these exact body bytes."""
    return web.Response(body=body, status=status, headers=headers or _JSON_HEADERS)


def _error(status: int, message: str, response: Any = False) -> web.Response:
    """An error envelope response (``response`` false on 4xx, as ChargeOver sends)."""
    return web.Response(
        body=_wire.envelope(status, response, message), status=status, headers=_JSON_HEADERS
    )


class Sandbox:
    """A local, stateful ChargeOver customer API that breaks on demand.

    Use it as ``async with Sandbox() as sb:`` (or ``await sb.start()`` / ``await sb.stop()``)
    and point a client at ``sb.base_url`` with ``sb.username`` / ``sb.password``. It serves
    the endpoints of chargeover-api.md with real envelopes, checks HTTP Basic and signature
    auth, throttles with a token bucket shared by all clients, and injects the faults of a
    SPEC (see :mod:`customer_sdk.sandbox`). Settings can change while it runs.

    Args:
        host: The address to bind.
        port: The port; 0 picks a free one.
        username: The API username; None makes a random one.
        password: The API password; None makes a random one.
        rate: Requests per second granted by the shared token bucket; None for no limit.
        burst: The bucket's size; None means ``ceil(rate)``.
        retry_after: How a rate-limit 429 states its wait: ``seconds`` (the ceiling of the
            wait for the next token), ``date`` (an HTTP-date) or ``none`` (no header).
        faults: The fault SPEC, or None.
        seed: Seeds the fault RNGs, so a SPEC plays out the same way each run.
        ssl_context: Serve HTTPS with this server context.
        stall_seconds: How long the ``stall`` faults hold.
        lookup_lag: Under the ``lag`` fault, customers stored less than this many seconds ago
            are invisible.
        signature_max_age: How far (seconds) a signature's timestamp may be from now.

    Raises:
        FaultSpecError: If ``faults`` does not parse.
        ValueError: On a bad ``rate``, ``burst`` or ``retry_after``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
        retry_after: Literal["seconds", "date", "none"] = "seconds",
        faults: str | None = None,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        stall_seconds: float = 5.0,
        lookup_lag: float = 0.5,
        signature_max_age: float = 300.0,
    ) -> None:
        if retry_after not in ("seconds", "date", "none"):
            raise ValueError(f"retry_after must be seconds, date or none, got {retry_after!r}")
        self.host = host
        self.port = port
        self.username = username if username is not None else "sandbox_" + secrets.token_hex(6)
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self.retry_after = retry_after
        self.seed = seed
        self.ssl_context = ssl_context
        self.stall_seconds = stall_seconds
        self.lookup_lag = lookup_lag
        self.signature_max_age = signature_max_age
        self.on_commit: Callable[[dict[str, Any]], None] | None = None
        self.audit: list[AuditEntry] = []
        self.counters: collections.Counter[str] = collections.Counter()
        self._store = Store()
        self._dealer = FaultDealer(parse_faults(faults), seed)
        self._bucket = _bucket(rate, burst)
        self._outage_until = 0.0
        self._user_b = self.username.encode()
        self._pass_b = self.password.encode()
        self._scheme = "https" if ssl_context is not None else "http"
        self._runner: web.ServerRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._base_url: str | None = None
        self._waiters: list[tuple[Callable[[AuditEntry], bool], asyncio.Future[AuditEntry]]] = []

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self._base_url!r}, username={self.username!r}, password=***)"

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with an SSL context).

        Raises:
            RuntimeError: Before :meth:`start`.
        """
        if self._base_url is None:
            raise RuntimeError("the sandbox is not running: await start() first")
        return self._base_url

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            RuntimeError: If already running.
            OSError: If the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping = asyncio.Event()
        server = web.Server(
            self._handle,
            handler_cancellation=False,
            access_log=None,  # per-request logging would cost more than the request
            max_line_size=65536,  # a 1 KB non-ASCII key is ~9 KB once percent-encoded
        )
        runner = web.ServerRunner(server, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(
                runner, self.host, self.port, ssl_context=self.ssl_context, backlog=1024
            )
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._base_url = f"{self._scheme}://{host}:{port}"

    async def stop(self) -> None:
        """Stop serving and close every connection; in-flight stalls end at once.

        A stalled create whose stall is cut short by the stop is not committed. Idempotent.
        """
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._stopping is not None:
            self._stopping.set()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start serving; return the sandbox."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()

    # --- introspection and settings ----------------------------------------------------------

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        """The stored customers by ``customer_id``, each as a GET returns it (live view)."""
        return self._store.customers

    def by_key(self, key: str) -> dict[str, Any] | None:
        """The stored customer with this ``external_key``.

        Args:
            key: The key.

        Returns:
            The customer object, or None (also when it was deleted).
        """
        return self._store.by_key(key)

    def delete(self, customer_id: int) -> None:
        """Delete a customer; its ``external_key`` stays reserved.

        A create with that key then gets a 400 while lookups find nothing (chargeover-api.md,
        "Idempotency").

        Args:
            customer_id: The id.

        Raises:
            KeyError: No such customer.
        """
        self._store.delete(customer_id)

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault plan; scripts restart and the RNGs are re-seeded with ``seed``.

        Args:
            spec: The new SPEC, or None for no faults.

        Raises:
            FaultSpecError: If it does not parse (the old plan stays).
        """
        self._dealer = FaultDealer(parse_faults(spec), self.seed)

    def set_rate(self, rate: float | None, burst: int | None = None) -> None:
        """Replace the shared token bucket (it starts full).

        Args:
            rate: Requests per second, or None for no limit.
            burst: The bucket size; None means ``ceil(rate)``.

        Raises:
            ValueError: On a non-positive rate or a burst below 1.
        """
        self._bucket = _bucket(rate, burst)

    def start_outage(self, seconds: float) -> None:
        """Answer every request with a 503 JSON envelope for ``seconds`` (F26).

        Args:
            seconds: How long, from now.
        """
        self._outage_until = time.monotonic() + seconds

    def end_outage(self) -> None:
        """End an outage now."""
        self._outage_until = 0.0

    async def wait_for_audit(self, predicate: Callable[[AuditEntry], bool]) -> AuditEntry:
        """Wait until an audit entry satisfies ``predicate`` (an existing one counts).

        Entries are checked when recorded and again when a late commit amends them, so this
        can await, e.g., the start of a stall or the moment a stalled commit lands. Put a
        timeout around it (``asyncio.timeout``).

        Args:
            predicate: Tests one entry.

        Returns:
            The first matching entry.
        """
        for entry in self.audit:
            if predicate(entry):
                return entry
        future: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await future
        finally:
            self._waiters.remove(waiter)

    def _notify(self, entry: AuditEntry) -> None:
        """Resolve the waiters of :meth:`wait_for_audit` that ``entry`` satisfies."""
        for predicate, future in self._waiters:
            if not future.done() and predicate(entry):
                future.set_result(entry)

    # --- the request path --------------------------------------------------------------------

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        kind: str,
        arrived: float,
        status: int | None,
        fault: str | None = None,
        committed: int = 0,
    ) -> AuditEntry:
        """Append one audit entry (and count a fault that fired)."""
        entry = AuditEntry(method, path, kind, status, fault, committed, arrived, query)
        self.audit.append(entry)
        if fault is not None:
            self.counters["faulted"] += 1
        if self._waiters:
            self._notify(entry)
        return entry

    def _amend(self, entry: AuditEntry, committed: int) -> None:
        """Replace an audit entry whose commit landed late (a stall), keeping its place."""
        new = attrs.evolve(entry, committed=committed)
        audit = self.audit
        for i in range(len(audit) - 1, -1, -1):
            if audit[i] is entry:
                audit[i] = new
                break
        if self._waiters:
            self._notify(new)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request: outage, auth, rate limit, fault, then the endpoint."""
        arrived = time.monotonic()
        method = request.method
        path, _, query = request.raw_path.partition("?")
        kind = _classify(method, path, query)
        counters = self.counters
        counters["requests"] += 1
        counters[kind] += 1
        body = b""
        if request.can_read_body:
            try:
                body = await request.read()
            except Exception:  # the client went away mid-body, or sent too much
                # Too much (over client_max_size) still gets its 400; a client that left gets
                # nothing, and the audit must say which (status None = no status line sent).
                transport = request.transport
                sent = transport is not None and not transport.is_closing()
                self._record(method, path, query, kind, arrived, 400 if sent else None)
                return _error(400, INVALID)
        if self._outage_until and arrived < self._outage_until:
            self._record(method, path, query, kind, arrived, 503, "outage")
            return _error(503, "Service temporarily unavailable.", None)
        problem = self._auth_problem(request, body)
        if problem is not None:
            self._record(method, path, query, kind, arrived, 401)
            return _error(401, problem)
        bucket = self._bucket
        if bucket is not None:
            wait = bucket.take()
            if wait > 0.0:
                counters["throttled"] += 1
                self._record(method, path, query, kind, arrived, 429)
                return self._throttled(self._rate_header(wait))
        fault = self._dealer.draw(kind) if kind != "other" else None
        rec = (method, path, query, kind, arrived)
        if fault is not None and fault.startswith("429@"):
            counters["throttled"] += 1
            self._record(*rec, 429, fault)
            return self._throttled(_wire.retry_after_value(fault[4:]))
        if kind == "create":
            return await self._create(request, body, fault, rec)
        if kind == "bulk":
            return await self._bulk(request, body, fault, rec)
        if kind in ("lookup", "get"):
            return await self._read(request, fault, rec)
        return self._other(method, path, query, rec)

    # --- auth --------------------------------------------------------------------------------

    def _auth_problem(self, request: web.BaseRequest, body: bytes) -> str | None:
        """None when authorized, else the 401 message (secrets compared in constant time)."""
        header = request.headers.get("Authorization")
        if not header:
            return _wire.AUTH_MISSING
        scheme, _, rest = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, sep, password = base64.b64decode(rest.strip(), validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return _wire.AUTH_WRONG
            ok_user = hmac.compare_digest(user, self._user_b)
            ok_pass = hmac.compare_digest(password, self._pass_b)
            return None if sep and ok_user and ok_pass else _wire.AUTH_WRONG
        if scheme == "chargeover":
            return self._signature_problem(request, rest, body)
        return _wire.AUTH_WRONG

    def _signature_problem(self, request: web.BaseRequest, params: str, body: bytes) -> str | None:
        """Verify the legacy signature (chargeover-api.md, "Signature auth")."""
        p = dict(_SIGNATURE_PARAM.findall(params))
        public, nonce, stamp, signature = (
            p.get("co_public_key"),
            p.get("co_nonce"),
            p.get("co_timestamp"),
            p.get("co_signature"),
        )
        if public is None or nonce is None or stamp is None or signature is None:
            return "Invalid or incorrect authorization [Missing signature parameters.]"
        try:
            age = abs(time.time() - float(stamp))
        except ValueError:
            age = math.inf
        if not age <= self.signature_max_age:
            return "Invalid or incorrect authorization [Request timestamp is out of range.]"
        # The exact URL as sent (query included), lowercased, and the exact body bytes.
        url = f"{self._scheme}://{request.host}{request.raw_path}".lower()
        message = b"||".join((_b(public), _b(url), _b(nonce), _b(stamp), body))
        expected = hmac.new(self._pass_b, message, hashlib.sha256).hexdigest().encode()
        ok_key = hmac.compare_digest(_b(public), self._user_b)
        ok_sig = hmac.compare_digest(_b(signature), expected)
        if ok_key and ok_sig:
            return None
        return "Invalid or incorrect authorization [Signature mismatch.]"

    # --- throttling --------------------------------------------------------------------------

    def _rate_header(self, wait: float) -> str | None:
        """The Retry-After of a rate-limit 429, per the ``retry_after`` setting."""
        if self.retry_after == "seconds":
            return _wire.seconds_header(wait)
        if self.retry_after == "date":
            return _wire.http_date(time.time() + max(1, math.ceil(wait)))
        return None

    @staticmethod
    def _throttled(retry_after: str | None) -> web.Response:
        """A 429 envelope response with this Retry-After (None: no header)."""
        headers = dict(_JSON_HEADERS)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = _wire.envelope(429, False, "Too many requests: the API rate limit was exceeded.")
        return web.Response(body=body, status=429, headers=headers)

    # --- socket-level actions ----------------------------------------------------------------

    @staticmethod
    def _reset(request: web.BaseRequest) -> web.Response:
        """Send a TCP RST: SO_LINGER 0, then abort (the response returned is never written)."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            transport.abort()
        return _gone()

    @staticmethod
    def _close(request: web.BaseRequest, data: bytes = b"") -> web.Response:
        """Write ``data`` (if any) straight on the socket, then close it with a FIN."""
        transport = request.transport
        if transport is not None:
            if data:
                transport.write(data)
            transport.close()
        return _gone()

    async def _hold(self, seconds: float) -> bool:
        """Wait ``seconds``; return False early if the sandbox stops meanwhile."""
        stopping = self._stopping
        if stopping is None or stopping.is_set():
            return False
        try:
            async with asyncio.timeout(seconds):
                await stopping.wait()
        except TimeoutError:
            return True
        return False

    # --- create and bulk ---------------------------------------------------------------------

    def _commit(self, payload: object) -> tuple[dict[str, Any] | None, str]:
        """Store one payload through the store; count it and call ``on_commit``."""
        obj, message = self._store.create(payload)
        if obj is not None:
            self.counters["committed"] += 1
            callback = self.on_commit
            if callback is not None:
                callback(obj)
        return obj, message

    def _create_one(self, body: bytes) -> tuple[dict[str, Any] | None, str]:
        """Parse and store the body of a create: the customer, or None and the 400 message."""
        if not body.strip():
            return None, NO_DATA
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, INVALID
        return self._commit(payload)

    async def _create(
        self,
        request: web.BaseRequest,
        body: bytes,
        fault: str | None,
        rec: tuple[str, str, str, str, float],
    ) -> web.StreamResponse:
        """``POST /api/v3/customer`` under an optional fault."""
        if fault is not None:
            early = await self._early(
                request, fault, rec, lambda: int(self._create_one(body)[0] is not None)
            )
            if early is not None:
                return early
        obj, message = self._create_one(body)
        if obj is None:
            if fault is None or fault in _SUCCESS_SHAPED:
                self._record(*rec, 400)
                return _error(400, message)
            return await self._after_commit(
                request, fault, rec, 0, 400, _wire.envelope(400, False, message), {}
            )
        cid = obj["customer_id"]
        ok = b'{"code":201,"status":"OK","message":"","details":{},"response":{"id":%d}}' % cid
        location = {"Location": f"{self._base_url}{CUSTOMER_PATH}/{cid}"}
        if fault is None:
            self._record(*rec, 201, None, 1)
            return web.Response(
                body=ok, status=201, headers={"Content-Type": _wire.JSON, **location}
            )
        return await self._after_commit(request, fault, rec, 1, 201, ok, location)

    async def _early(
        self,
        request: web.BaseRequest,
        fault: str,
        rec: tuple[str, str, str, str, float],
        commit: Callable[[], int],
    ) -> web.StreamResponse | None:
        """The answer to a fault that strikes before the normal commit, or None.

        ``stall`` holds the connection for ``stall_seconds``, then runs ``commit`` (which stores
        the request's customers and returns how many) so the commit lands after the client gave
        up (F7), then closes without an answer.
        """
        early = self._before_commit(request, fault, rec)
        if early is not None or fault != "stall":
            return early
        entry = self._record(*rec, None, fault)
        if await self._hold(self.stall_seconds):
            committed = commit()
            if committed:
                self._amend(entry, committed)
        return self._close(request)

    def _before_commit(
        self, request: web.BaseRequest, fault: str, rec: tuple[str, str, str, str, float]
    ) -> web.StreamResponse | None:
        """Faults that strike before anything is stored (None: not one of them)."""
        if fault == "reset_before_commit":
            self._record(*rec, None, fault)
            return self._reset(request)
        if fault in ("500_before_commit", "503_before_commit", "400", "401", "403"):
            status, message = _ERROR_ANSWERS[fault]
            self._record(*rec, status, fault)
            return _error(status, message, None if status >= 500 else False)
        if fault in ("502_html", "504_html"):
            status = int(fault[:3])
            self._record(*rec, status, fault)
            reason = "Bad Gateway" if status == 502 else "Gateway Timeout"
            page = _wire.html_page(status, reason)
            return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
        if fault.startswith("redirect_"):
            status = int(fault[-3:])
            self._record(*rec, status, fault)
            return web.Response(status=status, headers={"Location": REDIRECT_TARGET})
        return None

    async def _after_commit(
        self,
        request: web.BaseRequest,
        fault: str,
        rec: tuple[str, str, str, str, float],
        committed: int,
        status: int,
        body: bytes,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        """Faults that strike once the request has been processed.

        ``status`` and ``body`` are the answer the request would have had without the fault.
        """
        if fault == "reset_after_commit":
            self._record(*rec, None, fault, committed)
            return self._reset(request)
        if fault == "close_after_commit":
            self._record(*rec, None, fault, committed)
            return self._close(request)
        if fault == "garbage_status":
            self._record(*rec, None, fault, committed)
            return self._close(request, _GARBAGE)
        if fault in ("500_after_commit", "503_after_commit"):
            code, message = _ERROR_ANSWERS[fault]
            self._record(*rec, code, fault, committed)
            return _error(code, message, None)
        # The rest are 2xx-shaped: the status line of success, the body broken.
        self._record(*rec, status, fault, committed)
        head = {"Content-Type": _wire.JSON, **headers}
        if fault == "truncated_201":
            head["Content-Length"] = str(len(body))
            return self._close(request, _wire.raw_head(status, head) + body[: len(body) // 2])
        if fault == "stall_body_201":
            head["Content-Length"] = str(len(body))
            transport = request.transport
            if transport is not None:
                transport.write(_wire.raw_head(status, head) + body[: len(body) // 2])
            await self._hold(self.stall_seconds)
            return self._close(request)
        if fault == "malformed_201":
            return _json(status, body[:-2] + b",}", head)
        if fault == "empty_201":
            return web.Response(body=b"", status=status, headers=head)
        if fault == "noid_201":
            return _json(status, _wire.envelope(status, {}), head)
        if fault == "oversized_201":
            big = _wire.oversized_body()
            head["Content-Length"] = str(len(big))
            return self._close(request, _wire.raw_head(status, head) + big)
        if fault == "gzip_bomb_201":
            bomb = _wire.gzip_bomb()
            head["Content-Encoding"] = "gzip"
            head["Content-Length"] = str(len(bomb))
            return self._close(request, _wire.raw_head(status, head) + bomb)
        raise AssertionError(f"unhandled fault {fault!r}")  # parse_faults admits no other

    async def _bulk(
        self,
        request: web.BaseRequest,
        body: bytes,
        fault: str | None,
        rec: tuple[str, str, str, str, float],
    ) -> web.StreamResponse:
        """``POST /api/v3/_bulk`` under an optional fault (a success is a 200)."""
        if fault is not None:
            early = await self._early(request, fault, rec, lambda: self._bulk_run(body)[2])
            if early is not None:
                return early
        status, answer, committed = self._bulk_run(body)
        if fault is None or (status != 200 and fault in _SUCCESS_SHAPED):
            self._record(*rec, status, None, committed)
            return _json(status, answer)
        return await self._after_commit(request, fault, rec, committed, status, answer, {})

    def _bulk_run(self, body: bytes) -> tuple[int, bytes, int]:
        """Run a ``_bulk`` body: (status, envelope bytes, customers stored)."""
        if not body.strip():
            return 400, _wire.envelope(400, False, NO_DATA), 0
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, _wire.envelope(400, False, INVALID), 0
        if not isinstance(items, list):
            return 400, _wire.envelope(400, False, INVALID), 0
        if not items:
            return 400, _wire.envelope(400, False, NO_DATA), 0
        if len(items) > MAX_BULK:
            message = f"Too many requests in one bulk call: the limit is {MAX_BULK}."
            return 400, _wire.envelope(400, False, message), 0
        results: list[dict[str, Any]] = []
        committed = 0
        for item in items:  # each item succeeds or fails on its own (chargeover-api.md, "Bulk")
            result = self._bulk_item(item)
            if result["code"] == 201:
                committed += 1
            results.append(result)
        return 200, _wire.envelope(200, {"_bulk": results}), committed

    def _bulk_item(self, item: object) -> dict[str, Any]:
        """Run one ``_bulk`` item; return its ``{code, status, message, response}``."""
        if isinstance(item, dict):
            method = str(item.get("request_method", "")).upper()
            uri = item.get("uri")
            if method == "POST" and uri in (CUSTOMER_PATH, CUSTOMER_PATH[len("/api/v3") :]):
                obj, message = self._commit(item.get("payload"))
                if obj is not None:
                    cid = obj["customer_id"]
                    return {"code": 201, "status": "OK", "message": "", "response": {"id": cid}}
                return {"code": 400, "status": "Error", "message": message, "response": False}
            if method == "GET" and isinstance(uri, str) and uri.startswith(CUSTOMER_PATH + "/"):
                tail = uri[len(CUSTOMER_PATH) + 1 :]
                obj = self._store.customers.get(int(tail)) if _is_id(tail) else None
                if obj is not None:
                    return {"code": 200, "status": "OK", "message": "", "response": obj}
                return {"code": 404, "status": "Error", "message": NOT_FOUND, "response": None}
        return {"code": 400, "status": "Error", "message": INVALID, "response": False}

    # --- reads -------------------------------------------------------------------------------

    async def _read(
        self, request: web.BaseRequest, fault: str | None, rec: tuple[str, str, str, str, float]
    ) -> web.StreamResponse:
        """A lookup or GET by id under an optional fault."""
        if fault == "reset":
            self._record(*rec, None, fault)
            return self._reset(request)
        if fault in ("500", "503"):
            status, message = _ERROR_ANSWERS[fault]
            self._record(*rec, status, fault)
            return _error(status, message, None)
        if fault == "stall":
            self._record(*rec, None, fault)
            await self._hold(self.stall_seconds)
            return self._close(request)
        _, path, query, kind, _ = rec
        lag = self.lookup_lag if fault == "lag" else 0.0
        status, body = self._lookup(path, query, lag) if kind == "lookup" else self._get(path, lag)
        self._record(*rec, status, fault)
        if fault == "truncated_200" and status == 200:
            head = {"Content-Type": _wire.JSON, "Content-Length": str(len(body))}
            return self._close(request, _wire.raw_head(status, head) + body[: len(body) // 2])
        return _json(status, body)

    def _get(self, path: str, lag: float) -> tuple[int, bytes]:
        """``GET /api/v3/customer/{id}``: (status, envelope bytes)."""
        cid = int(path[len(CUSTOMER_PATH) + 1 :])
        obj = self._store.customers.get(cid)
        if obj is None or (lag > 0 and not self._store.visible(cid, lag)):
            return 404, _wire.envelope(404, None, NOT_FOUND)
        return 200, _wire.envelope(200, obj)

    def _lookup(self, path: str, query: str, lag: float) -> tuple[int, bytes]:
        """A ``where`` query or the ``external_key:`` path form: (status, envelope bytes)."""
        if path.startswith(_KEY_PREFIX):
            obj = self._store.by_key(unquote(path[len(_KEY_PREFIX) :]))
            if obj is None or (lag > 0 and not self._store.visible(obj["customer_id"], lag)):
                return 404, _wire.envelope(404, None, NOT_FOUND)
            return 200, _wire.envelope(200, obj)
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            clauses = parse_where(params["where"]) if params.get("where") else []
            order = parse_order(params.get("order"))
            limit = int(params.get("limit") or _DEFAULT_LIMIT)
            offset = int(params.get("offset") or 0)
        except (WhereError, ValueError):
            return 400, _wire.envelope(400, False, INVALID)
        if not (0 < limit <= _MAX_LIMIT and offset >= 0):
            return 400, _wire.envelope(400, False, INVALID)
        rows = self._store.query(clauses, order=order, limit=limit, offset=offset, lag=lag)
        return 200, _wire.envelope(200, rows)

    def _other(
        self, method: str, path: str, query: str, rec: tuple[str, str, str, str, float]
    ) -> web.StreamResponse:
        """A plain listing, or the 400 of an unknown endpoint (the redirect target too)."""
        if method == "GET" and path == CUSTOMER_PATH:  # a plain listing, no where filter
            status, body = self._lookup(path, query, 0.0)
            self._record(*rec, status)
            return _json(status, body)
        # Unknown endpoints (the redirect target included) are a 400 (chargeover-api.md, "Errors").
        self._record(*rec, 400)
        return _error(400, INVALID)


def _b(text: str) -> bytes:
    """Header text back to bytes, whatever it holds (a hostile header must not raise)."""
    return text.encode("utf-8", "surrogatepass")


def _gone() -> web.Response:
    """What the handler returns once it closed the socket itself.

    aiohttp finds the transport closing, drops the response quietly (a premature-disconnect
    debug line, no traceback) and moves on.
    """
    return web.Response(status=204)
