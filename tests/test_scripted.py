"""The scripted loopback server of the tests (tests/_scripted.py) fails loudly, never silently."""

from __future__ import annotations

import aiohttp
import pytest

from tests._scripted import Exchange, ScriptedServer


async def test_a_handler_that_raises_fails_the_test_at_stop() -> None:
    """A script action that raises makes stop() raise it, instead of a silent dropped connection."""

    def broken(ex: Exchange) -> None:
        raise KeyError("no such field in the test's script")

    server = ScriptedServer(post_script=[broken])
    await server.start()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            await http.post(f"{server.base_url}/api/v3/customer", json={"company": "A"})
    with pytest.raises(AssertionError, match="handler raised KeyError") as info:
        await server.stop()
    assert isinstance(info.value.__cause__, KeyError)


async def test_a_server_whose_handlers_all_succeeded_stops_quietly() -> None:
    """Without a handler failure, stop() returns normally and the request was answered."""
    async with ScriptedServer() as server, aiohttp.ClientSession() as http:
        answer = await http.post(f"{server.base_url}/api/v3/customer", json={"company": "A"})
        answer.release()
    assert answer.status == 201
    assert server.failures == []
