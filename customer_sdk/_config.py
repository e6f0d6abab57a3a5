"""The client's settings, checked once at construction: every problem named in one error.

A bad setting fails here with :class:`~customer_sdk.errors.ConfigurationError`, never later as
an aiohttp or yarl exception on the first request (a port of 99999 used to surface as a yarl
``ValueError`` traceback). The base URL is normalised the way users paste it: an instance name
(``acme``) or the endpoint URL shown in ChargeOver's settings, with or without ``/api/v3``
(``docs/chargeover-api.md``, "Base URL and auth"). Unsafe choices (plain ``http://`` to another
host, credentials in the URL, TLS verification off) are refused unless explicitly allowed
(``docs/faults.md``, "Secrets and hostile input"). This module builds nothing and does no I/O.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from customer_sdk._hooks import Hooks
from customer_sdk._protocol import API_PREFIX
from customer_sdk.errors import ConfigurationError

__all__ = [
    "check_call_options",
    "check_network",
    "check_settings",
    "normalise_base",
    "settings_from_env",
]

_AUTH_SCHEMES: Final = ("basic", "signature")
# A credential goes into a header: CR/LF/NUL there would split or end it.
_CONTROL: Final = frozenset("\r\n\x00")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def normalise_base(base_url: str | None, instance: str | None, allow_insecure: bool) -> str:
    """Turn ``https://acme.chargeover.com[/api/v3][/]`` or an instance name into the base.

    Args:
        base_url: The endpoint URL, or None.
        instance: The instance name, or None (exactly one of the two is given).
        allow_insecure: Permit plain ``http://`` to a non-loopback host.

    Returns:
        ``scheme://host[:port][/prefix]`` without ``/api/v3`` or a trailing slash.

    Raises:
        ConfigurationError: Naming what is wrong with the URL.
    """
    if (base_url is None) == (instance is None):
        raise ConfigurationError("give exactly one of base_url and instance")
    if instance is not None:
        if not isinstance(instance, str) or not instance.replace("-", "").isalnum():
            raise ConfigurationError(f"instance must be a ChargeOver subdomain, got {instance!r}")
        return f"https://{instance}.chargeover.com"
    if not isinstance(base_url, str):
        raise ConfigurationError(f"base_url must be a str, got {type(base_url).__name__}")
    try:
        parts = urlsplit(base_url.strip())
        port = parts.port  # range-checked by urllib: 0-65535
    except ValueError as exc:
        raise ConfigurationError(f"base_url is not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError("base_url must be an absolute http(s) URL")
    if port == 0:
        raise ConfigurationError("base_url has port 0, which no server listens on")
    if parts.username is not None or parts.password is not None:
        # Userinfo would put a secret into every URL we log or sign.
        raise ConfigurationError("base_url must not contain credentials; pass username/password")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url must not have a query or fragment")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "plain http:// to a non-loopback host sends credentials in clear; "
            "use https or pass allow_insecure=True"
        )
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):  # users paste the endpoint URL shown in ChargeOver
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_settings(
    *,
    username: object,
    password: object,
    auth: object,
    timeout: object,
    connect_timeout: object,
    max_connections: object,
    max_response_bytes: object,
    tls_off: bool,
    allow_insecure: bool,
) -> None:
    """Check every setting but the URL; name every problem at once.

    Args:
        username: The API username (public key).
        password: The API password (private key).
        auth: ``"basic"`` or ``"signature"``.
        timeout: Seconds per request.
        connect_timeout: Seconds to connect.
        max_connections: The pool's size.
        max_response_bytes: The most body bytes read.
        tls_off: ``ssl_context=False`` was given.
        allow_insecure: It was explicitly allowed.

    Raises:
        ConfigurationError: Listing every problem, separated by ``; ``.
    """
    problems = []
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str):
            problems.append(f"{name} must be a str, got {type(value).__name__}")
        elif not value:
            problems.append(f"{name} is empty")
    if any(
        isinstance(v, str) and not {"\r", "\n", "\x00"}.isdisjoint(v) for v in (username, password)
    ):
        problems.append("credentials must not contain CR, LF or NUL")
    if auth == "basic" and isinstance(username, str) and ":" in username:
        problems.append("a Basic-auth username cannot contain ':'")
    if auth not in _AUTH_SCHEMES:
        problems.append(f"auth must be 'basic' or 'signature', got {auth!r}")
    if not _seconds(timeout) or not _seconds(connect_timeout):
        problems.append("timeouts must be finite numbers of seconds > 0")
    if type(max_connections) is not int or max_connections < 1:
        problems.append("max_connections must be an int >= 1")
    if type(max_response_bytes) is not int or max_response_bytes < 1:
        problems.append("max_response_bytes must be an int >= 1")
    if tls_off and not allow_insecure:
        problems.append("ssl_context=False disables TLS verification; pass allow_insecure=True")
    if problems:
        raise ConfigurationError("; ".join(problems))


def check_call_options(*, timeout: object, deadline: object) -> None:
    """Check a call's own ``timeout`` and ``deadline`` (None: the client's).

    Args:
        timeout: Seconds per request, or None.
        deadline: Seconds per call, or None.

    Raises:
        ConfigurationError: Naming each one that is not a finite number of seconds > 0.
    """
    bad = [n for n, v in (("timeout", timeout), ("deadline", deadline)) if v is not None]
    bad = [n for n in bad if not _seconds(timeout if n == "timeout" else deadline)]
    if bad:
        raise ConfigurationError(
            "; ".join(f"{n} must be a finite number of seconds > 0" for n in bad)
        )


def check_network(
    *, proxy: object, trust_env: object, hooks: object, trace_configs: object, own_session: bool
) -> None:
    """Check the proxy, tracing and hook settings; name every problem at once.

    Args:
        proxy: A proxy URL, or None.
        trust_env: Whether to read proxies from the environment.
        hooks: A :class:`~customer_sdk.Hooks`, or None.
        trace_configs: aiohttp ``TraceConfig`` objects.
        own_session: The client makes its own session (no ``session=`` given).

    Raises:
        ConfigurationError: Listing every problem, separated by ``; ``.
    """
    problems = []
    if proxy is not None:
        if not isinstance(proxy, str):
            problems.append(f"proxy must be a str URL, got {type(proxy).__name__}")
        else:
            try:
                parts = urlsplit(proxy)
                parts.port  # noqa: B018 (range-checked on access)
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
                # Not the URL itself: it may hold the proxy's password.
                problems.append("proxy must be an absolute http(s):// URL")
    if not isinstance(trust_env, bool):
        problems.append(f"trust_env must be a bool, got {type(trust_env).__name__}")
    if hooks is not None and not isinstance(hooks, Hooks):
        problems.append(f"hooks must be a customer_sdk.Hooks, got {type(hooks).__name__}")
    if not isinstance(trace_configs, list | tuple) or not all(
        isinstance(t, aiohttp.TraceConfig) for t in trace_configs
    ):
        problems.append("trace_configs must be a list of aiohttp.TraceConfig")
    configured = proxy is not None or trust_env is True or bool(trace_configs)
    if configured and not own_session:
        problems.append(
            "proxy, trust_env and trace_configs configure the client's own session; "
            "set them on the session you pass instead"
        )
    if problems:
        raise ConfigurationError("; ".join(problems))


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The client's settings from ``CHARGEOVER_*`` variables.

    Args:
        env: The environment: ``CHARGEOVER_BASE_URL`` (or ``CHARGEOVER_INSTANCE``),
            ``CHARGEOVER_USERNAME``, ``CHARGEOVER_PASSWORD``, optionally ``CHARGEOVER_AUTH``
            and ``CHARGEOVER_PROXY``.

    Returns:
        Constructor keywords.

    Raises:
        ConfigurationError: Naming every missing variable.
    """
    missing = [n for n in ("CHARGEOVER_USERNAME", "CHARGEOVER_PASSWORD") if not env.get(n)]
    base, instance = env.get("CHARGEOVER_BASE_URL"), env.get("CHARGEOVER_INSTANCE")
    if not base and not instance:
        missing.insert(0, "CHARGEOVER_BASE_URL (or CHARGEOVER_INSTANCE)")
    if missing:
        raise ConfigurationError("missing environment variables: " + ", ".join(missing))
    kwargs: dict[str, Any] = {
        "username": env["CHARGEOVER_USERNAME"],
        "password": env["CHARGEOVER_PASSWORD"],
    }
    if base:
        kwargs["base_url"] = base
    else:
        kwargs["instance"] = instance
    if env.get("CHARGEOVER_AUTH"):
        kwargs["auth"] = env["CHARGEOVER_AUTH"]
    if env.get("CHARGEOVER_PROXY"):
        kwargs["proxy"] = env["CHARGEOVER_PROXY"]
    return kwargs
