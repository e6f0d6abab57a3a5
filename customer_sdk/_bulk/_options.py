"""Checking a bulk job's options before anything starts: every problem named at once."""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable

from customer_sdk import _protocol as proto
from customer_sdk.errors import ConfigurationError

__all__ = ["check_options"]


def check_options(
    concurrency: object,
    batch_size: object,
    max_auth_failures: object,
    rate: object,
    burst: object,
    rows: object,
    max_outage: object = None,
) -> None:
    """Refuse invalid ``create_many`` options (callers may not be type-checked).

    Args:
        concurrency: Requests in flight: None (adaptive) or an int >= 1.
        batch_size: Rows per request: an int from 1 to 25.
        max_auth_failures: Refusals in a row that stop the job: an int >= 1.
        rate: Requests per second, or None (checked by the limiter it builds).
        burst: Needs a rate.
        rows: An iterable or async iterable.
        max_outage: Seconds, finite and > 0, or None.

    Raises:
        ConfigurationError: Naming every problem.
    """
    problems = []
    if concurrency is not None and (type(concurrency) is not int or concurrency < 1):
        problems.append(f"concurrency must be None or an int >= 1, got {concurrency!r}")
    if type(batch_size) is not int or not 1 <= batch_size <= proto.MAX_BULK:
        problems.append(f"batch_size must be an int from 1 to {proto.MAX_BULK}")
    if type(max_auth_failures) is not int or max_auth_failures < 1:
        problems.append("max_auth_failures must be an int >= 1")
    if burst is not None and rate is None:
        problems.append("burst needs a rate")
    if max_outage is not None and not (
        isinstance(max_outage, int | float)
        and not isinstance(max_outage, bool)
        and 0 < max_outage < math.inf
    ):
        problems.append(f"max_outage must be seconds > 0 (finite) or None, got {max_outage!r}")
    if not isinstance(rows, Iterable | AsyncIterable):
        problems.append(f"rows must be an iterable or async iterable, not {type(rows)}")
    if problems:
        raise ConfigurationError("; ".join(problems))
