"""ChargeOverClient: lifecycle and orchestration only.

The client owns one transport (one aiohttp session), one auth scheme, one limiter and one compiled
retry policy, and runs the retry loops. It holds no wire strings and no status checks: requests
are built and responses deciphered by :mod:`customer_sdk._protocol`; bytes move in
:mod:`customer_sdk._transport`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import time
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from multidict import CIMultiDict

from customer_sdk import _protocol as proto
from customer_sdk._auth import Auth, BasicAuth, SignatureAuth
from customer_sdk._models import (
    CreatedCustomer,
    Customer,
    CustomerCreate,
    wire_from_mapping,
    wire_of,
)
from customer_sdk._protocol import HttpRequest, HttpResponse, Outcome
from customer_sdk._ratelimit import Limiter, PauseGate, no_wait_check
from customer_sdk._retry import Retrier, RetryEvent, RetryPolicy, Run
from customer_sdk._transport import AiohttpTransport
from customer_sdk.errors import (
    BadRequestError,
    ChargeOverError,
    ConfigurationError,
    ConnectError,
    ExternalKeyReservedError,
    OutcomeUnknownError,
    RateLimitError,
)

if TYPE_CHECKING:
    from customer_sdk._bulk import BulkJob

__all__ = ["ChargeOverClient", "Customers"]

logger: Final = logging.getLogger("customer_sdk")
T = TypeVar("T")
_USER_AGENT: Final = "customer-sdk-python"


def _normalise_base(base_url: str | None, instance: str | None, allow_insecure: bool) -> str:
    """Turn ``https://acme.chargeover.com[/api/v3][/]`` or an instance name into the base."""
    if (base_url is None) == (instance is None):
        raise ConfigurationError("give exactly one of base_url and instance")
    if instance is not None:
        if not instance or not instance.replace("-", "").isalnum():
            raise ConfigurationError(f"instance must be a ChargeOver subdomain, got {instance!r}")
        return f"https://{instance}.chargeover.com"
    assert base_url is not None
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError("base_url must be an absolute http(s) URL")
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
    if path.endswith(proto.API_PREFIX):  # users paste the endpoint URL shown in ChargeOver
        path = path[: -len(proto.API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


class _SendObserver(Protocol):
    """Told of every request a client sends (a bulk job's view: its stats and its circuit)."""

    def on_send(self) -> None:
        """A request is about to go out."""

    def on_answer(self, result: int | ChargeOverError) -> None:
        """It was answered with this status, or failed in the transport with this error."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        problems = []
        if not username:
            problems.append("username is empty")
        if not password:
            problems.append("password is empty")
        if any(c in username + password for c in "\r\n\x00"):
            problems.append("credentials must not contain CR, LF or NUL")
        if auth == "basic" and ":" in username:
            problems.append("a Basic-auth username cannot contain ':'")
        if auth not in {"basic", "signature"}:
            problems.append(f"auth must be 'basic' or 'signature', got {auth!r}")
        if not timeout > 0 or not connect_timeout > 0:
            problems.append("timeouts must be > 0")
        if max_connections < 1:
            problems.append("max_connections must be >= 1")
        if ssl_context is False and not allow_insecure:
            problems.append("ssl_context=False disables TLS verification; pass allow_insecure=True")
        if problems:
            raise ConfigurationError("; ".join(problems))
        self.base_url: Final = _normalise_base(base_url, instance, allow_insecure)
        self._auth: Auth = (
            BasicAuth(username, password) if auth == "basic" else SignatureAuth(username, password)
        )
        self._username = username
        self.retry: Final = retry if retry is not None else RetryPolicy()
        self._retrier = Retrier(self.retry)
        # The default gate waits through the policy's sleep, so RetryPolicy.no_wait() covers it.
        self._limiter: Limiter = (
            limiter if limiter is not None else PauseGate(sleep=self._retrier.sleep)
        )
        self._limiter_now = no_wait_check(self._limiter)
        # A bulk job runs its own rate limiter unless the caller chose this one.
        self._limiter_given = limiter is not None
        # None on the client itself; a bulk job's view of it sets its own (see _bulk).
        self._observer: _SendObserver | None = None
        common = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        # Basic auth is the same header on every request: bake it in once (the hot path).
        # A signature is per request (chargeover-api.md, "Base URL and auth"): _send adds it.
        self._static_auth = isinstance(self._auth, BasicAuth)
        if self._static_auth:
            common["Authorization"] = self._auth.header("", "", None)
        self._transport = AiohttpTransport(
            session=session,
            headers=common,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            ssl_context=True if ssl_context is None else ssl_context,
            max_response_bytes=max_response_bytes,
        )
        self.customers: Final = Customers(self)

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
        env = os.environ if environ is None else environ
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
        kwargs.update(overrides)
        return cls(**kwargs)

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
        await self._transport.aclose()

    @property
    def closed(self) -> bool:
        """True once the client has been closed."""
        return self._transport.closed

    @property
    def limiter(self) -> Limiter:
        """The rate limiter every request of this client goes through (set when built)."""
        return self._limiter

    # --- the one place a request goes out ------------------------------------------------

    async def _send(self, request: HttpRequest, run: Run) -> HttpResponse:
        if not self._limiter_now():  # the limiter is open for nearly every request
            await self._limiter.acquire()
        headers: CIMultiDict[str] | None = None
        if not self._static_auth:
            auth = self._auth.header(request.method, request.url, request.body)
            headers = CIMultiDict(Authorization=auth)
        remaining = run.remaining()
        if remaining is not None and remaining <= 0:
            # The limiter's wait (a shared queue, a long Retry-After pause) spent the call's
            # deadline. Nothing has been sent: sending now with no time left would turn a
            # clean "not sent" into an ambiguous outcome (faults.md) for nothing.
            raise ConnectError("the call's deadline passed before the request could be sent")
        run.requests += 1
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        observer = self._observer
        if observer is not None:
            observer.on_send()
        try:
            resp = await self._transport.send(request, headers, remaining)
        except ChargeOverError as exc:
            if observer is not None:
                observer.on_answer(exc)
            if debug:
                logger.debug(
                    "%s %s -> %s after %.1f ms (attempt %d)",
                    request.method,
                    request.path,
                    type(exc).__name__,
                    (time.perf_counter() - started) * 1000,
                    run.requests,
                )
            raise
        if debug:
            logger.debug(
                "%s %s -> %d in %.1f ms (attempt %d)",
                request.method,
                request.path,
                resp.status,
                (time.perf_counter() - started) * 1000,
                run.requests,
            )
        if observer is not None:
            observer.on_answer(resp.status)
        if resp.status == 429:
            ra = proto.parse_retry_after(resp.headers)
            cap = self.retry.retry_after_cap
            self._limiter.on_throttled(None if ra is None else min(ra, cap))
        else:
            self._limiter.on_success()
        return resp

    async def _wait_or_stop(
        self, run: Run, exc: ChargeOverError, operation: str, action: str
    ) -> bool:
        """Log and wait before a retry; False when the budget is spent."""
        retry_after = None
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            retry_after = exc.retry_after
        delay = run.next_delay(retry_after)
        if delay is None:
            return False
        logger.warning(
            "%s: attempt %d failed (%s); %s in %.2f s",
            operation,
            run.requests,
            _reason(exc),
            action,
            delay,
        )
        if self.retry.on_retry is not None:
            self.retry.on_retry(
                RetryEvent(
                    operation=operation, attempt=run.requests, error=exc, action=action, delay=delay
                )
            )
        await self._retrier.sleep(delay)
        return True

    async def _request_idempotent(
        self, request: HttpRequest, run: Run, operation: str, parse: Callable[[HttpResponse], T]
    ) -> T:
        """Send a GET and parse it, retrying every transient failure (a GET is safe to repeat).

        Parsing is inside the loop so that a cut or malformed 200 is retried like a reset.
        """
        while True:
            try:
                return parse(await self._send(request, run))
            except ChargeOverError as exc:
                if proto.classify(exc) in {Outcome.FATAL, Outcome.REJECTED}:
                    raise
                if self._too_long(exc) or not await self._wait_or_stop(
                    run, exc, operation, "retry"
                ):
                    raise

    def _too_long(self, exc: ChargeOverError) -> bool:
        # Retry-After above the cap: a single call fails fast rather than hang (faults.md F14).
        return (
            isinstance(exc, RateLimitError)
            and exc.retry_after is not None
            and exc.retry_after > self.retry.retry_after_cap
        )


def _reason(exc: ChargeOverError) -> str:
    # The type and status only: a server message may echo customer data into the log.
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} HTTP {status}" if status else type(exc).__name__


class Customers:
    """The customer endpoints. Reach it as ``client.customers``.

    Args:
        client: The owning client.
    """

    def __init__(self, client: ChargeOverClient) -> None:
        self._client = client

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
        c = self._client
        request = proto.get_request(c.base_url, customer_id)
        obj = await c._request_idempotent(request, c._retrier.start(), "get", proto.parse_object)
        return Customer.from_wire(obj)

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
        return await self._lookup(key, self._client._retrier.start())

    async def _lookup(self, key: str, run: Run) -> Customer | None:
        if not isinstance(key, str) or not key:
            raise ConfigurationError("external_key must be a non-empty str")
        c = self._client
        request = proto.find_by_key_request(c.base_url, key)
        for obj in await c._request_idempotent(request, run, "lookup", proto.parse_list):
            # The filter is exact, but compare anyway: a server that ignored the escapes
            # must not make us adopt somebody else's customer.
            if obj.get("external_key") == key:
                return Customer.from_wire(obj)
        return None

    async def create(
        self, customer: CustomerCreate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> CreatedCustomer:
        """Create a customer, retrying without ever creating a duplicate.

        Pass a :class:`CustomerCreate`, a mapping of wire fields, or the fields as keywords
        (``create(company="Acme", external_key="k-1")``). Failures are handled by class
        (faults.md): a failure that proves nothing was sent is resent; a 429 waits for its
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
        call = self._create_wire(wire, None)
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
    ) -> BulkJob:
        """Create many customers: a streaming job with bounded memory, per-row results.

        ``rows`` is read lazily through a bounded queue by a fixed pool of ``concurrency``
        workers, so memory stays flat however long the input. Iterate the job for one
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

        Returns:
            The job: ``async with job: async for result in job: ...``; ``job.stats`` counts.

        Raises:
            ConfigurationError: On an invalid option (results and failures of rows are
                reported through the job).
        """
        from customer_sdk._bulk import BulkJob  # _bulk builds on this module

        return BulkJob(
            self,
            rows,
            concurrency=concurrency,
            batch_size=batch_size,
            journal=journal,
            job_id=job_id,
            rate=rate,
            burst=burst,
            adaptive=adaptive,
            max_auth_failures=max_auth_failures,
        )

    def _create_wire(
        self, wire: Mapping[str, Any], run: Run | None
    ) -> Coroutine[Any, Any, CreatedCustomer]:
        """The create of ``wire``, serialised now: the coroutine keeps only bytes and key."""
        # Serialised once: the bytes signed are the bytes sent, on every attempt.
        return self._create_body(orjson.dumps(wire), wire.get("external_key"), run)

    async def _create_body(self, body: bytes, key: str | None, run: Run | None) -> CreatedCustomer:
        c = self._client
        request = proto.create_request(c.base_url, body)
        run = run or c._retrier.start()
        # The first attempt inline: a create that succeeds at once (nearly all of them) never
        # builds the retry state machine.
        try:
            resp = await c._send(request, run)
            cid, location = proto.parse_created(resp)
        except ChargeOverError as exc:
            return await _CreateCall(self, key, request, run).run(exc)
        return CreatedCustomer(
            customer_id=cid,
            created=True,
            attempts=run.requests,
            location=location,
            external_key=key,
        )


class _CreateCall:
    """The state machine of one create (faults.md's table, one row per branch)."""

    __slots__ = ("_created", "_customers", "_may_exist", "_request", "_run", "key")

    def __init__(self, customers: Customers, key: str | None, request: HttpRequest, run: Run):
        self._customers = customers
        self.key = key
        self._request = request
        self._run = run
        # Set once any attempt may have created the customer: from then on, running out of
        # budget means "unknown", never a plain error that invites a blind resend.
        self._may_exist = False
        # Set once a 2xx proved the create happened (its id unreadable): from then on the
        # customer is only ever looked up, and an unknown outcome says so.
        self._created = False

    def _result(self, cid: int, created: bool, location: str | None) -> CreatedCustomer:
        return CreatedCustomer(
            customer_id=cid,
            created=created,
            attempts=self._run.requests,
            location=location,
            external_key=self.key,
        )

    def _unknown(self, exc: ChargeOverError, why: str) -> OutcomeUnknownError:
        return OutcomeUnknownError(
            why,
            external_key=self.key,
            last_error=f"{type(exc).__name__}: {exc}",
            created=self._created,
        )

    async def run(self, error: ChargeOverError) -> CreatedCustomer:
        """Carry on after an attempt failed with ``error``, until success or a final error."""
        client = self._customers._client
        while True:
            found = await self._after_failure(error)
            if found is not None:
                return self._result(found, False, None)
            # Resending is safe here: nothing was sent, or the lookup proved nothing was made.
            try:
                resp = await client._send(self._request, self._run)
                cid, location = proto.parse_created(resp)
            except ChargeOverError as exc:
                error = exc
                continue
            return self._result(cid, True, location)

    async def _after_failure(self, exc: ChargeOverError) -> int | None:
        """Act on one failed POST by its class (faults.md).

        Returns:
            The id when a lookup found the customer, or None when the POST may be sent again.

        Raises:
            ChargeOverError: When the failure is final (the original, or OutcomeUnknownError).
        """
        client = self._customers._client
        outcome = proto.classify(exc)
        if outcome is Outcome.NOT_SENT or outcome is Outcome.THROTTLED:
            if client._too_long(exc) or not await client._wait_or_stop(
                self._run, exc, "create", "resend"
            ):
                if self._may_exist:
                    raise self._unknown(exc, "create not confirmed") from exc
                raise exc
            return None
        if outcome is Outcome.AMBIGUOUS or outcome is Outcome.CREATED_ID_UNKNOWN:
            self._created = self._created or outcome is Outcome.CREATED_ID_UNKNOWN
            if self.key is None:
                raise self._unknown(
                    exc,
                    "the create may have happened and there is no external_key to check; "
                    "not resent to avoid a duplicate",
                ) from exc
            self._may_exist = True
            # A cut 201 means it was created: look up only, never POST again.
            return await self._reconcile(
                exc,
                wait_first=outcome is Outcome.AMBIGUOUS,
                lookup_only=outcome is Outcome.CREATED_ID_UNKNOWN,
            )
        if outcome is Outcome.REJECTED and isinstance(exc, BadRequestError) and self.key:
            # A 400 on a keyed create may be a duplicate key (ours or older): the message text
            # is undocumented, so decide by lookup (chargeover-api.md, "Errors").
            found = await self._reconcile(exc, wait_first=False, lookup_only=True)
            if found is None and not self._may_exist:
                raise ExternalKeyReservedError(
                    exc.status,
                    exc.message,
                    external_key=self.key,
                    code=exc.code,
                    details=exc.details,
                ) from exc
            # After an earlier ambiguous attempt _reconcile keeps looking (the lookup may lag
            # the write, F23) until it finds the customer or raises OutcomeUnknownError.
            return found
        raise exc

    async def _reconcile(
        self, exc: ChargeOverError, *, wait_first: bool, lookup_only: bool
    ) -> int | None:
        """Look the key up; returns the id if found, None if a resend is safe.

        ``lookup_only`` keeps looking (the lookup may lag the write) while the customer may
        exist; it is used after a 400 that followed an earlier ambiguous attempt.
        """
        client = self._customers._client
        assert self.key is not None
        if wait_first and not await client._wait_or_stop(self._run, exc, "create", "lookup"):
            raise self._unknown(exc, "create not confirmed before the retry budget ran out")
        while True:
            try:
                found = await self._customers._lookup(self.key, self._run)
            except ChargeOverError as lookup_exc:
                raise self._unknown(lookup_exc, "create could not be reconciled") from lookup_exc
            if found is not None and found.customer_id is not None:
                return found.customer_id
            if not (lookup_only and self._may_exist):
                return None
            if not await client._wait_or_stop(self._run, exc, "create", "lookup"):
                raise self._unknown(exc, "created customer not visible to lookups in time")
