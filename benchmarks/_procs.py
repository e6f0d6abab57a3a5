"""Processes for benchmarks: measured child runs and the sandbox server in its own process.

A figure about memory must come from a fresh interpreter, and a server must not share a core's
time slices with the client it serves. :func:`run_measured` runs a command to completion, takes
its CPU time from ``wait4`` and its peak RSS from its own ``VmHWM`` (see :func:`vm_hwm_mb`);
:class:`SandboxProcess` runs :class:`customer_sdk.sandbox.Sandbox` in a child process driven over
its stdin/stdout with one JSON object per line (``python -m benchmarks._procs CONFIG``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import attrs

RESULT = "RESULT "  # a child's last line of stdout starting with this carries its JSON result


@attrs.frozen
class Measured:
    """One finished child process.

    Attributes:
        wall: Seconds from start to exit, as seen by the parent.
        cpu: The child's user + system CPU seconds.
        max_rss_mb: The child's peak resident set size, MiB.
        returncode: Its exit status.
        stdout: What it printed.
        stderr: What it printed to stderr.
        result: The JSON object of its ``RESULT`` line, or {}.
    """

    wall: float
    cpu: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]


def vm_hwm_mb(pid: int | str = "self") -> float:
    """A process's peak resident set size (``VmHWM``), MiB; 0.0 once it has exited.

    Not ``ru_maxrss``: Linux carries the *parent's* high-water mark into a child across
    fork/vfork and exec, so a child of a 60 MB benchmark runner reports at least 60 MB however
    little it uses itself. ``VmHWM`` belongs to the memory map the child got at exec.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return 0.0


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> Measured:
    """Run ``argv`` to completion: CPU time from ``wait4``, peak RSS from its ``VmHWM``.

    ``VmHWM`` only grows, so it is polled every 20 ms while the child runs and the last reading
    is kept; a child that reports its own (``peak_rss_mb`` in its result) is believed instead,
    being read at its very end. Output goes to temporary files, so a chatty child cannot block
    on a full pipe.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env)
        peak = 0.0
        while True:
            peak = max(peak, vm_hwm_mb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    result: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT) :])
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mb=float(result.get("peak_rss_mb", peak)),
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        result=result,
    )


def print_result(result: Mapping[str, Any]) -> None:
    """Print a child's result line for :func:`run_measured` to pick up."""
    print(RESULT + json.dumps(dict(result)), flush=True)


class SandboxProcess:
    """The sandbox server in its own process, for the length of a ``with`` block.

    Args:
        **config: Keyword arguments for :class:`customer_sdk.sandbox.Sandbox` (JSON values).
    """

    def __init__(self, **config: Any) -> None:
        self.config = config
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = self.username = self.password = ""

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._procs", json.dumps(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=10)
            raise RuntimeError(f"sandbox did not start (exit {self._proc.returncode})")
        info = json.loads(line)
        self.base_url, self.username, self.password = (
            info["base_url"],
            info["username"],
            info["password"],
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # end of commands: the server stops cleanly
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def call(self, op: str, **args: Any) -> Any:
        """Send one command and return its answer (see :func:`_command` for the commands)."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process died")
        return json.loads(line)

    def env(self) -> dict[str, str]:
        """``os.environ`` plus the ``CHARGEOVER_*`` variables that point a client at this server."""
        return {
            **os.environ,
            "CHARGEOVER_BASE_URL": self.base_url,
            "CHARGEOVER_USERNAME": self.username,
            "CHARGEOVER_PASSWORD": self.password,
        }


def _command(sb: Any, cmd: dict[str, Any]) -> Any:
    """Answer one command (runs in the server process).

    ``counters`` -> the sandbox's counters; ``audit_len`` -> how many requests so far;
    ``audit`` (``start``) -> ``[time, kind, status, committed]`` per request from index
    ``start``, times on the shared monotonic clock; ``set_rate`` (``rate``, ``burst``);
    ``set_faults`` (``faults``, a SPEC or None);
    ``clock`` -> ``time.monotonic()`` here.
    """
    op = cmd["op"]
    if op == "counters":
        return dict(sb.counters)
    if op == "audit_len":
        return len(sb.audit)
    if op == "audit":
        return [[e.time, e.kind, e.status, e.committed] for e in sb.audit[cmd.get("start", 0) :]]
    if op == "set_rate":
        sb.set_rate(cmd.get("rate"), cmd.get("burst"))
        return None
    if op == "set_faults":
        sb.set_faults(cmd.get("faults"))
        return None
    if op == "clock":
        return time.monotonic()
    raise ValueError(f"unknown command {op!r}")


async def _serve(config: dict[str, Any]) -> None:
    from customer_sdk.sandbox import Sandbox  # the server side only

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with Sandbox(**config) as sb:
        print(
            json.dumps({"base_url": sb.base_url, "username": sb.username, "password": sb.password}),
            flush=True,
        )
        while line := await reader.readline():
            print(json.dumps(_command(sb, json.loads(line))), flush=True)


if __name__ == "__main__":
    asyncio.run(_serve(json.loads(sys.argv[1])))
