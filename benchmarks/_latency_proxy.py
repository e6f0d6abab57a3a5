"""A TCP proxy that adds round-trip latency, for benchmarks of a far-away server.

Each chunk read from one side is written to the other ``rtt / 2`` seconds later, in order, per
direction: a request and its answer each cross it once, so every round trip gains ``rtt``, and
a connection's set-up (the first request's wait) too. Nothing is dropped, reordered or
throttled; bandwidth is what loopback gives. It runs in its own process
(``python -m benchmarks._latency_proxy PORT_FILE BASE_URL RTT``) so that its work does not
share the client's event loop; :func:`latency_proxy` starts and stops it.
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
from urllib.parse import urlsplit

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read, in order."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await pending.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:  # the other side's end of stream, delayed like the data
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = loop.create_task(deliver())
    try:
        while True:
            data = await reader.read(_CHUNK)
            pending.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await sender
    except (OSError, asyncio.IncompleteReadError):
        sender.cancel()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def start_proxy(base_url: str, rtt: float) -> asyncio.Server:
    """Start the proxy in this event loop (tests; benchmarks run it in its own process).

    Args:
        base_url: ``http://127.0.0.1:PORT`` (a loopback server).
        rtt: Seconds added to every round trip.

    Returns:
        The listening server, on a free loopback port; close it when done.
    """
    target_port = urlsplit(base_url).port
    if target_port is None:
        raise ValueError(f"no port in {base_url!r}")

    async def handle(down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            down_w.close()
            return
        for w in (down_w, up_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        half = rtt / 2
        with contextlib.suppress(asyncio.CancelledError):  # the proxy is stopping: quietly
            await asyncio.gather(
                _pump(down_r, up_w, half), _pump(up_r, down_w, half), return_exceptions=True
            )

    return await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)


async def _serve(port_file: Path, base_url: str, rtt: float) -> None:
    server = await start_proxy(base_url, rtt)
    port = server.sockets[0].getsockname()[1]
    port_file.write_text(str(port))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


@contextlib.contextmanager
def latency_proxy(base_url: str, rtt: float) -> Iterator[str]:
    """Run a proxy adding ``rtt`` seconds per round trip in front of ``base_url``.

    Args:
        base_url: ``http://127.0.0.1:PORT`` (a loopback server).
        rtt: Seconds added to every round trip.

    Yields:
        The proxy's base URL, ``http://127.0.0.1:PORT``.
    """
    port_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"proxy-{os.getpid()}-{time.time_ns()}"
    argv = [
        sys.executable,
        "-m",
        "benchmarks._latency_proxy",
        str(port_file),
        base_url,
        str(rtt),
    ]
    proc = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("latency proxy did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        port_file.unlink(missing_ok=True)


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
