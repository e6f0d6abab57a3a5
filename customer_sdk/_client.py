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
from typing import Any, Final, Literal, Self, Unpack, overload

import aiohttp
import orjson

from customer_sdk._auth import Auth, BasicAuth, SignatureAuth
from customer_sdk._bulk import MAX_OUTAGE, BulkJob
from customer_sdk._config import check_settings, normalise_base, settings_from_env
from customer_sdk._customer_writes import CustomerWrites, check_flags
from customer_sdk._engine import Engine
from customer_sdk._fields import CustomerFields
from customer_sdk._flags import Flags
from customer_sdk._listing import CustomerList, count_customers, get_by_field
from customer_sdk._models import (
    CreatedCustomer,
    CustomerCreate,
    wire_from_mapping,
    wire_of,
)
from customer_sdk._query import WhereArg, build_query, checked_value
from customer_sdk._ratelimit import Limiter, PauseGate
from customer_sdk._read import Customer
from customer_sdk._retry import Retrier, RetryPolicy
from customer_sdk._secrets import Secrets
from customer_sdk._transport import AiohttpTransport
from customer_sdk._update import OnExisting
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
            # Masked in every text taken from a response (docs/faults.md, "Secrets").
            secrets=Secrets.of_credentials(username, password),
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


class Customers(CustomerWrites):
    """The customer endpoints. Reach it as ``client.customers``.

    ``update`` and ``delete`` come from :class:`~customer_sdk._customer_writes.CustomerWrites`.

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

        Any key round-trips exactly: ``,`` and ``:`` are escaped for the ``where`` filter (and
        nothing else, as ChargeOver's escape-syntax page says) and the whole clause is
        percent-encoded.

        Args:
            key: The external key.

        Returns:
            The customer, or None when no customer has that key.

        Raises:
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await self._engine.lookup(checked_value(key, "external_key"))

    # This name shadows the builtin inside the class body: methods below it annotate with
    # ``Sequence`` or ``builtins.list``, never ``list[...]`` (mypy: "not valid as a type").
    def list(
        self,
        where: WhereArg = None,
        *,
        order: str | Iterable[str] | None = None,
        page_size: int | None = None,
    ) -> CustomerList:
        r"""Every customer matching ``where``, read page by page (``GET /api/v3/customer``).

        Nothing is sent until the result is iterated: ``async for c in
        client.customers.list(where={"bill_state": "MN"}): ...`` yields :class:`Customer`
        objects; ``.pages()`` yields one :class:`Page` per request instead. Each page is a
        retried GET (``limit``/``offset``); the listing ends at the first page shorter than
        ``page_size``. Memory stays at one page; leaving the loop early leaves nothing open.

        Args:
            where: ChargeOver's filter. A string in its own syntax (``"company:CONTAINS:acme"``,
                clauses joined by ``,``; escape ``,`` and ``:`` in values yourself); a mapping
                of EQUALS clauses (``{"external_key": "k,1"}``; values escaped for you,
                ``None`` means ``IS:NULL``); or a sequence of clause strings and
                ``(field, op, value)`` / ``(field, "IS:NULL")`` tuples (values escaped).
                Operators: EQUALS NOTEQUALS GT LT GTE LTE CONTAINS IS:NULL ISNOT:NULL.
            order: ``"field:ASC"`` / ``"field:DESC"``, several comma-joined or as a
                sequence. ``customer_id:ASC`` is added as the tie-breaker (and is the default)
                so that offset paging is stable.
            page_size: Rows per request, 1 to 500 (default 100; ChargeOver documents neither
                number, see docs/chargeover-api.md, "Paging").

        Returns:
            The listing (an async iterable of :class:`Customer`).

        Raises:
            ConfigurationError: Naming every problem of the arguments, before any I/O.
        """
        return CustomerList(self._engine, build_query(where, order, page_size))

    async def count(self, where: WhereArg = None) -> int:
        """Count the customers matching ``where`` (``GET /api/v3/customer/_count``), retried.

        Args:
            where: A filter in any form :meth:`list` takes; None counts every customer.

        Returns:
            The number of matching customers.

        Raises:
            ConfigurationError: Naming every problem of ``where``, before any I/O.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await count_customers(self._engine, build_query(where))

    async def get_by_external_key(self, key: str) -> Customer:
        """Fetch the customer with this ``external_key``, retrying transient failures.

        Like :meth:`find_by_external_key`, but a missing customer is an error.

        Args:
            key: The external key.

        Returns:
            The customer.

        Raises:
            NotFoundError: No customer has that key.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await get_by_field(self._engine, "external_key", checked_value(key, "external_key"))

    async def get_by_token(self, token: str) -> Customer:
        """Fetch the customer with this ``token`` (ChargeOver's own opaque id), retried.

        Sent as ``where=token:EQUALS:...``: ``token`` is a filterable customer field
        (docs/chargeover-api.md, "The ``where`` filter").

        Args:
            token: The customer's token, e.g. ``"8c3nxe47hrdt"``.

        Returns:
            The customer.

        Raises:
            NotFoundError: No customer has that token.
            ChargeOverError: On a failure that retries could not overcome.
        """
        return await get_by_field(self._engine, "token", checked_value(token, "token"))

    @overload
    async def create(
        self, customer: CustomerCreate | Mapping[str, Any], /, *, flags: Flags | None = None
    ) -> CreatedCustomer: ...

    @overload
    async def create(
        self, /, *, flags: Flags | None = None, **fields: Unpack[CustomerFields]
    ) -> CreatedCustomer: ...

    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any] | None = None,
        /,
        *,
        flags: Flags | None = None,
        **fields: Any,
    ) -> CreatedCustomer:
        """Create a customer, retrying without ever creating a duplicate.

        Pass a :class:`CustomerCreate`, a mapping of wire fields, or the fields as keywords
        (``create(company="Acme", external_key="k-1")``). The keywords are typed by
        :class:`~customer_sdk.CustomerFields`: mypy and editors know every field, so a typo
        (``compnay=``) is a type error as well as a ``ValidationError`` at run time.

        Failures are handled by class (docs/faults.md): a failure that proves nothing was sent
        is resent; a 429 waits for its ``Retry-After``; an ambiguous failure (reset, timeout,
        5xx, a cut 201) is reconciled by looking the ``external_key`` up — found means done
        (``created=False``), not found means safe to send again. Without an ``external_key`` an
        ambiguous failure is never resent.

        Args:
            customer: The customer, as a model or mapping.
            flags: Side effects ChargeOver may set off (``Flags(emails=False)``: no e-mail);
                sent on every attempt. None: the account's settings.
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
        engine = self._engine if flags is None else self._engine.with_flags(check_flags(flags))
        # Serialised once: the bytes signed are the bytes sent, on every attempt.
        call = engine.create(orjson.dumps(wire), wire.get("external_key"))
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
        concurrency: int = 16,
        batch_size: int = 1,
        journal: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
        adaptive: bool = False,
        max_auth_failures: int = 3,
        reject_duplicate_keys: bool = False,
        flags: Flags | None = None,
        on_existing: OnExisting = "skip",
        max_outage: float | None = MAX_OUTAGE,
    ) -> BulkJob:
        """Create many customers: a streaming job with bounded memory, per-row results.

        ``rows`` is read lazily through a bounded queue by a fixed pool of ``concurrency``
        workers, so memory stays flat however long the input. Iterate the job for one
        :class:`~customer_sdk.RowResult` per row, in completion order; a row that fails
        validation is a ``rejected`` result, never an exception. Every row is created with the
        same no-duplicate rules as :meth:`create`. During an outage (every answer a 5xx, or
        refused) the workers are held and one probe is sent at growing intervals; the job
        resumes by itself when the server answers again, or stops resumably with
        :class:`~customer_sdk.errors.OutageError` after ``max_outage`` seconds (about 20 s
        when the server never answered at all: a refused port, a name that does not resolve).

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
            concurrency: Workers (requests in flight at once). Default 16.
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
            flags: Side effects ChargeOver may set off for every create and update of the job
                (``Flags.all_off()`` for a quiet migration); None: the account's settings.
            on_existing: What to do with a row whose ``external_key`` a customer already has:
                ``"skip"`` (default) reports it ``existed``; ``"update"`` PUTs the row's fields
                to that customer and reports it ``updated`` (an upsert). Keyless rows are
                always created.
            max_outage: Seconds an outage may hold the job (default 600) before it stops with
                :class:`~customer_sdk.errors.OutageError` (after the results so far; the rows
                it held are ``failed``, not sent); None: no bound once the server has
                answered. A server that never answered is given up on after about 20 s.

        Returns:
            The job: ``async with job: async for result in job: ...``; ``job.stats`` counts.

        Raises:
            ConfigurationError: On an invalid option (results and failures of rows are
                reported through the job).
        """
        if on_existing not in ("skip", "update"):
            raise ConfigurationError(f"on_existing must be 'skip' or 'update', got {on_existing!r}")
        engine = self._engine if flags is None else self._engine.with_flags(check_flags(flags))
        return BulkJob(
            engine,
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
            update_existing=on_existing == "update",
            max_outage=max_outage,
        )
