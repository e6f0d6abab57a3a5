"""Upsert imports: a row whose external_key exists is PUT to that customer, reported 'updated'."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import ConfigurationError, RetryPolicy, RowOutcome
from customer_sdk._progress import format_summary, render_line
from customer_sdk._progress._tally import Tally
from customer_sdk.cli import main
from customer_sdk.sandbox import Sandbox
from tests._helpers import client_for, sandbox_env, start_import, write_csv


def rows(n: int, company: str = "New") -> list[dict[str, Any]]:
    """Keyed rows ``u-0 ...`` whose company says which import wrote them."""
    return [
        {"external_key": f"u-{i}", "company": f"{company} {i}", "custom_1": "v2"} for i in range(n)
    ]


async def seed(sb: Sandbox, n: int) -> None:
    """Store customers ``u-0 .. u-(n-1)`` with old field values."""
    async with client_for(sb) as client:
        for row in rows(n, "Old"):
            await client.customers.create(**{**row, "custom_1": "v1"})


async def test_create_many_on_existing_update_puts_existing_rows_and_creates_the_rest() -> None:
    """Existing keys are updated with the row's fields, new keys created, keyless rows created."""
    async with Sandbox() as sb:
        await seed(sb, 5)
        async with client_for(sb) as client:
            data = [*rows(8), {"company": "No key"}]
            job = client.customers.create_many(data, on_existing="update")
            async with job:
                results = sorted([r async for r in job], key=lambda r: r.index)
            stats = job.stats
        by_key = Counter(c["external_key"] for c in sb.customers.values())
        companies = {c["external_key"]: c["company"] for c in sb.customers.values()}
        puts = [e for e in sb.audit if e.kind == "update"]
    outcomes = [r.outcome for r in results]
    assert outcomes == [RowOutcome.UPDATED] * 5 + [RowOutcome.CREATED] * 4
    assert [r.customer_id for r in results[:5]] == [1, 2, 3, 4, 5]
    assert (stats.updated, stats.created, stats.existed, stats.done) == (5, 4, 0, 9)
    assert set(by_key.values()) == {1}  # no duplicate
    assert all(companies[f"u-{i}"] == f"New {i}" for i in range(8))
    assert {c["custom_1"] for c in sb.customers.values() if c["external_key"]} == {"v2"}
    assert len(puts) == 5


async def test_without_on_existing_an_existing_row_is_still_existed() -> None:
    """The default ('skip') leaves an existing customer alone and reports it existed."""
    async with Sandbox() as sb:
        await seed(sb, 2)
        async with client_for(sb) as client, client.customers.create_many(rows(2)) as job:
            outcomes = {str(r.outcome) async for r in job}
        assert outcomes == {"existed"}
        assert {c["company"] for c in sb.customers.values()} == {"Old 0", "Old 1"}
    with pytest.raises(ConfigurationError, match="on_existing"):
        client.customers.create_many([], on_existing="merge")  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_size", [1, 5])
async def test_upsert_under_lost_answers_duplicates_nothing_and_loses_no_update(
    batch_size: int,
) -> None:
    """Creates and PUTs whose answers are lost: every key once, every row's fields in place."""
    faults = (
        "create:reset_after_commit=0.15,503_before_commit=0.1;"
        "bulk:reset_after_commit=0.2;update:reset_after_commit=0.2,500_before_commit=0.1"
    )
    async with Sandbox(seed=13) as sb:
        await _seed_then_fault(sb, 20, faults)
        async with client_for(sb, retry=RetryPolicy.no_wait()) as client:
            job = client.customers.create_many(
                rows(40), on_existing="update", batch_size=batch_size
            )
            async with job:
                results = [r async for r in job]
        assert sb.counters["faulted"] > 0
        by_key = Counter(c["external_key"] for c in sb.customers.values())
        companies = {c["external_key"]: c["company"] for c in sb.customers.values()}
    outcomes = Counter(str(r.outcome) for r in results)
    assert set(outcomes) <= {"created", "updated"}, outcomes
    assert outcomes["updated"] >= 20  # the seeded ones at least (a lost create may be updated)
    assert sorted(by_key) == sorted(f"u-{i}" for i in range(40))
    assert set(by_key.values()) == {1}
    assert all(companies[f"u-{i}"] == f"New {i}" for i in range(40))


async def _seed_then_fault(sb: Sandbox, n: int, faults: str) -> None:
    """Seed before the faults are switched on, so only the import meets them."""
    await seed(sb, n)
    sb.set_faults(faults)


async def test_a_journaled_upsert_rerun_takes_updated_rows_from_the_journal(
    tmp_path: Path,
) -> None:
    """Re-run with the journal: 'updated' rows come from it, and no second PUT is sent."""
    journal = tmp_path / "job.db"
    async with Sandbox() as sb:
        await seed(sb, 3)
        async with client_for(sb) as client:
            for _ in range(2):
                job = client.customers.create_many(rows(5), on_existing="update", journal=journal)
                async with job:
                    results = [r async for r in job]
        puts = [e for e in sb.audit if e.kind == "update"]
    assert sorted(str(r.outcome) for r in results) == ["created"] * 2 + ["updated"] * 3
    assert all(r.resumed for r in results)
    assert len(puts) == 3


async def test_cli_update_existing_reports_updated_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """customer-sdk import --update-existing: existing rows PUT, 'updated' counted, exit 0."""
    src = write_csv(tmp_path / "in.csv", ["external_key", "company", "custom_1"], rows(6))
    async with Sandbox() as sb:
        await seed(sb, 4)
        for name, value in sandbox_env(sb).items():
            if name.startswith("CHARGEOVER_"):
                monkeypatch.setenv(name, value)
        status = await asyncio.to_thread(main, ["import", str(src), "--quiet", "--update-existing"])
        companies = sorted(c["company"] for c in sb.customers.values())
    out = capsys.readouterr().out
    assert status == 0
    assert companies == sorted(f"New {i}" for i in range(6))
    assert re.search(r"updated \(upsert\)\s+4\n", out)
    assert re.search(r"created\s+2\n", out)


@pytest.mark.slow
async def test_upsert_killed_at_random_points_then_resumed_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """SIGKILLs mid-upsert (some right after a PUT landed), then a last run: 0 lost, 0 dupes."""
    n, existing = 400, 200
    src = write_csv(tmp_path / "in.csv", ["external_key", "company", "custom_1"], rows(n))
    journal = tmp_path / "job.db"
    rng = random.Random(13)
    kills = put_kills = 0
    args = ("--journal", str(journal), "--update-existing", "--concurrency", "4", "--quiet")
    async with Sandbox() as sb:
        await _seed_then_fault(sb, existing, "update:reset_after_commit=0.05")
        for attempt in range(12):
            if kills >= 5:
                break
            proc = await start_import(sb, src, *args, "--rate", "150")
            if attempt % 2:
                # Kill the moment the server has applied a PUT of this run, before its answer
                # is read: the journal says in flight, the change has landed.
                done = sum(1 for e in sb.audit if e.kind == "update" and e.committed)
                target = done + rng.randint(1, 40)
                while proc.returncode is None:
                    if sum(1 for e in sb.audit if e.kind == "update" and e.committed) >= target:
                        os.kill(proc.pid, signal.SIGKILL)
                        put_kills += 1
                        break
                    await asyncio.sleep(0.002)
            else:
                try:
                    await asyncio.wait_for(proc.wait(), rng.uniform(0.3, 1.2))
                except TimeoutError:
                    proc.kill()
            returncode = await proc.wait()
            _, err = await proc.communicate()
            if returncode != -signal.SIGKILL:
                assert returncode == 0, (returncode, err.decode())
                break
            kills += 1
        final = await start_import(sb, src, *args)
        out, err = await asyncio.wait_for(final.communicate(), 60)
        by_key = Counter(c["external_key"] for c in sb.customers.values())
        companies = {c["external_key"]: c["company"] for c in sb.customers.values()}
    assert kills >= 3, kills
    assert put_kills >= 1, put_kills
    assert final.returncode == 0, err.decode()
    assert sorted(by_key) == sorted(f"u-{i}" for i in range(n))  # 0 lost
    assert set(by_key.values()) == {1}  # 0 duplicates
    assert all(companies[f"u-{i}"] == f"New {i}" for i in range(n))  # no update lost
    updated = re.search(r"updated \(upsert\)\s+([\d,]+)", out.decode())
    assert updated
    assert int(updated[1].replace(",", "")) >= existing


def test_progress_and_summary_show_updated_only_when_there_are_some() -> None:
    """The line and the summary count 'updated' rows; a run without any shows neither."""
    tally = Tally()
    for outcome in ("created", "updated", "updated"):
        tally.add(outcome)
    line = render_line(tally, 10, 1.0, throttled=0, requests=3, width=200, bar=False)
    summary = format_summary(tally, elapsed=1.0, requests=3, throttled=0)
    assert "2 updated" in line
    assert re.search(r"updated \(upsert\)\s+2\n", summary)
    assert tally.all_ok
    plain = Tally()
    plain.add("created")
    assert "updated" not in render_line(
        plain, 1, 1.0, throttled=0, requests=1, width=200, bar=False
    )
    assert "updated" not in format_summary(plain, elapsed=1.0, requests=1, throttled=0)
