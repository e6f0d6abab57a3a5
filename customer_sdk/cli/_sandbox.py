"""``customer-sdk sandbox``: serve the local fault-injecting ChargeOver until Ctrl-C or SIGTERM.

It prints the ``export CHARGEOVER_*=...`` lines that point the SDK (or another
``customer-sdk`` process) at the sandbox, then waits. The sandbox itself is
:class:`customer_sdk.sandbox.Sandbox`; this module only starts, announces and stops it, and
sends no request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
from typing import IO, TYPE_CHECKING

from customer_sdk.cli._common import EXIT_OK, Stopper, fail

if TYPE_CHECKING:  # loaded by cmd_sandbox: other commands need not import aiohttp.web
    from customer_sdk.sandbox import Sandbox

__all__ = ["cmd_sandbox"]


def _exports(sb: Sandbox) -> str:
    """The shell lines that point ``ChargeOverClient.from_env`` at ``sb``, quoted for sh."""
    return "".join(
        f"export {name}={shlex.quote(value)}\n"
        for name, value in (
            ("CHARGEOVER_BASE_URL", sb.base_url),
            ("CHARGEOVER_USERNAME", sb.username),
            ("CHARGEOVER_PASSWORD", sb.password),
        )
    )


async def cmd_sandbox(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``customer-sdk sandbox`` until SIGINT or SIGTERM.

    The sandbox's own credentials are printed on purpose (they are the point of the command);
    they are random unless given.

    Args:
        args: The parsed ``sandbox`` options.
        out: Where the banner, the exports and the closing counters go.
        err: Where the warning about listening beyond loopback goes.

    Returns:
        0 after a signal stopped it.

    Raises:
        UsageError: A bad option combination or fault spec, or the port cannot be listened on.
    """
    from customer_sdk.sandbox import FaultSpecError, Sandbox

    if args.burst is not None and args.rate is None:
        fail("--burst needs --rate")
    if not 0 <= args.port <= 65535:
        fail(f"--port must be 0..65535, got {args.port}")
    try:
        sb = Sandbox(
            host=args.host,
            port=args.port,
            username=args.username,
            password=args.password,
            rate=args.rate,
            burst=args.burst,
            retry_after=args.retry_after,
            faults=args.faults,
            seed=args.seed,
        )
    except FaultSpecError as exc:
        fail(f"--faults: {exc}")
    stopper = Stopper()
    # Nothing resolves this future: SIGINT/SIGTERM cancel it, which is the signal to stop.
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    try:
        await sb.start()
    except OSError as exc:
        waiter.cancel()
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        stopper.install(waiter)
        limit = f"{args.rate:g} requests/s" if args.rate else "no rate limit"
        out.write(f"# ChargeOver sandbox on {sb.base_url} ({limit}); Ctrl-C to stop\n")
        out.write(_exports(sb))
        out.flush()
        if args.host not in {"127.0.0.1", "localhost", "::1"}:
            err.write("warning: the sandbox listens beyond this machine (plain HTTP)\n")
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        if stopper.signalled is None:
            # Cancelled by the caller, not by a signal: propagate it.
            raise asyncio.CancelledError
    finally:
        stopper.remove()
        await sb.stop()
    out.write(
        f"# sandbox stopped: {len(sb.customers)} customers, {sb.counters['requests']} requests\n"
    )
    out.flush()
    return EXIT_OK
