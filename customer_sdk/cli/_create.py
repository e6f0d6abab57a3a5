"""``customer-sdk create``: create one customer from options and print its id.

The fields are converted and validated by :func:`customer_sdk._rows.convert_fields`, exactly as an
import's CSV cells are, so ``--field tags='a;b'`` means what a ``tags`` column means. The create
itself is :meth:`Customers.create <customer_sdk.Customers.create>`, with its safe retries. This
module does not read files and shows no progress.
"""

from __future__ import annotations

import argparse
from typing import IO

from customer_sdk._client import ChargeOverClient
from customer_sdk._rows import convert_fields
from customer_sdk.cli._common import EXIT_AUTH, EXIT_FAILED, EXIT_OK, fail, reason
from customer_sdk.errors import (
    AuthenticationError,
    ChargeOverError,
    ConfigurationError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = ["cmd_create"]


async def cmd_create(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``customer-sdk create``: print ``created ID`` or ``existed ID``.

    Args:
        args: The parsed ``create`` options.
        out: Where the result line goes.
        err: Where each problem goes, one ``error:`` line each.

    Returns:
        0 created or existed (the ``external_key`` was found); 1 invalid fields, a refusal, an
        unknown outcome or another API error; 3 the credentials were refused.

    Raises:
        UsageError: A field given twice, or missing ``CHARGEOVER_*`` variables.
    """
    values: dict[str, str] = {"company": args.company}
    if args.external_key is not None:
        values["external_key"] = args.external_key
    for name, value in args.field:
        if name in values:
            fail(f"--field {name} is given twice (or repeats --company/--external-key)")
        values[name] = value
    fields, problems = convert_fields(values)
    if problems:
        for p in problems:
            err.write(f"error: {p}\n")
        return EXIT_FAILED
    try:
        client = ChargeOverClient.from_env()
    except ConfigurationError as exc:
        fail(str(exc))
    async with client:
        try:
            created = await client.customers.create(fields)
        except ValidationError as exc:
            for p in exc.errors:
                err.write(f"error: {p}\n")
            return EXIT_FAILED
        except (AuthenticationError, PermissionDeniedError) as exc:
            err.write(f"error: {reason(exc)}\n")
            return EXIT_AUTH
        except OutcomeUnknownError as exc:
            err.write(f"error: outcome unknown: {exc}\n")
            return EXIT_FAILED
        except ChargeOverError as exc:
            err.write(f"error: {reason(exc)}\n")
            return EXIT_FAILED
    out.write(f"{'created' if created.created else 'existed'} {created.customer_id}\n")
    return EXIT_OK
