"""The bytes the sandbox answers with: ChargeOver envelopes, proxy pages and broken bodies.

Envelopes follow docs/chargeover-api.md, "The envelope": ``{"code", "status", "message", "details",
"response"}`` with ``response`` false on 400/401, null on 404. The broken bodies (a proxy's HTML
page, a gzip bomb, an 8 MiB 201, a raw response head) are built here once and reused. This module
does no I/O and decides nothing about when a fault happens.
"""

from __future__ import annotations

import email.utils
import functools
import math
import time
import zlib
from typing import Any, Final

import orjson

__all__ = [
    "AUTH_MISSING",
    "AUTH_WRONG",
    "JSON",
    "envelope",
    "gzip_bomb",
    "html_page",
    "http_date",
    "oversized_body",
    "raw_head",
    "retry_after_value",
    "seconds_header",
]

JSON: Final = "application/json"
# cited: the documented 401 text of a missing header (docs/chargeover-api.md, "Errors": [S2],
# [S7]).
AUTH_MISSING: Final = "Invalid or incorrect authorization [Missing (basic) authorization header.]"
# invented: the wrong-credentials text is not recorded; it keeps the documented shape.
AUTH_WRONG: Final = "Invalid or incorrect authorization [Invalid username or password.]"

_REASONS: Final = {
    200: "OK",
    201: "Created",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def envelope(code: int, response: Any, message: str = "") -> bytes:
    """Serialise one ChargeOver envelope.

    Args:
        code: The HTTP status (ChargeOver's ``code`` equals it).
        response: The ``response`` member.
        message: The ``message`` member.

    Returns:
        The JSON bytes.
    """
    return orjson.dumps(
        {
            "code": code,
            "status": "OK" if code < 400 else "Error",
            "message": message,
            "details": {},
            "response": response,
        }
    )


def raw_head(status: int, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 response head, for faults that write bytes on the socket themselves.

    Args:
        status: The status code.
        headers: Header names and values (Content-Length included by the caller).

    Returns:
        The status line and headers, ending with the blank line.
    """
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_date(unix: float) -> str:
    """Format an HTTP-date (RFC 9110, GMT).

    Args:
        unix: Unix seconds.

    Returns:
        E.g. ``Wed, 25 Nov 2026 14:00:00 GMT``.
    """
    return email.utils.formatdate(unix, usegmt=True)


def retry_after_value(spec: str) -> str | None:
    """The ``Retry-After`` header a ``429@V`` fault sends (docs/faults.md, F14).

    Args:
        spec: ``V``: ``none`` (no header), ``date+N`` / ``date-N`` (an HTTP-date N seconds
            from now), anything else verbatim (``0``, ``-1``, ``inf``, ``nan``, ``junk``...).

    Returns:
        The header value, or None for no header.
    """
    if spec == "none":
        return None
    if spec.startswith(("date+", "date-")):
        return http_date(time.time() + float(spec[4:]))
    return spec


def seconds_header(wait: float) -> str:
    """Retry-After in whole seconds: the ceiling of the wait, at least 1.

    Args:
        wait: Seconds until the next token.

    Returns:
        The header value.
    """
    return str(max(1, math.ceil(wait)))


# A proxy's error page: long, styled, scripted, not JSON (docs/faults.md, F13).
_HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>@CODE@ @REASON@</title>\n<style>\n"
    + "body { font-family: sans-serif; margin: 4em; color: #333 } .x { display: none }\n" * 40
    + "</style>\n<script>var telemetry = { id: 'edge-7', retry: true };"
    + " /* analytics */\n" * 40
    + "</script></head>\n<body><h1>@CODE@ @REASON@</h1>\n"
    + "<p>The upstream server did not answer correctly. Please try again later.</p>\n"
    + "<!-- padding -->\n" * 200
    + "<hr><address>edge-proxy/1.24 (sandbox)</address></body></html>\n"
)


def html_page(code: int, reason: str) -> str:
    """A proxy's long error page (the ``502_html`` / ``504_html`` faults, docs/faults.md F13).

    Args:
        code: The status code.
        reason: Its reason phrase.

    Returns:
        The HTML text (several KB: styles, a script, padding).
    """
    return _HTML_PAGE.replace("@CODE@", str(code)).replace("@REASON@", reason)


@functools.cache
def oversized_body(size: int = 8 << 20) -> bytes:
    """A 201 envelope padded to ``size`` bytes (the ``oversized_201`` fault, docs/faults.md F20).

    Args:
        size: The body size in bytes.

    Returns:
        Valid JSON of exactly ``size`` bytes (cached).
    """
    head = b'{"code":201,"status":"OK","message":"","details":{"pad":"'
    tail = b'"},"response":{"id":0}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@functools.cache
def gzip_bomb(inflated: int = 100 << 20) -> bytes:
    """A small gzip body that inflates to ``inflated`` bytes (docs/faults.md F20).

    The body of the ``gzip_bomb_201`` fault.

    Args:
        inflated: The inflated size (at least 100 MiB by default).

    Returns:
        The gzip bytes (about 100 KiB; cached, built without holding the inflated data).
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    chunk = b" " * (1 << 20)
    parts = [comp.compress(b'{"code":201,"status":"OK","message":"","response":{"id":0}}')]
    for _ in range(inflated // len(chunk) + 1):
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    return b"".join(parts)
