"""Shared test set-up: the fixtures every module may ask for (plain helpers: ``_helpers``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from tests import _scripted as s
from tests._helpers import Sleeps, redis_server


class _NullStreamWriter:
    output_size = 0


class _CompatClientResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds ClientResponse without aiohttp 3.14's new ``stream_writer``.

    Known upstream (pnuckowski/aioresponses#289, no release yet): pass a stand-in so mocked
    responses can be built. Only mocked responses use this class; real sockets are untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NullStreamWriter())
        super().__init__(*args, **kwargs)


aioresponses_core.ClientResponse = _CompatClientResponse  # type: ignore[attr-defined]


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """Aiohttp mocked for the test: register answers per URL, inspect ``mocked.requests``.

    Every aiohttp session is patched while the test runs; a URL with no registered answer
    fails with a connection error, so nothing leaves the process.
    """
    with aioresponses() as m:
        yield m


@pytest.fixture
def sleeps() -> Sleeps:
    """The recording sleep to inject into a retry policy."""
    return Sleeps()


@pytest.fixture
async def server() -> AsyncIterator[s.ScriptedServer]:
    """A scripted loopback server (single creates, _bulk, lookups), stopped after the test."""
    async with s.ScriptedServer() as srv:
        yield srv


@pytest.fixture
def collect_garbage() -> Iterator[None]:
    """Collect after the test so a leaked transport warns (an error) inside that test."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, stopped after the module."""
    with redis_server(tmp_path_factory.mktemp("redis")) as (_, url):
        yield url
