"""ChargeOverClient: the configuration and the lifecycle (the resource is ``._customers``).

The client checks its configuration, owns one transport (one aiohttp session) and builds one
:class:`~customer_sdk._engine.Engine` from it; every call of ``client.customers`` is a thin
validated front on that engine, and ``create_many`` hands the same engine to a bulk job. The
client holds no wire strings, no status checks and no retry loop: requests are built and
answers deciphered by :mod:`customer_sdk._protocol`, sent and retried by the engine.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Self

import aiohttp

from customer_sdk._auth import Auth, BasicAuth, SignatureAuth
from customer_sdk._config import check_network, check_settings, normalise_base, settings_from_env
from customer_sdk._customers import Customers
from customer_sdk._engine import Engine
from customer_sdk._hooks import Hooks
from customer_sdk._options import evolved
from customer_sdk._ratelimit import Limiter, PauseGate
from customer_sdk._retry import Retrier
from customer_sdk._retry_policy import RetryPolicy
from customer_sdk._secrets import Secrets
from customer_sdk._transport import AiohttpTransport
from customer_sdk._version import __version__

__all__ = ["ChargeOverClient", "Customers"]  # Customers: re-exported from ._customers

logger: Final = logging.getLogger("customer_sdk")
# Versioned, so ChargeOver's logs (and a support ticket) can tell which SDK release sent a request.
_USER_AGENT: Final = f"customer-sdk-python/{__version__}"


class ChargeOverClient:
    """An async client for ChargeOver's customer API.

    One client holds one connection pool; share it across tasks and close it once, preferably
    with ``async with``. Credentials never appear in its repr, logs or exceptions.

    Args:
        base_url: The API endpoint, e.g. ``https://acme.chargeover.com`` (``/api/v3`` optional).
        instance: Alternatively the instance name (``acme``); give exactly one of the two.
        username: The API username (public key).
        password: The API password (private key).
        auth: ``"basic"`` (default, documented) or ``"signature"`` (legacy HMAC scheme).
        timeout: Seconds one HTTP request may take in all.
        connect_timeout: Seconds to open a connection.
        retry: The retry policy.
        max_connections: Size of the connection pool.
        session: A caller-owned ``aiohttp.ClientSession`` to use (not closed by the client).
            Its own settings (redirects aside, which are always off) then apply.
        limiter: A rate limiter; the default only honours 429 pauses, shared by all calls.
        ssl_context: An ``ssl.SSLContext`` (e.g. with a private CA), or None for the default
            verification; ``False`` disables verification and requires ``allow_insecure``.
        allow_insecure: Permit plain ``http://`` to non-loopback hosts and ``ssl_context=False``.
        max_response_bytes: The most response body bytes read.
        proxy: An ``http://`` proxy URL every request goes through (HTTPS is tunnelled with
            CONNECT); credentials may be in the URL and are never logged.
        trust_env: Take proxies from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (and
            ``.netrc``), which aiohttp ignores unless told to.
        hooks: Callbacks for every request sent, answer received and retry.
        trace_configs: aiohttp ``TraceConfig`` objects for the client's session (e.g. an
            OpenTelemetry tracer: see ``docs/hooks.md``).

    Raises:
        ConfigurationError: On an invalid or unsafe setting. ``proxy``, ``trust_env`` and
            ``trace_configs`` configure the client's own session, so they are refused with
            ``session=`` (set them on that session).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        instance: str | None = None,
        username: str,
        password: str,
        auth: Literal["basic", "signature"] = "basic",
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        limiter: Limiter | None = None,
        ssl_context: ssl.SSLContext | Literal[False] | None = None,
        allow_insecure: bool = False,
        max_response_bytes: int = 1 << 20,
        proxy: str | None = None,
        trust_env: bool = False,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        check_network(
            proxy=proxy,
            trust_env=trust_env,
            hooks=hooks,
            trace_configs=trace_configs,
            own_session=session is None,
        )
        check_settings(
            username=username,
            password=password,
            auth=auth,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            tls_off=ssl_context is False,
            allow_insecure=allow_insecure,
        )
        base = normalise_base(base_url, instance, allow_insecure)
        auth_scheme: Auth = (
            BasicAuth(username, password) if auth == "basic" else SignatureAuth(username, password)
        )
        self._username = username
        policy = retry if retry is not None else RetryPolicy()
        # The default gate waits through the policy's sleep, so RetryPolicy.no_wait() covers it.
        shared = limiter if limiter is not None else PauseGate(sleep=Retrier(policy).sleep)
        # A bulk job runs its own rate limiter unless the caller chose this one.
        self._limiter_given = limiter is not None
        common = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if isinstance(auth_scheme, BasicAuth):
            # Basic auth is the same header on every request: bake it in once (the hot path).
            common["Authorization"] = auth_scheme.header("", "", None)
        transport = AiohttpTransport(
            session=session,
            headers=common,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            ssl_context=True if ssl_context is None else ssl_context,
            max_response_bytes=max_response_bytes,
            # Masked in every text taken from a response (docs/faults.md, "Secrets").
            secrets=Secrets.of_credentials(username, password),
            proxy=proxy,
            trust_env=trust_env,
            trace_configs=trace_configs,
        )
        self._engine = Engine(
            base_url=base,
            transport=transport,
            auth=auth_scheme,
            limiter=shared,
            retry=policy,
            hooks=hooks,
        )
        self._customers = Customers(self._engine, self._limiter_given)
        self._is_view = False

    @property
    def customers(self) -> Customers:
        """The customer endpoints: ``create``, ``get``, ``find_by_external_key``, ..."""
        return self._customers

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> ChargeOverClient:
        """A view of this client with other per-call settings, sharing everything else.

        The view shares the connection pool, the limiter and its 429 pause, the hooks and the
        credentials; it is cheap to make (no connection, no session). It does not own the
        pool: closing it (``aclose()``, ``async with``) does nothing, and it stops working when
        this client is closed.

        Args:
            retry: A retry policy for the view's calls instead of this client's.
            timeout: Seconds one HTTP request may take (once it has a connection).
            deadline: Seconds one call may take in all, retries included (the policy's
                ``deadline``, on top of ``retry`` when both are given).

        Returns:
            The view: ``await client.with_options(deadline=5).customers.create(...)``.

        Raises:
            ConfigurationError: On a timeout or deadline that is not a number of seconds > 0.
        """
        engine = evolved(self._engine, retry, timeout, deadline)
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)  # credentials' owner name, the limiter flag
        view._engine = engine
        view._customers = Customers(engine, self._limiter_given)
        view._is_view = True
        return view

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> ChargeOverClient:
        """Build a client from ``CHARGEOVER_*`` environment variables.

        Reads ``CHARGEOVER_BASE_URL`` (or ``CHARGEOVER_INSTANCE``), ``CHARGEOVER_USERNAME``,
        ``CHARGEOVER_PASSWORD`` and optionally ``CHARGEOVER_AUTH`` (basic or signature).

        Args:
            environ: The environment to read (default ``os.environ``).
            **overrides: Other constructor arguments.

        Returns:
            The client.

        Raises:
            ConfigurationError: Naming every missing variable.
        """
        settings = settings_from_env(os.environ if environ is None else environ)
        return cls(**(settings | overrides))  # an override wins over the environment

    def __repr__(self) -> str:
        return f"ChargeOverClient(base_url={self.base_url!r}, username={self._username!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless the caller supplied the session). Idempotent.

        On a view made by :meth:`with_options` this does nothing: the pool is the client's.
        """
        if not self._is_view:
            await self._engine.transport.aclose()

    @property
    def closed(self) -> bool:
        """True once the client has been closed."""
        return self._engine.closed

    @property
    def base_url(self) -> str:
        """The API's base URL, without ``/api/v3``."""
        return self._engine.base_url

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every call of this client follows (set when built)."""
        return self._engine.retry

    @property
    def limiter(self) -> Limiter:
        """The rate limiter every request of this client goes through (set when built)."""
        return self._engine.limiter
