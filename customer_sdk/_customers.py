"""``client.customers``: the customer resource, creates here, reads and writes from its bases.

:class:`Customers` joins :class:`~customer_sdk._customer_reads.CustomerReads` (get, lookups,
list, count) and :class:`~customer_sdk._customer_writes.CustomerWrites` (update, delete) with
the creates: ``create``, which never makes a duplicate, and ``create_many``, the bulk job.
Every method is a thin validated front on the client's :class:`~customer_sdk._engine.Engine`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, Unpack, overload

from customer_sdk._bulk import MAX_OUTAGE, BulkJob
from customer_sdk._customer_reads import CustomerReads
from customer_sdk._customer_writes import CustomerWrites, check_flags, create_body
from customer_sdk._engine import Engine
from customer_sdk._fields import CustomerFields
from customer_sdk._flags import Flags
from customer_sdk._models import CreatedCustomer, CustomerCreate
from customer_sdk._options import engine_for
from customer_sdk._update import OnExisting
from customer_sdk.errors import ConfigurationError

__all__ = ["Customers"]


class Customers(CustomerReads, CustomerWrites):
    """The customer endpoints. Reach it as ``client.customers``.

    ``get``, the lookups, ``list`` and ``count`` come from
    :class:`~customer_sdk._customer_reads.CustomerReads`; ``update`` and ``delete`` from
    :class:`~customer_sdk._customer_writes.CustomerWrites`.

    Args:
        engine: The client's request engine.
        limiter_given: Whether the client was given a limiter of its own (a bulk job then
            adds none: see :meth:`create_many`).
    """

    def __init__(self, engine: Engine, limiter_given: bool = False) -> None:
        self._engine = engine
        self._limiter_given = limiter_given

    @overload
    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any],
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
    ) -> CreatedCustomer: ...

    @overload
    async def create(
        self,
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
        **fields: Unpack[CustomerFields],
    ) -> CreatedCustomer: ...

    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any] | None = None,
        /,
        *,
        flags: Flags | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (an HTTP request's, not this call's)
        deadline: float | None = None,
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
            timeout: Seconds one HTTP request of this call may take, instead of the client's
                (not a customer field: no field has this name).
            deadline: Seconds this call may take in all, retries and reconciling included.
            **fields: The customer's fields, when no ``customer`` is given.

        Returns:
            The id, whether this call created it, how many requests it took, and the status
            and headers of the answer that settled it.

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
        # Validated, then serialised once: the bytes signed are the bytes sent, every attempt.
        body, key = create_body(customer, fields)
        engine = self._engine
        if flags is not None:
            engine = engine.with_flags(check_flags(flags))
        if timeout is not None or deadline is not None:  # checked inline: the hot path
            engine = engine_for(engine, timeout, deadline)
        call = engine.create(body, key)
        # Only the body's bytes and the key live on through the request: a model or a dict
        # held by every in-flight call measurably slows each create once many are in flight
        # (at 256, the model style went from 0.84x to 0.96x raw aiohttp's creates/s;
        # benchmarks/README.md, P1).
        del customer, fields, body
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
        flags: Flags | None = None,
        on_existing: OnExisting = "skip",
        max_outage: float | None = MAX_OUTAGE,
    ) -> BulkJob:
        """Create many customers: a streaming job with bounded memory, per-row results.

        ``rows`` is read lazily through a bounded queue by a pool of workers, so memory stays
        flat however long the input. Iterate the job for one
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
