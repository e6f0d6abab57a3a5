"""The package logger's opt-in switch, and the key hash retry logs carry.

The SDK logs to ``logging.getLogger("customer_sdk")``, which has only a ``NullHandler`` unless
``CHARGEOVER_LOG=debug|info|warning`` is set: then one stderr handler is added at that level (an
application's own logging configuration works as ever without it). Retries are logged at INFO,
each attempt at DEBUG. Logs never hold credentials, bodies, queries or ``external_key`` values:
a keyed create is named by :func:`key_hash`, a digest salted per process — it tells one key's
retries from another's in a log, but cannot be matched against a list of known keys.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Final

__all__ = ["LOG_ENV", "configure_from_env", "env_handler", "key_hash"]

LOG_ENV: Final = "CHARGEOVER_LOG"
logger: Final = logging.getLogger("customer_sdk")
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_added: list[logging.Handler] = []  # the handler CHARGEOVER_LOG added, if any
# Salted per process: the same key hashes alike within one run's log only.
_SALT: Final = secrets.token_bytes(16)


def key_hash(key: str | None) -> str:
    """A short, non-identifying name for an ``external_key`` in logs.

    Args:
        key: The key, or None.

    Returns:
        ``key#`` and 8 hex digits of a salted BLAKE2b digest, or ``no key``.
    """
    if key is None:
        return "no key"
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=4, key=_SALT)
    return f"key#{digest.hexdigest()}"


def configure_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Turn the package's logging on when ``CHARGEOVER_LOG`` asks for it.

    Args:
        environ: The environment (default ``os.environ``).

    Returns:
        The handler added, or None when the variable is unset or unknown (an unknown level is
        ignored with a note on the handler-less logger, never a crash at import).
    """
    wanted = (os.environ if environ is None else environ).get(LOG_ENV, "").strip().lower()
    level = _LEVELS.get(wanted)
    if level is None:
        return None
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    _added.append(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler


def env_handler() -> logging.Handler | None:
    """The handler ``CHARGEOVER_LOG`` added (the CLI lends it its own stream), or None.

    Returns:
        The last handler :func:`configure_from_env` added, or None.
    """
    return _added[-1] if _added else None
