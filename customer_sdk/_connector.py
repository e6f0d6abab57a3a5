"""The transport's TCP connector: aiohttp's, telling when a request has its connection.

Until a request holds a connection nothing of it can have left, so a timeout before then is
"not sent", never ambiguous (docs/faults.md F28); the watchdog (:mod:`._watchdog`) restarts the
request's clock at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import aiohttp

__all__ = ["ReportingConnector"]


class ReportingConnector(aiohttp.TCPConnector):
    """A TCP connector that reports the moment a request has its connection.

    Until then nothing of the request can have left: it was queued for a pooled connection or
    still connecting. An aiohttp ``TraceConfig`` gives the same moment
    (``on_connection_create_end``/``on_connection_reuseconn``), but a trace costs every request
    a dozen signal coroutines even when nobody listens; this costs one call.

    Args:
        on_connected: Called in the request's task once it holds a connection (the
            watchdog's :meth:`~customer_sdk._watchdog.Watchdog.connected`).
        **kwargs: ``aiohttp.TCPConnector``'s arguments.
    """

    def __init__(self, on_connected: Callable[[], None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._on_connected = on_connected

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> aiohttp.connector.Connection:
        """Get a connection as aiohttp does, then report it (see the class docstring)."""
        conn = await _tcp_connect(self, req, traces, timeout)
        self._on_connected()
        return conn


# Looked up once rather than through super() on every request.
_tcp_connect: Final = aiohttp.TCPConnector.connect
