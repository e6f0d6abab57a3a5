"""Shared test set-up."""

from __future__ import annotations

from typing import Any

import aiohttp
import aioresponses.core


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


aioresponses.core.ClientResponse = _CompatClientResponse  # type: ignore[attr-defined]
