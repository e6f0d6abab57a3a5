"""Reads and creates free what they make at once: no reference cycle per page, get or create.

Each test runs its calls with the collector off and ``gc.DEBUG_SAVEALL`` on, then collects:
every object found then was unreachable, kept only by a reference cycle, which only the
collector frees (Python 3.13 ran it late enough to add 3 MB to a 4,000-customer export's peak).
A cycle counts when one of its members is the SDK's: an instance of its classes (the sandbox's
aside) or of tenacity's (its retry loops), or a function, frame or coroutine of its code. Our
objects merely held by someone else's cycle are not counted (a refused connection makes one in
aiohttp: ``ClientConnectorError -> ConnectionRefusedError -> traceback -> frame
TCPConnector._wrap_create_connection -> frame _create_direct_connection ->
ClientConnectorError``), nor is anything else in the process (the sandbox, aiohttp, asyncio).

The cycle these tests were written for: ``Engine.read`` built a tenacity ``AsyncRetrying`` for
every GET, and tenacity keeps the loop's state in a ``threading.local`` whose ``IterState``
lists bound methods of the loop (``AsyncRetrying -> _local -> dict -> IterState -> list ->
method -> AsyncRetrying``). The loop held our retry closures and the call's ``Run``, and so the
last response's headers and body: one listing page per GET.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import types
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import customer_sdk
from customer_sdk import ChargeOverClient, ConnectError, NotFoundError, RetryPolicy
from customer_sdk import _protocol as proto
from customer_sdk._retry import Run
from customer_sdk._transport import AiohttpTransport
from customer_sdk.sandbox import Sandbox

_SDK = Path(customer_sdk.__file__).parent
_SANDBOX = _SDK / "sandbox"
_PAGES = 20
_PAGE_SIZE = 5


def _code_file(obj: object) -> str | None:
    """The source file of a function, frame or coroutine, else None."""
    if isinstance(obj, types.FunctionType):
        return obj.__code__.co_filename
    if isinstance(obj, types.FrameType):
        return obj.f_code.co_filename
    if isinstance(obj, types.CoroutineType):
        return obj.cr_code.co_filename
    return None


def _attributable(obj: object) -> str | None:
    """A name for ``obj`` when the SDK (or its tenacity loops) made it, else None."""
    kind = type(obj)
    module = kind.__module__
    if module == "tenacity" or module.startswith("tenacity."):
        return f"{module}.{kind.__qualname__}"
    if module.startswith("customer_sdk") and not module.startswith("customer_sdk.sandbox"):
        return f"{module}.{kind.__qualname__}"
    filename = _code_file(obj)
    if filename is None:
        return None
    path = Path(filename)
    if path.is_relative_to(_SDK) and not path.is_relative_to(_SANDBOX):
        return f"{kind.__name__} of {path.name}"
    return None


def _in_cycle(obj: object, garbage: set[int]) -> bool:
    """Whether ``obj`` reaches itself through the objects whose ids are in ``garbage``."""
    seen: set[int] = set()
    todo = [ref for ref in gc.get_referents(obj) if id(ref) in garbage]
    while todo:
        item = todo.pop()
        if item is obj:
            return True
        if id(item) not in seen:
            seen.add(id(item))
            todo.extend(ref for ref in gc.get_referents(item) if id(ref) in garbage)
    return False


@contextlib.contextmanager
def cyclic_garbage() -> Iterator[list[str]]:
    """Run the block with the collector off; then name the SDK's objects it left in cycles."""
    found: list[str] = []
    gc.collect()  # earlier tests' garbage is not this block's
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        garbage = {id(obj) for obj in gc.garbage}
        for obj in gc.garbage:
            name = _attributable(obj)
            if name is not None and _in_cycle(obj, garbage):
                found.append(name)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A sandbox of the test's own."""
    async with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[ChargeOverClient]:
    """A client of ``sb`` holding enough customers for :data:`_PAGES` pages, warmed up."""
    async with ChargeOverClient(
        sb.base_url, username=sb.username, password=sb.password, retry=RetryPolicy.no_wait()
    ) as c:
        for i in range(_PAGES * _PAGE_SIZE - 2):  # the last page is short: it ends the listing
            await c.customers.create(company=f"Co{i}", external_key=f"k{i}")
        await c.customers.get(1)  # the session, pool and caches exist before any measurement
        yield c


def test_the_probe_sees_a_cycle_of_sdk_objects() -> None:
    """The measurement can fail: a Run held in a cycle of its own is reported."""
    with cyclic_garbage() as found:
        run = Run(None)
        run.headers = {"me": run}  # type: ignore[dict-item]
        del run
    assert "customer_sdk._retry.Run" in found


async def test_listing_pages_leave_no_cyclic_garbage(client: ChargeOverClient) -> None:
    """Paging through a listing (one GET per page) leaves no SDK object in a reference cycle."""
    with cyclic_garbage() as found:
        pages = [len(page) async for page in client.customers.list(page_size=_PAGE_SIZE).pages()]
        customers = [c.customer_id async for c in client.customers.list(page_size=_PAGE_SIZE)]
    assert len(pages) == _PAGES
    assert len(customers) == sum(pages)
    assert not found, Counter(found).most_common(8)


async def test_gets_and_lookups_leave_no_cyclic_garbage(client: ChargeOverClient) -> None:
    """A get, a get refused 404, a lookup and a count leave no SDK object in a cycle."""
    with cyclic_garbage() as found:
        for customer_id in range(1, 11):
            assert (await client.customers.get(customer_id)).customer_id == customer_id
        with pytest.raises(NotFoundError):
            await client.customers.get(10_000)
        assert await client.customers.find_by_external_key("no-such-key") is None
        assert (await client.customers.get_by_external_key("k3")).external_key == "k3"
        assert await client.customers.count() == _PAGES * _PAGE_SIZE - 2
    assert not found, Counter(found).most_common(8)


async def test_creates_leave_no_cyclic_garbage(client: ChargeOverClient) -> None:
    """Creates answered 201 at once leave no SDK object in a reference cycle."""
    with cyclic_garbage() as found:
        for i in range(10):
            created = await client.customers.create(company=f"New {i}", external_key=f"new-{i}")
            assert created.created
    assert not found, Counter(found).most_common(8)


async def test_retried_creates_and_reads_leave_no_cyclic_garbage(
    sb: Sandbox, client: ChargeOverClient
) -> None:
    """A create and a get that each needed a second attempt leave no SDK object in a cycle.

    Those run through tenacity's loop (``_retry._Loop``), which clears its per-call state.
    """
    with cyclic_garbage() as found:
        for i in range(5):
            sb.set_faults("create:script=503_before_commit|ok;get:script=503|ok")
            created = await client.customers.create(company=f"Retried {i}", external_key=f"r-{i}")
            assert created.created
            assert (await client.customers.get(created.customer_id)).company == f"Retried {i}"
    assert not found, Counter(found).most_common(8)


async def test_a_transport_error_leaves_no_cyclic_garbage() -> None:
    """A request refused a connection raises an error that holds no cycle through its frame."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: a connection is refused
        request = proto.get_request(f"http://127.0.0.1:{closed.getsockname()[1]}", 1)
        transport = AiohttpTransport(
            session=None,
            headers={},
            timeout=5.0,
            connect_timeout=5.0,
            max_connections=4,
            ssl_context=True,
            max_response_bytes=1 << 20,
        )
        try:
            with pytest.raises(ConnectError):  # the session and pool exist before measuring
                await transport.send(request, None, None)
            with cyclic_garbage() as found:
                for _ in range(5):
                    with pytest.raises(ConnectError):
                        await transport.send(request, None, None)
        finally:
            await transport.aclose()
    assert not found, Counter(found).most_common(8)
