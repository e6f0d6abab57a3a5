"""Authorization headers: HTTP Basic (the default) and ChargeOver's legacy signature scheme.

Both turn a built request into one ``Authorization`` header value. Neither object ever shows its
secret: reprs are masked, and aiohttp's ``BasicAuth`` (whose repr prints the password) is never
used. This module does no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Callable
from typing import Final, Protocol

__all__ = ["Auth", "BasicAuth", "SignatureAuth"]

_NONCE_ALPHABET: Final = string.ascii_lowercase + string.digits


class Auth(Protocol):
    """Computes the ``Authorization`` header for one request."""

    def header(self, method: str, url: str, body: bytes | None) -> str:
        """Return the header value for this exact request.

        Args:
            method: The HTTP method.
            url: The full URL exactly as sent.
            body: The exact body bytes, or None.

        Returns:
            The ``Authorization`` header value.
        """
        ...


class BasicAuth:
    """HTTP Basic with the API username (public key) and password (private key).

    docs/chargeover-api.md, "Base URL and auth": the current, documented scheme. The header is
    the same for every request, so it is computed once.

    Args:
        username: The API username.
        password: The API password.
    """

    __slots__ = ("_header", "username")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = f"Basic {token}"

    def header(self, method: str, url: str, body: bytes | None) -> str:
        """Return the Basic header (the same for every request).

        Args:
            method: Ignored.
            url: Ignored.
            body: Ignored.

        Returns:
            ``Basic <base64>``.
        """
        return self._header

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=***)"


class SignatureAuth:
    """ChargeOver's legacy HMAC-SHA256 signature, still used by the official PHP SDK.

    docs/chargeover-api.md, "Signature auth": the message is
    ``public || lower(full URL incl. query) || nonce || unix seconds || body`` (body empty for a
    GET, the trailing ``||`` kept), signed with the private key, lowercase hex.

    Args:
        public_key: The API username.
        private_key: The API password.
        clock: Returns Unix seconds (injectable for known-answer tests).
        nonce: Returns the 8-character ``[a-z0-9]`` nonce (injectable likewise).
    """

    __slots__ = ("_clock", "_key", "_nonce", "public_key")

    def __init__(
        self,
        public_key: str,
        private_key: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self.public_key = public_key
        self._key = private_key.encode()
        self._clock = clock
        self._nonce = nonce or _random_nonce

    def header(self, method: str, url: str, body: bytes | None) -> str:
        """Sign this exact request.

        Args:
            method: The HTTP method (not part of the signed message).
            url: The full URL exactly as sent, query included.
            body: The exact body bytes, or None for a GET.

        Returns:
            The ``ChargeOver co_public_key=... co_signature=...`` header value.
        """
        nonce = self._nonce()
        stamp = str(int(self._clock()))
        payload = (body or b"").decode("utf-8")
        message = "||".join((self.public_key, url.lower(), nonce, stamp, payload))
        signature = hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()
        return (
            f'ChargeOver co_public_key="{self.public_key}" co_nonce="{nonce}" '
            f'co_timestamp="{stamp}" co_signature_method="HMAC-SHA256" co_version="1.0" '
            f'co_signature="{signature}"'
        )

    def __repr__(self) -> str:
        return f"SignatureAuth(public_key={self.public_key!r}, private_key=***)"


def _random_nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(8))
