"""The sandbox's server lifecycle: bind a port, serve the handler, stop and cut stalls short.

One low-level ``aiohttp.web.Server`` (no router, no access log: the sandbox must sustain
thousands of requests a second) runs the :class:`~customer_sdk.sandbox._handler.Handler`. A
stop sets the state's stop signal first, so stalled requests end at once, uncommitted, and then
closes every connection. This module does not answer requests.
"""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web

from customer_sdk.sandbox._handler import Handler
from customer_sdk.sandbox._state import State

__all__ = ["App"]


class App:
    """Serves one sandbox state over HTTP(S).

    Args:
        state: The sandbox state (its stop signal and base URL are set here).
    """

    __slots__ = ("_handler", "_runner", "_state")

    def __init__(self, state: State) -> None:
        self._state = state
        self._handler = Handler(state)
        self._runner: web.ServerRunner | None = None

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        """Bind and start serving; the state's ``base_url`` then names the bound address.

        Args:
            host: The address to bind.
            port: The port; 0 picks a free one.
            ssl_context: Serve HTTPS with this server context, or None for HTTP.

        Raises:
            RuntimeError: If already running.
            OSError: If the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        self._state.stopping = asyncio.Event()
        server = web.Server(
            self._handler,
            handler_cancellation=False,
            access_log=None,  # per-request logging would cost more than the request
            max_line_size=65536,  # a 1 KB non-ASCII key is ~9 KB once percent-encoded
        )
        runner = web.ServerRunner(server, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=1024)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._state.base_url = f"{self._state.scheme}://{shown}:{bound}"

    async def stop(self) -> None:
        """Stop serving and close every connection; in-flight stalls end at once. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._state.stopping is not None:
            self._state.stopping.set()
        await runner.cleanup()
