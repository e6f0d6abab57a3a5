"""``customer-sdk export``: the columns import reads, sandbox round trips, filters, failures."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import ChargeOverClient, CustomerCreate, RetryPolicy
from customer_sdk._fields import FIELD_NAMES
from customer_sdk.cli import main
from customer_sdk.cli._export_rows import csv_cells, csv_loss, jsonl_line
from customer_sdk.sandbox import Sandbox
from tests._helpers import cli_argv, sandbox_env

# Customers with every kind of field, and the keys and text CSV must quote or escape.
PEOPLE: list[dict[str, Any]] = [
    {
        "company": "Acme, Inc.",
        "external_key": "k,1:a\\b",
        "superuser_email": "ops@acme.example",
        "bill_addr1": 'He said "hi", twice; then left',
        "bill_country": "US",
        "custom_3": "x",
        "brand_id": 2,
        "no_taxes": True,
        "no_procfees": True,
        "invoice_delivery": "print",
        "tags": ["vip", "annual"],
    },
    {"company": "Jürgen GmbH ✓", "external_key": "naïve 鍵 🎉", "language_id": 3},
    {"company": "Plain", "external_key": "plain-3", "no_dunning": False, "custom_20": "z"},
]


async def seeded(sb: Sandbox, people: list[dict[str, Any]]) -> None:
    """Create ``people`` in ``sb`` through the SDK."""
    async with ChargeOverClient(
        sb.base_url, username=sb.username, password=sb.password, retry=RetryPolicy.no_wait()
    ) as c:
        for fields in people:
            await c.customers.create(CustomerCreate(**fields))


def by_key(sb: Sandbox) -> dict[str | None, dict[str, Any]]:
    """The sandbox's customers by external_key, each reduced to the exported fields."""
    out = {}
    for obj in sb.customers.values():
        out[obj.get("external_key")] = {name: obj.get(name) for name in FIELD_NAMES}
    return out


def use(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> None:
    """Point CHARGEOVER_* at ``sb``."""
    for name, value in sandbox_env(sb).items():
        if name.startswith("CHARGEOVER_"):
            monkeypatch.setenv(name, value)


@pytest.fixture
async def source() -> AsyncIterator[Sandbox]:
    """The sandbox exported from, holding :data:`PEOPLE`."""
    async with Sandbox() as sb:
        await seeded(sb, PEOPLE)
        yield sb


async def run(monkeypatch: pytest.MonkeyPatch, sb: Sandbox, *argv: str) -> int:
    """Run ``customer-sdk *argv`` against ``sb`` (in a thread: main runs its own loop)."""
    use(monkeypatch, sb)
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_then_import_round_trips_between_sandboxes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Sandbox, fmt: str
) -> None:
    """Export from one sandbox, import into another: the same customers, field for field."""
    out = tmp_path / f"customers.{fmt}"
    assert await run(monkeypatch, source, "export", "--format", fmt, "-o", str(out), "-q") == 0
    assert not (tmp_path / f"customers.{fmt}.part").exists()
    async with Sandbox() as target:
        assert await run(monkeypatch, target, "import", str(out), "--quiet") == 0
        assert by_key(target) == by_key(source)
        assert len(target.customers) == len(PEOPLE)


async def test_csv_has_exactly_the_import_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Sandbox
) -> None:
    """The CSV header is FIELD_NAMES; flags are true/false and tags ';'-joined."""
    out = tmp_path / "c.csv"
    assert await run(monkeypatch, source, "export", "-o", str(out), "-q") == 0
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(FIELD_NAMES)
    first = rows[0]
    assert (first["external_key"], first["tags"], first["no_taxes"]) == (
        "k,1:a\\b",
        "vip;annual",
        "true",
    )
    assert (first["brand_id"], first["invoice_delivery"], rows[1]["parent_customer_id"]) == (
        "2",
        "print",
        "",
    )


async def test_jsonl_carries_what_csv_cannot_and_csv_warns(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Outer spaces and a tag with ';': CSV warns (exit 0), JSONL round-trips them exactly."""
    lossy = [{"company": "  Spaced  ", "external_key": "s-1", "tags": ["a;b"]}]
    async with Sandbox() as sb:
        await seeded(sb, lossy)
        assert await run(monkeypatch, sb, "export", "-o", str(tmp_path / "x.csv"), "-q") == 0
        assert "warning: 1 customers have values a CSV cannot carry" in capsys.readouterr().err
        jsonl = tmp_path / "x.jsonl"
        assert await run(monkeypatch, sb, "export", "--format", "jsonl", "-o", str(jsonl)) == 0
        async with Sandbox() as target:
            assert await run(monkeypatch, target, "import", str(jsonl), "--quiet") == 0
            assert by_key(target) == by_key(sb)


async def test_where_filters_and_stdout_is_the_default(
    monkeypatch: pytest.MonkeyPatch, source: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Repeated --where clauses are AND-ed; without --output the records go to stdout."""
    status = await run(
        monkeypatch,
        source,
        "export",
        "--format",
        "jsonl",
        "--where",
        "customer_id:GT:1",
        "--where",
        "company:CONTAINS:gmbh",
        "--page-size",
        "1",
    )
    captured = capsys.readouterr()
    assert status == 0
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["external_key"] for line in lines] == ["naïve 鍵 🎉"]
    assert "exported 1 customers" in captured.err
    gets = [e for e in source.audit if e.method == "GET"]
    assert len(gets) == 2  # page size 1: one full page, then the empty page


async def test_a_failed_listing_exits_1_and_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    source: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A filter the server refuses (400) is exit 1 and neither FILE nor FILE.part is left."""
    out = tmp_path / "c.csv"
    status = await run(
        monkeypatch, source, "export", "--where", "nosuchfield:EQUALS:1", "-o", str(out)
    )
    assert status == 1
    assert "error: the listing failed part-way: BadRequestError" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


async def test_refused_credentials_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Sandbox
) -> None:
    """A wrong password: exit 3, nothing written."""
    use(monkeypatch, source)
    monkeypatch.setenv("CHARGEOVER_PASSWORD", "wrong")
    status = await asyncio.to_thread(main, ["export", "-o", str(tmp_path / "c.csv")])
    assert status == 3
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --where, a page size over 500, --sandbox-data without --sandbox: status 2."""
    assert main(["export", "--sandbox", "--where", "nope", "-q"]) == 2
    assert "'nope' is not field:OP:value" in capsys.readouterr().err
    assert main(["export", "--page-size", "501"]) == 2
    assert main(["export", "--sandbox-data", "x.csv"]) == 2


def test_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Export --help names each option and the exit statuses."""
    assert main(["export", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in (
        "--format",
        "--output",
        "--where",
        "--order",
        "--page-size",
        "--sandbox",
        "--sandbox-data",
        "--faults",
        "--seed",
        "--quiet",
        "--progress-interval",
        "--verbose",
        "Exit status",
    ):
        assert option in text, option


def test_sandbox_data_seeds_the_embedded_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--sandbox --sandbox-data FILE exports the valid rows of FILE (the demo path)."""
    src = tmp_path / "in.csv"
    src.write_text("company,external_key\nA,a-1\nB,b-2\n,bad\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["export", "--sandbox", "--sandbox-data", str(src), "-o", str(out), "-q"]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        keys = [row["external_key"] for row in csv.DictReader(f)]
    assert keys == ["a-1", "b-2"]
    assert "sandbox: 2 customers" in capsys.readouterr().err


def test_record_helpers_agree_on_columns() -> None:
    """csv_cells and jsonl_line give one value per column; csv_loss is None for clean data."""
    from customer_sdk import Customer

    customer = Customer.from_wire({"customer_id": 1, "company": "A", "tags": ["x"]})
    assert len(csv_cells(customer)) == len(FIELD_NAMES)
    assert list(json.loads(jsonl_line(customer))) == list(FIELD_NAMES)
    assert csv_loss(customer) is None


# Runs the CLI with tracemalloc on and prints the peak of traced bytes last on stderr. The
# collector keeps its default thresholds: a page leaves no reference cycle behind
# (tests/test_gc_cycles.py), so the peak is what the export holds. When each GET left one
# (tenacity's retry loop, holding the page's body), Python 3.13 collected them late enough to
# add 3 MB at 4,000 customers, and this test failed.
_TRACED_MAIN = (
    "import sys, tracemalloc; tracemalloc.start(); "
    "from customer_sdk.cli import main; "
    "rc = main(sys.argv[1:]); "
    "print('peak', tracemalloc.get_traced_memory()[1], file=sys.stderr); sys.exit(rc)"
)


async def _export_peak(tmp_path: Path, n: int) -> int:
    """Peak traced bytes of a ``customer-sdk export`` process listing ``n`` customers.

    The export runs in its own process with tracemalloc on, so only its own allocations count:
    the in-process sandbox keeps the last response of each keep-alive connection (aiohttp's
    handler holds it), and RSS moves with the allocator's thresholds, neither of which is the
    export's memory.
    """
    async with Sandbox() as sb:
        async with ChargeOverClient(
            sb.base_url, username=sb.username, password=sb.password, retry=RetryPolicy.no_wait()
        ) as c:
            rows = ({"company": f"Company {i}", "external_key": f"key-{i}"} for i in range(n))
            async with c.customers.create_many(rows, batch_size=25) as job:
                async for _ in job:
                    pass
        assert len(sb.customers) == n
        out = tmp_path / f"{n}.csv"
        argv = [sys.executable, "-c", _TRACED_MAIN, "export", "-o", str(out), "-q"]
        proc = await asyncio.create_subprocess_exec(
            *argv, env=sandbox_env(sb), stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err
    with out.open(encoding="utf-8") as f:
        assert sum(1 for _ in f) == n + 1
    return int(err.decode().split()[-1])


async def test_export_memory_stays_flat(tmp_path: Path) -> None:
    """Ten times the customers, about the same peak: nothing but a page is held at once.

    Holding 4,000 customers would add about 4.7 MB of Customer objects; the allowance is
    0.5 MB (measured: about 0.04 MB between 400 and 4,000 customers on 3.11 to 3.13; 1 MB on
    3.11/3.12 and 3 MB on 3.13 while each page's GET left a reference cycle behind).
    """
    small = await _export_peak(tmp_path, 400)
    large = await _export_peak(tmp_path, 4000)
    assert large - small < 500_000, (small, large)


def test_a_closed_stdout_ends_the_export_without_a_traceback() -> None:
    """`export | head -1`: the reader leaves; exit 1, one error line, no traceback."""
    example = Path(__file__).parent.parent / "examples" / "customers.csv"
    argv = cli_argv("export", "--sandbox", "--sandbox-data", str(example), "-q")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("parent_customer_id,external_key,company")
        proc.stdout.close()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    assert "error: the output was closed before the export ended" in err
    assert "Traceback" not in err
