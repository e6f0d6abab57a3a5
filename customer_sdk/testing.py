"""A pytest plugin for users' own test-suites: a local ChargeOver and a client bound to it.

Installed with the package (entry point ``pytest11``), it provides two fixtures:

- ``chargeover_sandbox``: a fresh :class:`customer_sdk.sandbox.Sandbox` on 127.0.0.1 and a free
  port, stopped after the test; inspect ``sb.customers``, ``sb.audit`` and ``sb.counters``, or
  break it on purpose with ``sb.set_faults(...)``.
- ``chargeover_client``: a :class:`customer_sdk.ChargeOverClient` pointed at that sandbox, with
  ``RetryPolicy.no_wait()`` so retries do not slow the suite, closed after the test.

Both are async fixtures run by pytest-asyncio. Without pytest-asyncio installed the fixtures
still exist but fail with a message saying so, and the rest of the user's suite is unaffected.
Nothing is imported from the sandbox until a fixture is used, so the plugin costs nothing to load.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from customer_sdk import ChargeOverClient
    from customer_sdk.sandbox import Sandbox

__all__ = ["chargeover_client", "chargeover_sandbox"]

_HAVE_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None


async def _sandbox() -> AsyncIterator[Sandbox]:
    """Yield a running sandbox with fresh random credentials; stop it afterwards."""
    from customer_sdk.sandbox import Sandbox  # lazy: see the module docstring

    async with Sandbox() as sb:
        yield sb


async def _client(chargeover_sandbox: Sandbox) -> AsyncIterator[ChargeOverClient]:
    """Yield a no-wait client bound to ``chargeover_sandbox``; close it afterwards."""
    from customer_sdk import ChargeOverClient, RetryPolicy

    sb = chargeover_sandbox
    async with ChargeOverClient(
        sb.base_url, username=sb.username, password=sb.password, retry=RetryPolicy.no_wait()
    ) as client:
        yield client


chargeover_sandbox: Any
chargeover_client: Any
if _HAVE_PYTEST_ASYNCIO:
    import pytest_asyncio

    chargeover_sandbox = pytest_asyncio.fixture(_sandbox, name="chargeover_sandbox")
    chargeover_client = pytest_asyncio.fixture(_client, name="chargeover_client")
else:  # pragma: no cover - exercised only without pytest-asyncio

    @pytest.fixture(name="chargeover_sandbox")
    def chargeover_sandbox() -> None:
        """Unavailable: the fixture needs pytest-asyncio."""
        pytest.fail(
            "the chargeover_sandbox fixture needs pytest-asyncio: pip install pytest-asyncio"
        )

    @pytest.fixture(name="chargeover_client")
    def chargeover_client() -> None:
        """Unavailable: the fixture needs pytest-asyncio."""
        pytest.fail(
            "the chargeover_client fixture needs pytest-asyncio: pip install pytest-asyncio"
        )
