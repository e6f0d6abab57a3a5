"""ChargeOverClient: the lifecycle, and the customers resource's public methods.

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
from collections.abc import AsyncIterable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Literal, Self

import aiohttp
import orjson

from customer_sdk._auth import Auth, BasicAuth, SignatureAuth
from customer_sdk._bulk import BulkJob
from customer_sdk._config import check_settings, normalise_base, settings_from_env
from customer_sdk._engine import Engine
from customer_sdk._models import (
    CreatedCustomer,
    Customer,
    CustomerCreate,
    wire_from_mapping,
    wire_of,
)
from customer_sdk._ratelimit import Limiter, PauseGate
from customer_sdk._retry import Retrier, RetryPolicy
from customer_sdk._rules import encodable
from customer_sdk._transport import AiohttpTransport
from customer_sdk._version import __version__
from customer_sdk.errors import ConfigurationError

__all__ = ["ChargeOverClient", "Customers"]

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

    Raises:
        ConfigurationError: On an invalid or unsafe setting.
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
    ) -> None:
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
        )
        self._engine = Engine(
            base_url=base,
            transport=transport,
            auth=auth_scheme,
            limiter=shared,
            retry=policy,
        )
        self.customers: Final = Customers(self._engine, self._limiter_given)

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
        """Close the connection pool (unless the caller supplied the session). Idempotent."""
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


class Customers:
    """The customer endpoints. Reach it as ``client.customers``.

    Args:
        engine: The client's request engine.
        limiter_given: Whether the client was given a limiter of its own (a bulk job then
            adds none: see :meth:`create_many`).
    """

    def __init__(self, engine: Engine, limiter_given: bool = False) -> None:
        self._engine = engine
        self._limiter_given = limiter_given

    async def get(self, customer_id: int) -> Customer:
        """Fetch one customer by id (``GET /api/v3/customer/{id}``), retrying transient failures.

        Args:
            customer_id: ChargeOver's id.

        Returns:
            The customer.

        Raises:
            NotFoundError: No such customer.
            ChargeOverError: Any other failure, after retries.
        """
        if type(customer_id) is not int or customer_id < 1:
            raise ConfigurationError(f"customer_id must be a positive int, got {customer_id!r}")
        return await self._engine.get(customer_id)

    async def find_by_external_key(self, key: str) -> Customer | None:
        r"""Look a customer up by ``external_key``, retrying transient failures.

        Any key round-trips exactly: ``,`` ``:`` and ``\`` are escaped for the ``where`` filter
        and the whole clause is percent-encoded.

        Args:
            key: The external key.

        Returns:
            The customer, or None when no customer has that key.

        Raises:
            ChargeOverError: On a failure that retries could not overcome.
        """
        if not isinstance(key, str) or not key:
            raise ConfigurationError("external_key must be a non-empty str")
        if not (key.isascii() or encodable(key)):
            raise ConfigurationError("external_key holds a lone surrogate, which cannot be sent")
        return await self._engine.lookup(key)

    async def create(
        self, customer: CustomerCreate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> CreatedCustomer:
        """Create a customer, retrying without ever creating a duplicate.

        Pass a :class:`CustomerCreate`, a mapping of wire fields, or the fields as keywords
        (``create(company="Acme", external_key="k-1")``). Failures are handled by class
        (docs/faults.md): a failure that proves nothing was sent is resent; a 429 waits for its
        ``Retry-After``; an ambiguous failure (reset, timeout, 5xx, a cut 201) is reconciled by
        looking the ``external_key`` up — found means done (``created=False``), not found means
        safe to send again. Without an ``external_key`` an ambiguous failure is never resent.

        Args:
            customer: The customer, as a model or mapping.
            **fields: The customer's fields, when no ``customer`` is given.

        Returns:
            The id, whether this call created it, and how many requests it took.

        Raises:
            ValidationError: The input is invalid (before any I/O), naming every problem.
            OutcomeUnknownError: The create may have happened and cannot be verified (no
                ``external_key``, or the budget ran out while reconciling).
            ExternalKeyReservedError: A 400 for a key that no customer has (e.g. deleted).
            RateLimitError: Throttled with a ``Retry-After`` above the cap, or out of attempts.
            BadRequestError: The server rejected the customer (message passed through).
            AuthenticationError: Wrong credentials (never retried).
            ChargeOverError: Any other failure once retries are spent.
        """
        if customer is None:
            wire = wire_from_mapping(fields, owned=True)  # the keywords dict is this call's
        elif fields:
            raise TypeError("pass either a customer or keyword fields, not both")
        else:
            wire = wire_of(customer)
        # Serialised once: the bytes signed are the bytes sent, on every attempt.
        call = self._engine.create(orjson.dumps(wire), wire.get("external_key"))
        # Only the body's bytes and the key live on through the request: a model or a dict
        # held by every in-flight call measurably slows each create once many are in flight
        # (at 256, the model style went from 0.84x to 0.96x raw aiohttp's creates/s;
        # benchmarks/README.md, P1).
        del customer, fields, wire
        return await call

    def create_many(
        self,
        rows: Iterable[CustomerCreate | Mapping[str, Any]]
        | AsyncIterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        batch_size: int = 1,
        journal: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
        adaptive: bool = False,
        max_auth_failures: int = 3,
        reject_duplicate_keys: bool = False,
    ) -> BulkJob:
        """Create many customers: a streaming job with bounded memory, per-row results.

        ``rows`` is read lazily through a bounded queue by a pool of workers, so memory stays
        flat however long the input. Iterate the job for one
        :class:`~customer_sdk.RowResult` per row, in completion order; a row that fails
        validation is a ``rejected`` result, never an exception. Every row is created with the
        same no-duplicate rules as :meth:`create`. During an outage (every answer a 5xx, or
        refused) the workers are held and one probe is sent at growing intervals; the job
        resumes by itself when the server answers again.

        Rate limiting: with ``rate`` the job is paced by a :class:`~customer_sdk.TokenBucket`
        (``adaptive=True``: an :class:`~customer_sdk.AdaptiveLimiter` starting at ``rate``).
        Without ``rate`` it uses an :class:`~customer_sdk.AdaptiveLimiter` that runs unpaced
        until the first 429 and then settles just under the limit it found — ChargeOver
        documents no numbers, so any fixed guess would be too slow or a source of 429s — unless
        the client was given a limiter of its own (any, e.g. a shared ``RedisLimiter``), which
        then governs alone. The client's limiter always applies too, so a 429's
        ``Retry-After`` pauses every worker and every other call of the client.

        Args:
            rows: Customers as :class:`CustomerCreate` or mappings of wire fields; an iterable
                or an async iterable.
            concurrency: Requests in flight at once, fixed. Default None: adaptive, from 16
                up to 256 as the round trip and the paced rate need (by Little's law, with
                headroom), so a far-away server is not starved of requests in flight.
            batch_size: Creates per request: above 1, rows go in ``POST /api/v3/_bulk``
                calls of up to 25 (one rate-limit slot for up to 25 rows).
            journal: A SQLite file recording every row's state, making the job resumable:
                a re-run skips done rows and reconciles rows that were in flight.
            job_id: The input's fingerprint (e.g. the file's sha256), kept in the journal; a
                journal made for another job_id is refused.
            rate: Requests per second to stay under, if known.
            burst: Requests that may go back to back under ``rate``. Default 1.
            adaptive: Find the limit adaptively (starting at ``rate`` when given).
            max_auth_failures: Rows refused with 401/403 in a row after which the job stops.
            reject_duplicate_keys: Reject (never send) a row whose ``external_key`` an earlier
                row of ``rows`` had, naming that row; without it the later row finds the first
                one's customer and is reported ``existed``. It remembers every key, about 110 MB
                per million distinct keys, so it is off by default (memory stays flat); the
                ``customer-sdk import`` command always checks.

        Returns:
            The job: ``async with job: async for result in job: ...``; ``job.stats`` counts.

        Raises:
            ConfigurationError: On an invalid option (results and failures of rows are
                reported through the job).
        """
        return BulkJob(
            self._engine,
            rows,
            limiter_given=self._limiter_given,
            concurrency=concurrency,
            batch_size=batch_size,
            journal=journal,
            job_id=job_id,
            rate=rate,
            burst=burst,
            adaptive=adaptive,
            max_auth_failures=max_auth_failures,
            reject_duplicate_keys=reject_duplicate_keys,
        )
