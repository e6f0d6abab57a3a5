"""The one scrubber: masks a client's credentials, in every form a server might echo them.

A server (or a proxy in front of it) may copy what it received into an error body: the
``Authorization`` header, the Basic token, a URL-encoded form. :class:`Secrets` holds the
username and password a client sends with, and every encoding of them listed under
:func:`forms`, and masks each with ``***``. It is applied where a server's text first enters
the SDK (:mod:`customer_sdk._protocol._status` builds every error from a response through
it), and again at the writers (the bulk journal, the CLI's report, progress and summary), so
nothing the SDK writes or raises carries a credential. ``docs/faults.md`` "Secrets and hostile
input" states the rule and what it does not cover.

The rule, so that masking never mangles unrelated text: a form of :data:`LONG` characters or
more is masked wherever it occurs, even glued to other letters (a percent-encoded dump puts
``%20`` right before a token); a shorter one only where it stands as a whole token, i.e. not
preceded or followed by an ASCII letter or digit, so a password ``int`` leaves
``interrupted`` alone. This module imports nothing of the SDK.
"""

from __future__ import annotations

import base64
import functools
import html
import itertools
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["LONG", "MASK", "NO_SECRETS", "Secrets", "forms", "scrub"]

MASK: Final = "***"
# Forms at least this long are masked even inside a longer word: a string of 8 or more
# characters does not occur in unrelated text by chance (unless the credential is itself an
# ordinary word, which is then masked wherever it occurs).
LONG: Final = 8
_WORD_CHAR: Final = "A-Za-z0-9"


def _encodings(text: str) -> set[str]:
    """``text`` as it may appear in a body: URL-, HTML- and JSON-escaped (the raw text too)."""
    quoted = urllib.parse.quote(text, safe="")
    out = {
        text,
        quoted,
        # Percent escapes in lower-case hex (RFC 3986 allows either case).
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted),
        urllib.parse.quote_plus(text, safe=""),
        html.escape(text),
        json.dumps(text)[1:-1],  # \uXXXX for non-ASCII, as json_encode does by default
        json.dumps(text, ensure_ascii=False)[1:-1],
    }
    # PHP's json_encode escapes "/" too (ChargeOver is a PHP application).
    out |= {form.replace("/", "\\/") for form in out}
    return out


def _base64s(text: str) -> set[str]:
    raw = text.encode()
    std = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    return {std, std.rstrip("="), url, url.rstrip("=")}


def forms(username: str, password: str = "") -> frozenset[str]:
    r"""Every form of a credential pair that is masked.

    For the username, the password, and ``username:password`` (what Basic auth encodes): the
    text itself, URL-encoded (``%XX`` in either case, and ``+`` for a space), HTML-escaped and
    JSON-escaped (``\uXXXX`` or not, ``\/`` or not); and base64 of each (standard and
    URL-safe alphabets, padded or not: the Basic token is base64 of ``username:password``),
    each of those URL-encoded too (a token's ``+``, ``/`` and ``=`` become ``%2B``, ``%2F``,
    ``%3D`` in a query string). Empty values give no forms.

    Args:
        username: The API username (public key), or any one secret value.
        password: The API password (private key), or "".

    Returns:
        The forms, without empty ones.
    """
    bases = [s for s in (username, password) if s]
    if username and password:
        bases.append(f"{username}:{password}")
    found: set[str] = set()
    for base in bases:
        found |= _encodings(base)
        for token in _base64s(base):
            found |= _encodings(token)
    found.discard("")
    return frozenset(found)


def _alternation(values: Iterable[str]) -> str:
    # Longest first: where one form contains another, the whole of the longer one is masked.
    return "|".join(re.escape(v) for v in sorted(values, key=lambda v: (-len(v), v)))


class Secrets:
    """Values that must never be written or raised, and the masking of them.

    Build it with :meth:`of_credentials` for a client's username and password, or directly
    from any values (each is masked in every form :func:`forms` lists; with ``pairs=True``
    every ``a:b`` of two of them is treated as a credential pair too, for callers that hold
    the values without knowing which is which). Its repr never shows them.

    Args:
        values: The secret values (empty ones are ignored).
        pairs: Also mask every ``a:b`` of two different values, in every form.
    """

    __slots__ = ("_given", "_pairs", "_patterns", "count")

    def __init__(self, values: Iterable[str] = (), *, pairs: bool = False) -> None:
        self._given = tuple(sorted({v for v in values if v}))
        self._pairs = pairs
        self.count = len(self._given)
        # Compiled on first use: a client that never meets an error never pays for it.
        self._patterns: tuple[re.Pattern[str], ...] | None = None

    def _compile(self) -> tuple[re.Pattern[str], ...]:
        found: set[str] = set()
        for value in self._given:
            found |= forms(value)
        if self._pairs:
            for user, password in itertools.permutations(self._given, 2):
                found |= forms(user, password)
        long = [f for f in found if len(f) >= LONG]
        short = [f for f in found if len(f) < LONG]
        patterns = []
        if long:
            patterns.append(re.compile(_alternation(long)))
        if short:
            word = _WORD_CHAR
            patterns.append(re.compile(f"(?<![{word}])(?:{_alternation(short)})(?![{word}])"))
        return tuple(patterns)

    @classmethod
    def of_credentials(cls, username: str, password: str) -> Secrets:
        """The secrets of a client: its username, password and ``username:password``.

        Args:
            username: The API username (public key; in the Authorization header of both auth
                schemes).
            password: The API password (private key; encoded in the Basic token, or the
                signature's HMAC key, which never travels).

        Returns:
            The secrets.
        """
        return cls((username, password), pairs=True)

    def __bool__(self) -> bool:
        return self.count > 0

    def __repr__(self) -> str:
        return f"Secrets({self.count} values, masked)"

    def scrub(self, text: str) -> str:
        """Mask every form of every secret in ``text`` (see the module's rule).

        Args:
            text: Any text.

        Returns:
            The text with each occurrence replaced by ``***``.
        """
        patterns = self._patterns
        if patterns is None:
            patterns = self._patterns = self._compile()
        # The long forms first: a short one never cuts into a long one it is part of.
        for pattern in patterns:
            text = pattern.sub(MASK, text)
        return text

    def scrub_value(self, value: object) -> object:
        """Mask secrets in every string of a JSON-like value (keys included), recursively.

        Args:
            value: A string, mapping, list or tuple (other values are returned as they are).

        Returns:
            An equal structure whose strings are scrubbed (new containers; the input is kept).
        """
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value


NO_SECRETS: Final = Secrets()
"""Nothing to mask (a response read without credentials, e.g. in a test)."""


@functools.lru_cache(maxsize=16)
def _cached(values: tuple[str, ...]) -> Secrets:
    return Secrets(values, pairs=True)


def scrub(text: str, secrets: Iterable[str] | Secrets) -> str:
    """Mask every form of each secret in ``text``.

    Args:
        text: The text.
        secrets: A :class:`Secrets`, or the values themselves (then every ``a:b`` pair of two
            of them is masked too, so the Basic token of a username and password is covered
            whichever order they come in). Empty values are ignored.

    Returns:
        The text with each occurrence replaced by ``***`` (see the module's rule).
    """
    if not isinstance(secrets, Secrets):
        secrets = _cached(tuple(secrets))
    return secrets.scrub(text)
