"""The sandbox's authorization check: HTTP Basic, and ChargeOver's legacy signature.

Both schemes follow docs/chargeover-api.md, "Base URL and auth". The signature is recomputed here
from that documented algorithm, on purpose never through the SDK's own signer
(``customer_sdk._auth``): a sandbox that reused it would accept whatever the signer gets wrong,
and the tests could never catch it. Secrets are compared in constant time.

This module says whether a request is authorized and, if not, with which 401 message; it does not
answer the request, and does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable
from typing import Final

from customer_sdk.sandbox import _wire

__all__ = ["Credentials", "signature_message"]

_SIGNATURE_PARAM: Final = re.compile(r'(co_[a-z_]+)="([^"]*)"')
# invented: ChargeOver's messages for these signature failures are not recorded; they keep the
# documented "Invalid or incorrect authorization [...]" shape (docs/chargeover-api.md, "Errors").
MISSING_PARAMS: Final = "Invalid or incorrect authorization [Missing signature parameters.]"
STALE: Final = "Invalid or incorrect authorization [Request timestamp is out of range.]"
MISMATCH: Final = "Invalid or incorrect authorization [Signature mismatch.]"


def signature_message(
    public_key: bytes, url: str, nonce: bytes, stamp: bytes, body: bytes
) -> bytes:
    """The bytes a ChargeOver signature signs.

    docs/chargeover-api.md, "Base URL and auth": ``public_key || lowercase(full URL incl.
    query) || nonce || unix_seconds || body``, the body being the exact bytes sent (empty for a
    GET, the trailing ``||`` kept).

    Args:
        public_key: The ``co_public_key`` sent.
        url: The full URL as sent, query included (lowercased here).
        nonce: The ``co_nonce`` sent.
        stamp: The ``co_timestamp`` sent, as sent (Unix seconds).
        body: The exact body bytes.

    Returns:
        The message to key with the private key.
    """
    return b"||".join((public_key, _b(url.lower()), nonce, stamp, body))


class Credentials:
    """The sandbox's API user, and the check of a request's ``Authorization`` header.

    Args:
        username: The API username (the signature's public key).
        password: The API password (the signature's private key).
    """

    __slots__ = ("_password", "_username")

    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    def problem(
        self,
        header: str | None,
        body: bytes,
        url: Callable[[], str],
        *,
        now: float,
        max_age: float,
    ) -> str | None:
        """Check one request's authorization.

        Args:
            header: The ``Authorization`` header, or None when absent.
            body: The exact body bytes received.
            url: Returns the full URL as the client sent it (called for a signature only).
            now: The current Unix time, for the signature's timestamp.
            max_age: How far (seconds) a signature's timestamp may be from ``now``.

        Returns:
            None when authorized, else the 401 message.
        """
        if not header:
            # docs/chargeover-api.md, "Base URL and auth": the documented missing-header text.
            return _wire.AUTH_MISSING
        scheme, _, rest = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic_problem(rest)
        if scheme == "chargeover":
            return self._signature_problem(rest, body, url(), now=now, max_age=max_age)
        return _wire.AUTH_WRONG

    def _basic_problem(self, token: str) -> str | None:
        """Check HTTP Basic: the username and password (docs/chargeover-api.md, "Base URL...")."""
        try:
            user, sep, password = base64.b64decode(token.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return _wire.AUTH_WRONG
        ok_user = hmac.compare_digest(user, self._username)
        ok_pass = hmac.compare_digest(password, self._password)
        return None if sep and ok_user and ok_pass else _wire.AUTH_WRONG

    def _signature_problem(
        self, params: str, body: bytes, url: str, *, now: float, max_age: float
    ) -> str | None:
        """Check the legacy signature (docs/chargeover-api.md, "Base URL and auth")."""
        p = dict(_SIGNATURE_PARAM.findall(params))
        public, nonce, stamp, signature = (
            p.get("co_public_key"),
            p.get("co_nonce"),
            p.get("co_timestamp"),
            p.get("co_signature"),
        )
        if public is None or nonce is None or stamp is None or signature is None:
            return MISSING_PARAMS
        try:
            age = abs(now - float(stamp))
        except ValueError:
            age = math.inf
        if not age <= max_age:  # also refuses a NaN or infinite timestamp
            return STALE
        message = signature_message(_b(public), url, _b(nonce), _b(stamp), body)
        # Lowercase hex HMAC-SHA256 keyed with the private key (the same doc section).
        expected = hmac.new(self._password, message, hashlib.sha256).hexdigest().encode()
        ok_key = hmac.compare_digest(_b(public), self._username)
        ok_sig = hmac.compare_digest(_b(signature), expected)
        return None if ok_key and ok_sig else MISMATCH


def _b(text: str) -> bytes:
    """Header text back to bytes, whatever it holds (a hostile header must not raise)."""
    return text.encode("utf-8", "surrogatepass")
