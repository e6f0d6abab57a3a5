"""The runnable examples in examples/, each run against the embedded sandbox.

The FastAPI and aiohttp services are started with their own lifespan / cleanup_ctx and driven
over ASGI / a loopback server; the bulk script and the pytest project run as subprocesses with
``CHARGEOVER_*`` pointing at a sandbox. What the README and the docs say of them is checked here.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from customer_sdk.sandbox import Sandbox

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sandbox_env(sb: Sandbox) -> dict[str, str]:
    """This process's environment with ``CHARGEOVER_*`` pointing at ``sb`` (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEOVER_")}
    env |= {
        "CHARGEOVER_BASE_URL": sb.base_url,
        "CHARGEOVER_USERNAME": sb.username,
        "CHARGEOVER_PASSWORD": sb.password,
    }
    return env


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    """A running sandbox, with this process's ``CHARGEOVER_*`` pointing at it."""
    async with Sandbox() as sb:
        for name, value in sandbox_env(sb).items():
            if name.startswith("CHARGEOVER_"):
                monkeypatch.setenv(name, value)
        yield sb


# --- the FastAPI service ---------------------------------------------------------------------


@pytest.fixture
async def fastapi_http(sandbox: Sandbox) -> AsyncIterator[tuple[ModuleType, httpx.AsyncClient]]:
    """examples/fastapi_app.py with its lifespan running, and an HTTP client to it over ASGI."""
    module = load("fastapi_app")
    app = module.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield module, http
    assert app.state.chargeover.closed  # the lifespan closed the client at shutdown


async def test_fastapi_creates_once_and_finds(
    sandbox: Sandbox, fastapi_http: tuple[ModuleType, httpx.AsyncClient]
) -> None:
    """The FastAPI example creates a customer, finds it again, and never makes a duplicate."""
    _, http = fastapi_http
    body = {"account_id": "acct-1", "company": "Acme", "email": "ops@acme.example"}
    first = await http.post("/signups", json=body)
    assert first.status_code == 201
    assert first.json()["created"] is True
    again = await http.post("/signups", json=body)
    assert again.json() == {"customer_id": first.json()["customer_id"], "created": False}
    found = await http.get("/signups/acct-1")
    assert found.json() == {"customer_id": first.json()["customer_id"], "company": "Acme"}
    assert (await http.get("/signups/nobody")).status_code == 404
    bad = await http.post("/signups", json={"account_id": "acct-2", "company": "A\nB"})
    assert bad.status_code == 422
    assert "company" in str(bad.json()["detail"])
    stored = sandbox.by_key("acct-1")
    assert len(sandbox.customers) == 1
    assert stored is not None
    assert stored["superuser_email"] == "ops@acme.example"


async def test_fastapi_a_long_retry_after_fails_one_request_fast(
    sandbox: Sandbox, fastapi_http: tuple[ModuleType, httpx.AsyncClient]
) -> None:
    """A 429 with Retry-After: 20 is a 503 for that request; the next is held 2 s, not 20."""
    module, http = fastapi_http
    assert module.REQUEST_POLICY.retry_after_cap == 2.0
    sandbox.set_faults("create:script=429@20")
    throttled = await http.post("/signups", json={"account_id": "a-1", "company": "Acme"})
    assert throttled.status_code == 503
    assert throttled.headers["Retry-After"] == "20"
    started = time.monotonic()
    after = await http.post("/signups", json={"account_id": "a-2", "company": "Acme"})
    # Not a speed measurement: the un-capped pause would hold this request for 20 s.
    assert after.status_code == 201
    assert time.monotonic() - started < 15
    assert sandbox.by_key("a-1") is None
    assert sandbox.by_key("a-2") is not None


# --- the aiohttp.web service -----------------------------------------------------------------


@pytest.fixture
async def aiohttp_http(sandbox: Sandbox) -> AsyncIterator[tuple[ModuleType, TestClient]]:  # type: ignore[type-arg]
    """examples/aiohttp_app.py on a loopback port (cleanup_ctx run), and a client to it."""
    module = load("aiohttp_app")
    app = module.make_app()
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        yield module, http
    assert app[module.CHARGEOVER].closed  # the cleanup context closed the client


async def test_aiohttp_creates_once_and_finds(
    sandbox: Sandbox,
    aiohttp_http: tuple[ModuleType, TestClient],  # type: ignore[type-arg]
) -> None:
    """The aiohttp example creates a customer, finds it again, and never makes a duplicate."""
    _, http = aiohttp_http
    body = {"account_id": "acct-1", "company": "Acme"}
    first = await http.post("/signups", json=body)
    assert first.status == 201
    created = await first.json()
    again = await (await http.post("/signups", json=body)).json()
    assert again == {"customer_id": created["customer_id"], "created": False}
    found = await http.get("/signups/acct-1")
    assert await found.json() == {"customer_id": created["customer_id"], "company": "Acme"}
    assert (await http.get("/signups/nobody")).status == 404
    bad = await http.post("/signups", json={"account_id": "acct-2"})
    assert bad.status == 422
    assert "company" in str(await bad.json())
    assert len(sandbox.customers) == 1


async def test_aiohttp_a_long_retry_after_fails_one_request_fast(
    sandbox: Sandbox,
    aiohttp_http: tuple[ModuleType, TestClient],  # type: ignore[type-arg]
) -> None:
    """A 429 with Retry-After: 20 is a 503 for that request; the next is held 2 s, not 20."""
    _, http = aiohttp_http
    sandbox.set_faults("create:script=429@20")
    throttled = await http.post("/signups", json={"account_id": "a-1", "company": "Acme"})
    assert throttled.status == 503
    assert throttled.headers["Retry-After"] == "20"
    started = time.monotonic()
    after = await http.post("/signups", json={"account_id": "a-2", "company": "Acme"})
    # Not a speed measurement: the un-capped pause would hold this request for 20 s.
    assert after.status == 201
    assert time.monotonic() - started < 15


# --- the bulk import script ------------------------------------------------------------------


def write_input(path: Path, rows: int) -> list[str]:
    """The first ``rows`` rows of examples/customers.csv plus three bad rows; their keys."""
    with (EXAMPLES / "customers.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames is not None
        good = [r for r in reader if r["company"] and r["language_id"].isdigit()][:rows]
        fieldnames = reader.fieldnames
    bad = [
        dict(good[0], external_key="bad-1", company=""),  # company is required
        dict(good[1], external_key="bad-2", language_id="abc"),  # not a whole number
        dict(good[2]),  # repeats good[2]'s external_key
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(good + bad)
    return [r["external_key"] for r in good]


async def run_script(sb: Sandbox, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``python *args`` with ``CHARGEOVER_*`` pointing at ``sb``; its status and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=sandbox_env(sb),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=110)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_bulk_script_imports_reports_and_resumes(tmp_path: Path) -> None:
    """bulk_import.py creates every valid row once through faults, reports each bad row, resumes."""
    src, journal, report = tmp_path / "in.csv", tmp_path / "in.journal", tmp_path / "bad.csv"
    keys = write_input(src, 120)
    faults = "create:reset_after_commit=0.05,503_after_commit=0.05,500_before_commit=0.05"
    async with Sandbox(faults=faults, seed=3) as sb:
        argv = [str(EXAMPLES / "bulk_import.py"), str(src), "--journal", str(journal)]
        status, out, _ = await run_script(sb, *argv, "--report", str(report))
        assert status == 1  # the three bad rows
        assert "123 rows" in out
        assert "3 rejected, 0 unknown, 0 failed" in out
        # Every key was new, so each row found by key was one whose create answer was lost.
        existed = re.search(r"(\d+) existed \((\d+) of them our own", out)
        assert existed is not None
        assert existed[1] == existed[2]
        assert "see " + str(report) in out
        assert sorted(c["external_key"] for c in sb.customers.values()) == sorted(keys)
        assert sb.counters["faulted"] > 0  # the faults happened, and were survived
        with report.open(newline="", encoding="utf-8") as f:
            problems = [(r["line"], r["external_key"], r["field"]) for r in csv.DictReader(f)]
        assert problems == [
            ("122", "bad-1", "company"),
            ("123", "bad-2", "language_id"),
            ("124", keys[2], "external_key"),
        ]
        committed = sb.counters["committed"]
        status, out, _ = await run_script(sb, *argv, "--report", str(tmp_path / "again.csv"))
        assert status == 1
        assert "123 rows taken from the journal" in out
        assert sb.counters["committed"] == committed  # nothing created twice


# --- the pytest project ----------------------------------------------------------------------


async def test_pytest_project_passes_in_strict_mode(sandbox: Sandbox) -> None:
    """examples/pytest_project passes on its own config, with pytest-asyncio in strict mode."""
    status, out, err = await run_script(
        sandbox,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        cwd=EXAMPLES / "pytest_project",
    )
    assert status == 0, out + err
    assert "3 passed" in out
