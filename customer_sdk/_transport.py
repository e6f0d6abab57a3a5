"""The only aiohttp client code: send one built request, return the whole response.

aiohttp's exceptions are translated here, in one place, into the SDK's transport errors. They are
never chained: aiohttp's ``ClientResponseError`` repr prints the request headers, Authorization
included (docs/faults.md, "Secrets and hostile input"), so the SDK error is raised outside the
``except`` block and carries only the original's type name and a safe message. Redirects are
never followed (aiohttp re-POSTs the body on a 307), cookies are never stored, and a response body
is read up to a cap so an oversized or gzip-bomb body cannot exhaust memory. A request's total
time is enforced by one watchdog timer shared by every request in flight, not by aiohttp's
per-request timer (the costliest part of an aiohttp request). Time spent waiting for a pooled
connection never makes a request ambiguous: the pool wait has its own bound, and a request that
ran out of time before it had a connection is "not sent" (docs/faults.md F28). This module makes
no retry decision.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from typing import Final

import aiohttp
from aiohttp.payload import BytesPayload
from multidict import CIMultiDict
from yarl import URL

from customer_sdk import errors
from customer_sdk._connector import ReportingConnector
from customer_sdk._protocol import HttpRequest, HttpResponse
from customer_sdk._secrets import NO_SECRETS, Secrets
from customer_sdk._watchdog import Watchdog

__all__ = ["AiohttpTransport"]

_READ_CHUNK = 1 << 16
# Every body the SDK sends is a JSON document (docs/chargeover-api.md, "Create" and
# "Bulk").
_JSON: Final = "application/json"


class AiohttpTransport:
    """Moves bytes over one pooled aiohttp session.

    The session is created lazily on the first request (so a client may be built outside a
    running loop) and closed by :meth:`aclose` unless the caller supplied it.

    Args:
        session: A caller-owned session to use instead of making one.
        headers: Headers for every request (Accept, User-Agent, a static Authorization).
        timeout: Seconds one request may take in all.
        connect_timeout: Seconds to open a connection (a failure then proves nothing was sent).
        max_connections: Size of the connection pool.
        ssl_context: TLS settings: True (verify with system CAs), an ``ssl.SSLContext``, or
            False (no verification; the client refuses it unless explicitly allowed).
        max_response_bytes: The most body bytes read (after decompression).
        secrets: The credentials sent, stamped on every response so that any text taken from
            it is scrubbed of them (:mod:`customer_sdk._secrets`).
        proxy: An HTTP(S) proxy URL every request goes through, or None.
        trust_env: Read proxies (``HTTPS_PROXY``, ``NO_PROXY``...) and ``.netrc`` from the
            environment, as aiohttp does with ``trust_env=True``.
        trace_configs: aiohttp ``TraceConfig`` objects for our session (e.g. OpenTelemetry).

    Attributes:
        secrets: The same.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        headers: Mapping[str, str],
        timeout: float,
        connect_timeout: float,
        max_connections: int,
        ssl_context: ssl.SSLContext | bool,
        max_response_bytes: int,
        secrets: Secrets = NO_SECRETS,
        proxy: str | None = None,
        trust_env: bool = False,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.secrets = secrets
        self._session = session
        self._owns_session = session is None
        self._headers = CIMultiDict(headers)
        # Our own session carries them as its defaults, which aiohttp copies into a request in
        # one C call; on a caller's session they go with each request (slower, and rarer).
        self._per_request: CIMultiDict[str] | None = None if session is None else self._headers
        self._timeout = timeout
        self._max_connections = max_connections
        self._ssl = ssl_context
        self._max_bytes = max_response_bytes
        # aiohttp times the connect only: the request's total time is the watchdog's.
        self._connect_only = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
        self._proxy = proxy
        self._trust_env = trust_env
        self._trace_configs = list(trace_configs)
        self._watchdog: Watchdog | None = None
        self._closed = False
        # The create and _bulk URLs never change: parse them once, not per request.
        self._url_cache: dict[str, URL] = {}

    def _make_session(self, watchdog: Watchdog) -> aiohttp.ClientSession:
        connector = ReportingConnector(
            watchdog.connected, limit=self._max_connections, ssl=self._ssl
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._connect_only,
            cookie_jar=aiohttp.DummyCookieJar(),
            proxy=self._proxy,
            trust_env=self._trust_env,
            trace_configs=self._trace_configs or None,
        )
        # aiohttp silently sends a GET a second time when the connection resets or closes
        # under it. That retry skips the limiter, the backoff and the attempt budget (a reset
        # lookup cost two requests per attempt), so it is switched off: the client's own loop
        # retries, counted. The attribute is private; aiohttp's test client sets it the same way.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the session if this transport made it; idempotent."""
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _url(self, url: str) -> URL:
        cached = self._url_cache.get(url)
        if cached is None:
            # encoded=True: the protocol layer percent-encoded the query already, and the
            # signature covers the URL exactly as sent.
            cached = URL(url, encoded=True)
            if "?" not in url and len(self._url_cache) < 8:
                self._url_cache[url] = cached
        return cached

    async def send(
        self,
        request: HttpRequest,
        headers: CIMultiDict[str] | None,
        time_left: float | None,
        request_timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole response.

        The request's time runs twice: first while it waits for a pooled connection (a timeout
        there is a :class:`ConnectError`, nothing sent), then anew once it has one. On a
        caller's session the connection is not reported, and one clock covers both.

        Args:
            request: The built request.
            headers: Headers for this request only (a per-request Authorization), if any.
            time_left: Seconds left in the caller's deadline; the request's total timeout is cut
                to it when shorter than the default. None for no deadline.
            request_timeout: This request's timeout, instead of the transport's.

        Returns:
            The response; any status (the protocol layer interprets it).

        Raises:
            ConnectError: The connection could not be opened, or no pooled connection came
                free in time; nothing was sent.
            TLSError: The TLS handshake failed.
            RequestTimeoutError: No complete answer in time.
            ConnectionLostError: The connection broke after sending, or a 2xx body was larger
                than the cap; ``status`` is set when headers had arrived.
            ChargeOverError: If the client is closed, or closed while this request waited
                for a pooled connection.
            RuntimeError: Called outside an asyncio task.
        """
        watchdog = self._watchdog
        if watchdog is None:
            watchdog = self._watchdog = Watchdog(asyncio.get_running_loop())
        session = self._session
        if session is None:  # aclose() drops the session: None is also how "closed" shows here
            if self._closed:
                raise errors.ChargeOverError("the client is closed")
            session = self._session = self._make_session(watchdog)
        limit = self._timeout if request_timeout is None else request_timeout
        seconds = limit if time_left is None or time_left >= limit else time_left
        seconds = max(seconds, 0.001)
        url = self._url_cache.get(request.url) or self._url(request.url)
        if self._per_request is not None:
            merged = self._per_request.copy()
            if headers is not None:
                merged.update(headers)
            headers = merged
        # A ready payload carries its Content-Type: aiohttp neither looks the body's type up
        # nor merges one more header into the request's.
        data = None if request.body is None else BytesPayload(request.body, content_type=_JSON)
        status: int | None = None
        failure: errors.ChargeOverError
        # Our connector reports the connection, and the clock restarts there; on a caller's
        # session one clock covers the pool wait and the request.
        task = watchdog.start(seconds, limit if self._owns_session else None, time_left)
        cancelling = task.cancelling()
        try:
            # Awaited rather than entered with ``async with``: read() returns only once the
            # body is in and the request writer has finished, so the context manager's exit
            # (release, then wait for that writer) has nothing left to do but cost a coroutine.
            resp = await session.request(
                request.method,
                url,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=self._connect_only,
            )
            try:
                status = resp.status
                length = resp.content_length
                if (
                    length is not None
                    and length <= self._max_bytes
                    and "Content-Encoding" not in resp.headers
                ):
                    body = await resp.read()  # the common case: a small, plain, sized body
                else:
                    body = await self._read_capped(resp)
            finally:
                resp.release()  # after a complete read a no-op; otherwise frees the connection
            return HttpResponse(status, resp.headers, body, self.secrets)
        except asyncio.CancelledError:
            if watchdog.timed_out(task, cancelling):
                if watchdog.unsent(task):
                    # Queued for a pooled connection (or still connecting) the whole time:
                    # nothing left, so this is a clean "not sent" (docs/faults.md F28).
                    failure = errors.ConnectError(
                        f"no connection within {seconds:.3g} s (pool busy): not sent"
                    )
                else:
                    failure = errors.RequestTimeoutError(
                        "timed out waiting for the response", status=status
                    )
            elif self._closed and task.cancelling() <= cancelling:
                # Nobody cancelled this task: closing the session cancels the futures of the
                # requests still waiting for a pooled connection. A bare CancelledError would
                # read as the caller's own cancel; it is the client being closed.
                failure = errors.ChargeOverError(
                    "the client was closed while this request waited for a connection"
                )
            else:
                raise  # the caller's cancel, not this request's deadline
        except aiohttp.ClientSSLError as exc:
            failure = errors.TLSError(f"TLS failure: {_describe(exc)}")
        except aiohttp.ClientConnectorError as exc:
            failure = errors.ConnectError(f"cannot connect: {_describe(exc)}")
        except aiohttp.ConnectionTimeoutError:
            failure = errors.ConnectError("connect timed out")
        except TimeoutError:  # the builtin, which aiohttp's timeout errors derive from
            failure = errors.RequestTimeoutError(
                "timed out waiting for the response", status=status
            )
        except aiohttp.ClientResponseError as exc:
            # A garbage status line or broken headers: the request was sent in full.
            failure = errors.ConnectionLostError(
                f"invalid HTTP response ({type(exc).__name__})", status=status
            )
        except (aiohttp.ClientError, OSError) as exc:
            failure = errors.ConnectionLostError(
                f"connection lost: {_describe(exc)}", status=status
            )
        finally:
            watchdog.stop(task)
        try:
            raise failure
        finally:
            # The error's traceback holds this frame: a local still naming the error would be
            # a reference cycle that only the collector frees (tests/test_gc_cycles.py).
            del failure

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(_READ_CHUNK):
            total += len(chunk)
            if total > self._max_bytes:
                resp.close()  # drop the connection: the rest of the body is never read
                if 200 <= resp.status < 300:
                    raise errors.ConnectionLostError(
                        f"response body over {self._max_bytes} bytes: not read", status=resp.status
                    )
                # An error status only needs its message: keep the head of the body.
                chunks.append(chunk)
                break
            chunks.append(chunk)
        return b"".join(chunks)[: self._max_bytes]


def _describe(exc: BaseException) -> str:
    # Only the type and OS-level text: never str() of objects that may embed request headers.
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{type(exc).__name__}: {exc.host}:{exc.port}"
    return type(exc).__name__
