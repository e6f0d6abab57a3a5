"""A response and its envelope: :class:`HttpResponse`, the tolerant envelope parse, body excerpts.

Every answer of ChargeOver is deciphered from these (docs/chargeover-api.md, "The envelope"):
the status, the ``code``/``message``/``details``/``response`` object that may lack any field,
and, for a body that is no JSON at all (a proxy's HTML page), a short tag-stripped excerpt.
Kept apart from what is made of them (:mod:`._status`, :mod:`._answers`, :mod:`._bulk_items`)
because every one of those reads an answer through these few functions.

This is where a server's text first enters the SDK, so every text taken from a response goes
through the response's :class:`~customer_sdk._secrets.Secrets` first (``docs/faults.md``
"Secrets and hostile input").
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import attrs
import orjson

from customer_sdk._secrets import NO_SECRETS, Secrets

__all__ = ["MESSAGE_LIMIT", "Envelope", "HttpResponse", "parse_envelope", "short_text"]

MESSAGE_LIMIT: Final = 512


class HttpResponse(NamedTuple):
    """One complete HTTP response, as the transport read it.

    Attributes:
        status: The HTTP status code.
        headers: Response headers (case-insensitive mapping from the transport).
        body: The whole body (decompressed), possibly empty.
        secrets: What any text taken from this response must be scrubbed of: the credentials
            it was requested with (the transport sets them; none by default).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    secrets: Secrets = NO_SECRETS


_TAG: Final = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE: Final = re.compile(r"\s+")


def short_text(body: bytes, limit: int = MESSAGE_LIMIT, secrets: Secrets = NO_SECRETS) -> str:
    """A short, tag-stripped excerpt of a non-JSON body (a proxy's HTML page, say).

    Args:
        body: The raw body.
        limit: The most characters to return.
        secrets: Masked before the text is cut, so a cut never leaves half a secret.

    Returns:
        Text with tags, scripts and styles removed and whitespace folded, at most ``limit``
        characters; ``(empty body)`` for an empty body.
    """
    text = body[: limit * 16].decode("utf-8", "replace")
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    if not text:
        return "(empty body)"
    text = secrets.scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen
class Envelope:
    """ChargeOver's response envelope, parsed tolerantly.

    Attributes:
        code: The ``code`` field, or None when absent or not an int.
        message: The ``message`` field ("" when absent).
        details: The ``details`` object ({} when absent: every 2015 recording lacks it).
        response: The ``response`` field: object, list, int, false or null.
    """

    code: int | None
    message: str
    details: Mapping[str, Any]
    response: Any


def parse_envelope(body: bytes, secrets: Secrets = NO_SECRETS) -> Envelope | None:
    """Parse an envelope; None when the body is not a JSON object.

    Args:
        body: The raw body.
        secrets: Masked in the message (before it is cut) and in every string of
            ``details``; ``response`` is data, returned as it was sent.

    Returns:
        The envelope, or None for non-JSON, a truncated body, or JSON that is not an object.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    message = data.get("message")
    details = data.get("details")
    if secrets:
        message = secrets.scrub(message) if isinstance(message, str) else message
        details = secrets.scrub_value(details) if isinstance(details, dict) else details
    return Envelope(
        code=code if type(code) is int else None,
        message=message[:MESSAGE_LIMIT] if isinstance(message, str) else "",
        details=details if isinstance(details, dict) else {},
        response=data.get("response"),
    )
