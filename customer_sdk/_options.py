"""Per-call options: an engine variant with another retry policy, request timeout or deadline.

Used by ``ChargeOverClient.with_options`` (a view sharing the pool, the limiter and its 429
pause) and by the ``timeout=``/``deadline=`` keywords of each call. A variant is made with
``attrs.evolve``, as a bulk job's is, so the client's engine is never changed; the common call,
without options, builds nothing.
"""

from __future__ import annotations

import attrs

from customer_sdk._config import check_call_options
from customer_sdk._engine import Engine
from customer_sdk._retry_policy import RetryPolicy

__all__ = ["engine_for", "evolved"]


def evolved(
    engine: Engine, retry: RetryPolicy | None, timeout: float | None, deadline: float | None
) -> Engine:
    """``engine`` with another policy, request timeout or call deadline.

    Args:
        engine: The client's engine.
        retry: The policy to use instead, or None for the engine's.
        timeout: Seconds per request, or None for the engine's.
        deadline: Seconds per call (set on the policy), or None for the policy's.

    Returns:
        The variant (``engine`` itself when nothing changes).

    Raises:
        ConfigurationError: On a timeout or deadline that is not a number of seconds > 0.
    """
    if retry is None and timeout is None and deadline is None:
        return engine
    check_call_options(timeout=timeout, deadline=deadline)
    policy = engine.retry if retry is None else retry
    if deadline is not None:
        policy = attrs.evolve(policy, deadline=deadline)
    per_request = engine.timeout if timeout is None else timeout
    return attrs.evolve(engine, retry=policy, timeout=per_request)


def engine_for(engine: Engine, timeout: float | None, deadline: float | None) -> Engine:
    """The engine one call runs on: ``engine``, or a variant for the call's own options.

    Args:
        engine: The client's (or view's) engine.
        timeout: The call's ``timeout=``, or None.
        deadline: The call's ``deadline=``, or None.

    Returns:
        The engine to use.

    Raises:
        ConfigurationError: On a timeout or deadline that is not a number of seconds > 0.
    """
    return evolved(engine, None, timeout, deadline)
