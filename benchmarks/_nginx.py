"""nginx with ``limit_req`` in front of a canned 201, for P9: a limit that sends no Retry-After.

:func:`nginx_limit` writes a config of its own into a temporary directory (pid file, error and
access logs, temp paths: nothing of the system's nginx is touched), starts ``nginx`` on a free
loopback port in the foreground, and stops it afterwards. Every request goes through
``limit_req`` (a leaky bucket of ``rate`` per second, ``burst`` extra, ``nodelay``; over it, a
429 with nginx's HTML page and no ``Retry-After``), then to a named location answering the
canned create envelope: ``return`` alone would answer before ``limit_req`` runs (nginx's
rewrite phase comes before its pre-access phase), ``try_files`` defers it past the limit.

The access log (``$msec $status`` per request) is the benchmark's record of what was sent.
nginx comes from Debian's packages (``apt-get install -y nginx-light``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

_CREATED = '{"code":201,"status":"OK","message":"","details":{},"response":{"id":1234}}'

_CONFIG = """
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format timed '$msec $status';
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    limit_req_zone $server_port zone=account:1m rate={rate}r/s;
    limit_req_status 429;
    server {{
        listen 127.0.0.1:{port};
        access_log {d}/access.log timed;
        root {d}/empty;
        location / {{
            limit_req zone=account burst={burst} nodelay;
            try_files /nothing @created;
        }}
        location @created {{
            default_type application/json;
            add_header Location "http://127.0.0.1/api/v3/customer/1234" always;
            return 201 '{created}';
        }}
    }}
}}
"""


@attrs.frozen
class Nginx:
    """A running nginx: its base URL and its access log.

    Attributes:
        base_url: ``http://127.0.0.1:PORT``.
        access_log: The log of every request, ``$msec $status`` per line.
    """

    base_url: str
    access_log: Path

    def mark(self) -> int:
        """Requests logged so far."""
        with contextlib.suppress(FileNotFoundError), self.access_log.open("rb") as f:
            return sum(1 for _ in f)
        return 0

    def audit(self, start: int) -> list[list[Any]]:
        """Requests logged from ``start`` on, as the sandbox audit's ``[time, kind, status, _]``."""
        records: list[list[Any]] = []
        with self.access_log.open() as f:
            for n, line in enumerate(f):
                if n >= start:
                    msec, status = line.split()
                    records.append([float(msec), "create", int(status), None])
        return records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def nginx_limit(rate: int, burst: int) -> Iterator[Nginx]:
    """Run nginx with ``limit_req`` of ``rate``/s (``burst``) in front of a canned 201.

    Args:
        rate: Requests per second.
        burst: Requests over the rate let through at once (``nodelay``).

    Yields:
        The running server.

    Raises:
        RuntimeError: nginx is not installed, or did not start.
    """
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        d = Path(tmp)
        (d / "empty").mkdir()
        port = _free_port()
        conf = d / "nginx.conf"
        conf.write_text(_CONFIG.format(d=d, port=port, rate=rate, burst=burst, created=_CREATED))
        argv = [binary, "-p", str(d), "-c", str(conf), "-e", str(d / "error.log")]
        proc = subprocess.Popen([*argv, "-g", "daemon off;"])
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=1),
                ):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    log = (d / "error.log").read_text() if (d / "error.log").exists() else ""
                    raise RuntimeError(f"nginx did not start: {log.strip()}")
                time.sleep(0.05)
            yield Nginx(f"http://127.0.0.1:{port}", d / "access.log")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
