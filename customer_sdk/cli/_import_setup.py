"""Opening what an import sends through: the embedded sandbox or the real account, and the client.

:func:`open_client` builds the :class:`~customer_sdk.ChargeOverClient` an import uses, either
against a sandbox started in this process (``--sandbox``) or from the ``CHARGEOVER_*`` variables,
optionally sharing the account's rate limit through Redis (``--redis``), and collects the
credentials every output must mask. Everything it opens is registered on the caller's exit
stack, so it is closed however the import ends. It also owns the options that shape what each
row's write does (:func:`add_write_options`): the side-effect flags and the upsert. This module
reads no row and draws nothing after the one ``sandbox:`` banner line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Final

import attrs

from customer_sdk._client import ChargeOverClient
from customer_sdk._flags import FLAG_PARAMS, Flags
from customer_sdk._ratelimit import Limiter
from customer_sdk._retry_policy import RetryEvent, RetryPolicy
from customer_sdk._update import OnExisting
from customer_sdk.cli._common import (
    SANDBOX_BURST,
    SANDBOX_CLIENT_SHARE,
    SANDBOX_FAULTS,
    SANDBOX_RATE,
    fail,
    redact_url,
)
from customer_sdk.errors import ConfigurationError

if TYPE_CHECKING:  # the sandbox (aiohttp.web) is imported only when --sandbox asks for it
    from customer_sdk.sandbox import Sandbox

__all__ = [
    "Connection",
    "add_write_options",
    "client_rate",
    "import_flags",
    "on_existing",
    "open_client",
    "redis_budget_name",
]

# What each --no-<flag> turns off (docs/chargeover-api.md, "Query flags").
_FLAG_HELP: Final = {
    "emails": "send no ChargeOver e-mails for these customers (_flag_emails=0)",
    "webhooks": "fire no webhooks for these creates and updates (_flag_webhooks=0)",
    "quickbooks": "queue nothing for the QuickBooks sync (_flag_quickbooks=0)",
    "events": "record no events, so no workflow runs on them (_flag_events=0)",
}


def add_write_options(parser: argparse.ArgumentParser) -> None:
    """Add the side-effect options (``--no-emails`` ...) and ``--update-existing`` to ``import``.

    Args:
        parser: The ``import`` subcommand's parser.
    """
    for name, _ in FLAG_PARAMS:
        parser.add_argument(f"--no-{name}", action="store_true", help=_FLAG_HELP[name])
    parser.add_argument(
        "--update-existing",
        action="store_true",
        help="upsert: a row whose external_key a customer already has gets its fields PUT to "
        "that customer (outcome 'updated') instead of being reported 'existed'",
    )


def import_flags(args: argparse.Namespace) -> Flags | None:
    """The side-effect flags the ``--no-*`` options ask for.

    Args:
        args: The ``import`` options.

    Returns:
        The flags (each asked-for one off, the others unset), or None when none was given.
    """
    off = {name: False for name, _ in FLAG_PARAMS if getattr(args, f"no_{name}", False)}
    return Flags(**off) if off else None


def on_existing(args: argparse.Namespace) -> OnExisting:
    """What ``create_many`` does with a row whose key exists (``--update-existing``).

    Args:
        args: The ``import`` options.

    Returns:
        ``"update"`` or ``"skip"``.
    """
    return "update" if getattr(args, "update_existing", False) else "skip"


@attrs.frozen
class Connection:
    """What :func:`open_client` opened.

    Attributes:
        client: The entered client; closed by the exit stack it was opened on.
        secrets: The credentials in use, masked in every line and report cell written.
        sandbox: The embedded sandbox (``--sandbox``), for its counters; else None.
    """

    client: ChargeOverClient
    secrets: tuple[str, ...]
    sandbox: Sandbox | None = None


def redis_budget_name(environ: Mapping[str, str]) -> str:
    """The Redis key prefix of an account's shared budget, as ``import --redis`` uses it.

    Every process and host importing into one ChargeOver account computes the same name from
    its ``CHARGEOVER_*`` variables, so they share one rate and one 429 pause without being told
    a name. It is hashed: the key names in Redis need not reveal the account's URL or username.

    Args:
        environ: The environment holding ``CHARGEOVER_BASE_URL`` (or ``CHARGEOVER_INSTANCE``)
            and ``CHARGEOVER_USERNAME``.

    Returns:
        E.g. ``customer_sdk:3f2a9c0d1e4b5a6f``.
    """
    account = "|".join(
        environ.get(k, "")
        for k in ("CHARGEOVER_BASE_URL", "CHARGEOVER_INSTANCE", "CHARGEOVER_USERNAME")
    )
    return "customer_sdk:" + hashlib.sha256(account.encode()).hexdigest()[:16]


def client_rate(args: argparse.Namespace) -> float | None:
    """The rate the import's own limiter holds, in requests/s, or None to find it adaptively.

    Args:
        args: The ``import`` options.

    Returns:
        None with ``--redis`` (the shared limiter governs alone); ``--rate`` when given; under
        ``--sandbox`` without ``--adaptive``, just below the sandbox's limit, so the demo shows
        few 429s; otherwise None (create_many's adaptive limiter).
    """
    if args.redis is not None:
        return None
    if args.rate is None and args.sandbox and not args.adaptive:
        return SANDBOX_CLIENT_SHARE * (args.sandbox_rate or SANDBOX_RATE)
    rate: float | None = args.rate
    return rate


async def open_client(
    args: argparse.Namespace,
    stack: contextlib.AsyncExitStack,
    *,
    on_retry: Callable[[RetryEvent], None],
    err: IO[str],
) -> Connection:
    """Start the sandbox if asked, build the limiter and the client, and enter them.

    Args:
        args: The ``import`` options (already checked).
        stack: Everything opened here is closed by it, in reverse order.
        on_retry: Called for every retry the client makes (the summary counts them).
        err: Where the ``sandbox:`` banner goes (not with ``--quiet``).

    Returns:
        The entered client, the secrets to mask and the sandbox if any.

    Raises:
        UsageError: A bad ``--faults`` spec, missing ``CHARGEOVER_*`` variables, or an unusable
            ``--redis``.
    """
    policy = RetryPolicy(on_retry=on_retry)
    if args.sandbox:
        conn = await _open_sandbox(args, stack, policy, err)
    else:
        limiter: Limiter | None = None
        if args.redis is not None:
            limiter = _redis_limiter(args, stack)
            await _check_limiter(limiter)
        try:
            client = ChargeOverClient.from_env(retry=policy, limiter=limiter, timeout=args.timeout)
        except ConfigurationError as exc:
            fail(str(exc))
        secrets = tuple(
            v for k in ("CHARGEOVER_PASSWORD", "CHARGEOVER_USERNAME") if (v := os.environ.get(k))
        )
        conn = Connection(client, secrets)
    await stack.enter_async_context(conn.client)
    return conn


async def _open_sandbox(
    args: argparse.Namespace, stack: contextlib.AsyncExitStack, policy: RetryPolicy, err: IO[str]
) -> Connection:
    """Start the embedded sandbox on a free loopback port and a client with its credentials."""
    from customer_sdk.sandbox import FaultSpecError, Sandbox

    limit = args.sandbox_rate or SANDBOX_RATE
    try:
        sb = Sandbox(
            rate=limit,
            burst=SANDBOX_BURST,
            # None: the demo's default faults; "" (``--faults ''``): none at all.
            faults=SANDBOX_FAULTS if args.faults is None else (args.faults or None),
            seed=args.seed,
        )
    except FaultSpecError as exc:
        fail(f"--faults: {exc}")
    await stack.enter_async_context(sb)
    client = ChargeOverClient(
        sb.base_url,
        username=sb.username,
        password=sb.password,
        retry=policy,
        timeout=args.timeout,
    )
    if not args.quiet:
        rate = client_rate(args)
        paced = f"{rate:g}/s" if rate else "adaptive"
        err.write(
            f"sandbox: {sb.base_url}, server limit {limit:g}/s, client {paced}, "
            f"faults: {_describe_faults(args.faults)}\n"
        )
    return Connection(client, (sb.username, sb.password), sb)


def _redis_limiter(args: argparse.Namespace, stack: contextlib.AsyncExitStack) -> Limiter:
    """The Redis-shared limiter, named after the account so all its importers share it."""
    try:
        # Optional: the redis package comes with the [redis] extra only.
        from customer_sdk.contrib.redis import RedisLimiter
    except ImportError as exc:
        fail(str(exc))
    name = redis_budget_name(os.environ)
    try:
        limiter = RedisLimiter(
            args.redis,
            rate=args.rate,
            burst=args.burst or 1,
            name=name,
            patience=args.redis_patience,
        )
    except ValueError as exc:
        fail(f"--redis {redact_url(args.redis)}: {exc}")
    stack.push_async_callback(limiter.aclose)
    return limiter


async def _check_limiter(limiter: Limiter) -> None:
    """Take one slot up front: an unreachable Redis is a configuration error (status 2).

    Otherwise every row would fail on its own with the same error.
    """
    from customer_sdk.contrib.redis import LimiterUnavailableError

    try:
        await limiter.acquire()
    except LimiterUnavailableError as exc:
        fail(f"--redis: {exc}")


def _describe_faults(spec: str | None) -> str:
    """Describe the embedded sandbox's fault plan for the banner line."""
    if spec is None:
        return "a few of each kind (default; --faults '' for none)"
    return spec or "none"
