"""A bulk job's rule for when to stop: :class:`StopPolicy`.

It stops the job after ``max_auth_failures`` refusals in a row (docs/faults.md F18), on a
shared limiter that stays unavailable (F27), or when the client was closed under it. It sees
each result as it is handed out; it sends nothing and records nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from customer_sdk._bulk._results import FATAL_TYPES, RowResult
from customer_sdk.errors import ChargeOverError, LimiterUnavailableError

__all__ = ["StopPolicy"]

logger: Final = logging.getLogger("customer_sdk")


class StopPolicy:
    """Decides from each result whether the whole job must stop.

    Args:
        max_auth_failures: Refusals (401, 403, TLS) in a row that stop the job.
        client_closed: Tells whether the client was closed.
        stop: Stops the job with an error (raised to the caller after the results so far).
    """

    __slots__ = ("_auth_failures", "_client_closed", "_stop", "max_auth_failures")

    def __init__(
        self,
        max_auth_failures: int,
        client_closed: Callable[[], bool],
        stop: Callable[[BaseException], None],
    ) -> None:
        self.max_auth_failures = max_auth_failures
        self._client_closed = client_closed
        self._stop = stop
        self._auth_failures = 0

    def check(self, result: RowResult) -> bool:
        """Stop the job on a closed client or repeated refusals.

        Args:
            result: The result just handed out.

        Returns:
            True when the job was stopped.
        """
        error = result.error
        if error is not None and self._client_closed():
            # Every further row would fail the same way.
            self._stop(ChargeOverError("the client was closed while the bulk job ran"))
            return True
        if isinstance(error, LimiterUnavailableError):
            # The shared limiter waited out its patience already: every further row would only
            # fail the same way. Stop, resumably; nothing was sent unmetered (docs/faults.md F27).
            logger.error("bulk job stopping: %s", error)
            self._stop(error)
            return True
        if isinstance(error, FATAL_TYPES):
            self._auth_failures += 1
            if self._auth_failures >= self.max_auth_failures:
                logger.error(
                    "bulk job stopping: %d rows in a row refused (%s)",
                    self._auth_failures,
                    type(error).__name__,
                )
                self._stop(error)
                return True
        else:
            self._auth_failures = 0
        return False
