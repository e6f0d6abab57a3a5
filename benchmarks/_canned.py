"""A canned ChargeOver stand-in for benchmarks: answers every request with a fixed envelope.

It runs in its own process (``python -m benchmarks._canned PORT_FILE``) so the client under test
has a core to itself on this 2-core machine, and it is a bare asyncio protocol rather than
aiohttp.web so that the server is never the bottleneck being measured. It understands just
enough HTTP/1.1 for keep-alive POSTs and GETs with Content-Length bodies. A POST to
``/api/v3/_bulk`` is answered with one created item per request in the batch (counted, not
parsed: chargeover-api.md, "Bulk"); anything else gets the create answer. It validates nothing
and stores nothing: it measures the client, not the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

_CREATED = b'{"code":201,"status":"OK","message":"","details":{},"response":{"id":1234}}'
_RESPONSE = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json\r\n"
    b"Location: http://127.0.0.1/api/v3/customer/1234\r\n"
    b"Content-Length: " + str(len(_CREATED)).encode() + b"\r\n\r\n" + _CREATED
)

_BULK_ITEM = b'{"code":201,"status":"OK","message":"","response":{"id":%d}}'
_BULK_MARK = b'"request_method"'


_BULK_ANSWERS: dict[int, bytes] = {}


def _bulk_response(n: int) -> bytes:
    """The 200 answer to a ``_bulk`` call of ``n`` creates (ids 1..n), built once per ``n``."""
    answer = _BULK_ANSWERS.get(n)
    if answer is None:
        items = b",".join(_BULK_ITEM % (i + 1) for i in range(n))
        body = (
            b'{"code":200,"status":"OK","message":"","details":{},"response":{"_bulk":['
            + items
            + b"]}}"
        )
        answer = _BULK_ANSWERS[n] = (
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
    return answer


class _Canned(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(self.buf[:end]).lower()
            length = 0
            i = head.find(b"content-length:")
            if i >= 0:
                length = int(
                    head[i + 15 : head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]
                )
            total = end + 4 + length
            if len(self.buf) < total:
                break
            if head.startswith(b"post /api/v3/_bulk "):
                out.append(_bulk_response(self.buf.count(_BULK_MARK, end + 4, total)))
            else:
                out.append(_RESPONSE)
            del self.buf[:total]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def _serve(port_file: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Canned, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    port_file.write_text(str(port))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


@contextlib.contextmanager
def canned_server() -> Iterator[str]:
    """Run the canned server in a subprocess; yield its base URL; stop it afterwards.

    Yields:
        ``http://127.0.0.1:PORT``.
    """
    port_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"canned-{os.getpid()}-{time.time_ns()}"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks._canned", str(port_file)])
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("canned server did not start")
            time.sleep(0.01)
        port = int(port_file.read_text())
        # Wait until it accepts connections.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        port_file.unlink(missing_ok=True)


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
