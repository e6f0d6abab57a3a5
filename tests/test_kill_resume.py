"""F25: an import killed with SIGKILL at random points, resumed each time: 0 lost, 0 duplicates.

Keyed rows (paced, with wire faults) and a keyed and keyless mix at full speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from customer_sdk._journal._window import WINDOW_MAX
from customer_sdk.sandbox import Sandbox
from tests._helpers import journal_states, start_import, write_csv

pytestmark = pytest.mark.slow

ROWS = 3000
SEED = 25  # F25


def _write_rows(path: Path) -> list[str]:
    """ROWS keyed rows; returns the keys."""
    keys = [f"kill-{i:05d}" for i in range(ROWS)]
    columns = ["external_key", "company", "bill_country", "tags"]
    rows = (
        dict(zip(columns, [key, f"Kill Test {i} GmbH", "Deutschland", "f25;resume"], strict=True))
        for i, key in enumerate(keys)
    )
    write_csv(path, columns, rows)
    return keys


async def _start(src: Path, journal: Path, sb: Sandbox) -> asyncio.subprocess.Process:
    """Start the import of ``src`` with ``journal``, paced so ~12 kills land before its end."""
    return await start_import(
        sb, src, "--journal", str(journal), "--concurrency", "8", "--rate", "300", "--quiet"
    )


async def test_sigkill_at_random_points_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """>= 10 SIGKILLs (some between the server's commit and the journal write), then 1 of each."""
    keys = _write_rows(tmp_path / "rows.csv")
    journal = tmp_path / "job.db"
    rng = random.Random(SEED)
    kills = on_commit_kills = 0
    # Some rows are also cut on the wire, so reconciliation after a kill meets a lost answer.
    async with Sandbox(faults="create:reset_after_commit=0.02,503_after_commit=0.02") as sb:
        for attempt in range(40):
            if kills >= 12 and on_commit_kills >= 4:
                break
            proc = await _start(tmp_path / "rows.csv", journal, sb)
            # Alternate: a timed kill anywhere (start-up, reading, sending, journal writes), or
            # a kill from inside the server the moment it stores the n-th customer of this run,
            # before the response is written: the child has sent, the journal says in flight.
            by_commit = attempt % 2 == 1
            if by_commit:
                target = rng.randint(1, 120)
                seen = [0]

                def kill_on_commit(
                    _customer: dict[str, Any],
                    pid: int = proc.pid,
                    target: int = target,
                    seen: list[int] = seen,
                ) -> None:
                    seen[0] += 1
                    if seen[0] == target:
                        os.kill(pid, signal.SIGKILL)

                sb.on_commit = kill_on_commit
                returncode = await asyncio.wait_for(proc.wait(), 60)
            else:
                sb.on_commit = None
                try:
                    returncode = await asyncio.wait_for(proc.wait(), rng.uniform(0.3, 1.5))
                except TimeoutError:
                    proc.kill()
                    returncode = await proc.wait()
            sb.on_commit = None
            _, err = await proc.communicate()
            if returncode != -signal.SIGKILL:
                # Only a finished import may end otherwise (then there is nothing left to kill).
                assert returncode == 0, (returncode, err.decode())
                break
            kills += 1
            on_commit_kills += by_commit
        stored_before = len(sb.customers)
        final = await _start(tmp_path / "rows.csv", journal, sb)
        out, err = await asyncio.wait_for(final.communicate(), 60)
        stored = Counter(c["external_key"] for c in sb.customers.values())
    assert kills >= 10, kills
    assert on_commit_kills >= 3, on_commit_kills
    assert final.returncode == 0, err.decode()
    assert sorted(stored) == keys  # 0 lost
    assert set(stored.values()) == {1}  # 0 duplicates
    # The last run took the earlier runs' rows from the journal instead of sending them again.
    resumed = re.search(r"resumed \(from journal\)\s+([\d,]+)", out.decode())
    assert resumed
    # Only the rows in flight at the last kill (at most the concurrency) and those whose outcome
    # was not yet committed (outcomes go in a commit every 20 ms: ~6 rows at 300/s, 16 allowed
    # for a loaded machine) are settled again, by lookup.
    assert int(resumed[1].replace(",", "")) >= stored_before - 8 - 16


MIXED_ROWS = 4000


def _write_mixed(path: Path) -> None:
    """MIXED_ROWS rows, even ones keyed, odd ones keyless; every company names its index."""
    columns = ["external_key", "company", "bill_country"]
    rows = (
        {
            "external_key": f"mix-{i:05d}" if i % 2 == 0 else "",
            "company": f"Mixed {i} GmbH",
            "bill_country": "Deutschland",
        }
        for i in range(MIXED_ROWS)
    )
    write_csv(path, columns, rows)


def _journal_state(journal: Path, index: int) -> str | None:
    """Row ``index``'s state as a resumed run reads it (its record, or the send window)."""
    return journal_states(journal, index).get(index)


async def test_full_speed_sigkills_with_keyed_and_keyless_rows_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    """Unpaced import, >= 6 SIGKILLs: keyed rows once each; keyless never twice, never lost unseen.

    The sandbox also checks, as each keyless row's request arrives, that the journal file
    already holds the row in flight (its mark was committed before the request left).
    """
    src = tmp_path / "mixed.csv"
    _write_mixed(src)
    journal = tmp_path / "job.db"
    rng = random.Random(SEED + 7)
    unmarked: list[int] = []  # keyless rows whose request arrived before their mark

    def check_mark(customer: dict[str, Any]) -> None:
        if not customer.get("external_key"):
            index = int(str(customer["company"]).split()[1])
            if _journal_state(journal, index) != "in_flight":
                unmarked.append(index)

    kills = 0
    async with Sandbox() as sb:
        for _ in range(30):
            if kills >= 6:
                break
            proc = await start_import(sb, src, "--journal", str(journal), "--quiet")
            # Killed from inside the server as it stores the n-th customer of this run: that
            # row's request was sent, and up to a queue of others are in flight or queued.
            target = rng.randint(20, 600)
            seen = [0]

            def kill_on_commit(
                customer: dict[str, Any],
                pid: int = proc.pid,
                target: int = target,
                seen: list[int] = seen,
            ) -> None:
                check_mark(customer)
                seen[0] += 1
                if seen[0] == target:
                    os.kill(pid, signal.SIGKILL)

            sb.on_commit = kill_on_commit
            returncode = await asyncio.wait_for(proc.wait(), 120)
            sb.on_commit = check_mark
            _, err = await proc.communicate()
            if returncode != -signal.SIGKILL:
                assert returncode in (0, 1), (returncode, err.decode())  # 1: unknown rows
                break
            kills += 1
        final = await start_import(sb, src, "--journal", str(journal), "--quiet")
        _, err = await asyncio.wait_for(final.communicate(), 120)
        sb.on_commit = None
        stored = Counter(str(c["company"]) for c in sb.customers.values())
    assert kills >= 6, kills
    assert final.returncode in (0, 1), err.decode()
    assert unmarked == []
    assert set(stored.values()) == {1}  # 0 duplicates, keyed or keyless
    with contextlib.closing(sqlite3.connect(journal)) as conn:
        done = conn.execute("SELECT idx, outcome FROM rows WHERE state = 'done'")
        # "existed:recovered": found after our own lost create (the journal keeps the mark).
        outcomes = {i: outcome.partition(":")[0] for i, outcome in done}
    assert sorted(outcomes) == list(range(MIXED_ROWS))  # every row has a final outcome
    never_sent = 0
    for i in range(MIXED_ROWS):
        company = f"Mixed {i} GmbH"
        if i % 2 == 0:
            assert company in stored, i  # a keyed row is never lost
            assert outcomes[i] in ("created", "existed"), (i, outcomes[i])
        elif outcomes[i] == "unknown":
            # In the send window at a kill: reported, never resent. Those never stored were
            # never sent (or cut off mid-request) and are the cost of the window.
            never_sent += company not in stored
        else:
            assert outcomes[i] == "created", (i, outcomes[i])
            assert company in stored, i
    # At most the window's rows no worker had taken yet, per kill (docs/faults.md F25): the
    # send queue is not recorded, and a worker takes a row only once it may send it. The
    # window reaches 256 rows or 0.2 s of sending, never more than WINDOW_MAX.
    assert never_sent <= kills * WINDOW_MAX, never_sent
