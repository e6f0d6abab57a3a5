"""What the sandbox answers with: aiohttp responses, and the acts that break the socket itself.

The JSON answers carry ChargeOver's envelope (built by :mod:`customer_sdk.sandbox._wire`); the
socket acts send a TCP RST, or write raw bytes and close with a FIN, so a client sees exactly the
failure a fault names. Each message says where its text comes from: docs/chargeover-api.md when
ChargeOver documents or was recorded sending it, ``invented:`` when not. This module decides
nothing about which request gets which answer.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any, Final

from aiohttp import web

from customer_sdk.sandbox import _wire
from customer_sdk.sandbox._store import INVALID

__all__ = [
    "ERROR_ANSWERS",
    "GARBAGE",
    "NOT_FOUND",
    "REDIRECT_TARGET",
    "SERVER_ERROR",
    "THROTTLED",
    "UNAVAILABLE",
    "close",
    "error_response",
    "gone",
    "json_response",
    "reset",
    "throttled_response",
]

#: Where the ``redirect_3xx`` faults point; any hit there is recorded as kind "other".
REDIRECT_TARGET: Final = "/api/v3/redirect-target"
# cited: ChargeOver's recorded 404 of an unknown id, ``response: null``
# (tests/recordings/get_404.json; docs/chargeover-api.md, "Errors").
NOT_FOUND: Final = "This customer does not exist."
# invented: ChargeOver documents no 5xx or 429 message text (docs/chargeover-api.md, "Errors").
SERVER_ERROR: Final = "Internal server error."
UNAVAILABLE: Final = "Service temporarily unavailable."
THROTTLED: Final = "Too many requests: the API rate limit was exceeded."
# invented: ChargeOver's 403 text is not recorded (nor is a 403 documented).
_FORBIDDEN: Final = "Access denied: this API user may not use this endpoint."

#: Status and message of each fault that answers with a JSON error envelope.
ERROR_ANSWERS: Final = {
    "500_before_commit": (500, SERVER_ERROR),
    "503_before_commit": (503, UNAVAILABLE),
    "500_after_commit": (500, SERVER_ERROR),
    "503_after_commit": (503, UNAVAILABLE),
    "500": (500, SERVER_ERROR),
    "503": (503, UNAVAILABLE),
    "400": (400, INVALID),  # cited: documented (docs/chargeover-api.md, "Errors")
    "401": (401, _wire.AUTH_WRONG),
    "403": (403, _FORBIDDEN),
}
#: invented: the ``garbage_status`` fault's line, which is not an HTTP status line.
GARBAGE: Final = b"XTTP/1.1 2O1 Cr\x00ated\r\nContent-Length: 0\r\n\r\n"

_JSON_HEADERS: Final = {"Content-Type": _wire.JSON}
_LINGER_RST: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with these exact body bytes.

    Args:
        status: The HTTP status.
        body: The body bytes, sent as they are.
        headers: The headers; None means just the JSON Content-Type.

    Returns:
        The response.
    """
    return web.Response(body=body, status=status, headers=headers or _JSON_HEADERS)


def error_response(status: int, message: str, response: Any = False) -> web.Response:
    """An error envelope response.

    Args:
        status: The HTTP status (the envelope's ``code`` too).
        message: The envelope's ``message``.
        response: The envelope's ``response``: false on a 4xx, as ChargeOver sends
            (docs/chargeover-api.md, "The envelope"); None on a 5xx.

    Returns:
        The response.
    """
    body = _wire.envelope(status, response, message)
    return web.Response(body=body, status=status, headers=_JSON_HEADERS)


def throttled_response(retry_after: str | None) -> web.Response:
    """A 429 envelope response.

    Args:
        retry_after: The Retry-After header value, or None for no header.

    Returns:
        The response.
    """
    headers = dict(_JSON_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return web.Response(body=_wire.envelope(429, False, THROTTLED), status=429, headers=headers)


def reset(request: web.BaseRequest) -> web.Response:
    """Send a TCP RST: SO_LINGER 0, then abort.

    Args:
        request: The request whose connection to reset.

    Returns:
        :func:`gone` (never written: the socket is gone).
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        transport.abort()
    return gone()


def close(request: web.BaseRequest, data: bytes = b"") -> web.Response:
    """Write ``data`` (if any) straight on the socket, then close it with a FIN.

    Args:
        request: The request whose connection to close.
        data: Raw bytes to write first (a response head, a cut body, garbage).

    Returns:
        :func:`gone` (never written: the socket is closing).
    """
    transport = request.transport
    if transport is not None:
        if data:
            transport.write(data)
        transport.close()
    return gone()


def gone() -> web.Response:
    """What a handler returns once it closed the socket itself.

    aiohttp finds the transport closing, drops the response quietly (a premature-disconnect
    debug line, no traceback) and moves on.

    Returns:
        A placeholder 204 response.
    """
    return web.Response(status=204)
