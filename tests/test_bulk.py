"""create_many over a scripted loopback server: streaming, bad rows, auth stop, _bulk, outages."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_sdk import (
    AuthenticationError,
    BulkJob,
    ChargeOverClient,
    ConfigurationError,
    CustomerCreate,
    ExternalKeyReservedError,
    JournalMismatchError,
    OutcomeUnknownError,
    PauseGate,
    PermissionDeniedError,
    RetryPolicy,
    RowOutcome,
    RowResult,
    TokenBucket,
    ValidationError,
)
from customer_sdk._bulk import _circuit as bulk
from customer_sdk._journal._window import WINDOW
from tests import _scripted as s
from tests._helpers import (
    PASSWORD,
    SECRETS,
    USER,
    Sleeps,
    journal_in_flight,
    journal_states,
    journal_window,
    keyed,
    make_client,
)


def hold(server: s.ScriptedServer, n: int, seconds: float) -> asyncio.Event:
    """Script the next ``n`` POSTs to stall; the event is set when the n-th one has arrived."""
    all_held = asyncio.Event()

    async def stall(ex: s.Exchange) -> None:
        if server.count("POST") == n:
            all_held.set()
        await asyncio.sleep(seconds)

    server.post_script += [stall] * n
    return all_held


async def collect(job: BulkJob) -> list[RowResult]:
    """Run a job to its end inside ``async with`` and return every result."""
    async with job:
        return [r async for r in job]


async def collect_bare(job: BulkJob) -> list[RowResult]:
    """Iterate a job to its end without entering it."""
    return [r async for r in job]


def job_tasks() -> list[asyncio.Task[Any]]:
    """The bulk job's tasks still alive on this loop."""
    return [
        t
        for t in asyncio.all_tasks()
        if t.get_name().startswith("customer-sdk-bulk") and not t.done()
    ]


# --- the happy path -------------------------------------------------------------------------


async def test_every_row_gets_one_result_and_one_request(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Each row is created once; results carry index, key and id; stats add up."""
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(40), concurrency=5)
        results = await collect(job)
    assert sorted(r.index for r in results) == list(range(40))
    assert {r.outcome for r in results} == {RowOutcome.CREATED}
    by_key = {r.key: r.customer_id for r in results}
    assert by_key == {k: c["customer_id"] for k, c in server.customers.items()}
    assert server.count("POST") == 40
    stats = job.stats
    assert (stats.rows_read, stats.created, stats.done, stats.http_requests) == (40, 40, 40, 40)


async def test_models_and_async_iterables_are_accepted(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """An async generator of CustomerCreate models works like a list of dicts."""

    async def rows() -> AsyncIterator[CustomerCreate]:
        for i in range(7):
            yield CustomerCreate(company=f"M{i}", external_key=f"m{i}")

    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows(), concurrency=3))
    assert sorted(r.key or "" for r in results) == [f"m{i}" for i in range(7)]
    assert all(r.outcome is RowOutcome.CREATED for r in results)


async def test_an_existing_key_is_reported_existed(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A row whose key exists gives EXISTED with the existing id (400, then lookup)."""
    server.customers["k1"] = {"external_key": "k1", "customer_id": 99, "company": "Old"}
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(keyed(3), concurrency=2))
    got = {r.key: (r.outcome, r.customer_id, r.recovered) for r in results}
    assert got["k1"] == (RowOutcome.EXISTED, 99, False)  # already there: not recovered
    assert got["k0"][0] is RowOutcome.CREATED


async def test_bad_rows_are_results_naming_every_field(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Invalid rows become REJECTED with a ValidationError listing each field; none is sent."""
    rows: list[Any] = [
        {"company": "ok", "external_key": "g1"},
        {"company": 5, "language_id": "x", "nope": 1, "external_key": "b1"},
        "not a row",
        {"company": "ok2"},
    ]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=2))
    by_index = {r.index: r for r in results}
    bad = by_index[1]
    assert bad.outcome is RowOutcome.REJECTED
    assert bad.key == "b1"
    assert isinstance(bad.error, ValidationError)
    assert {e.path for e in bad.error.errors} == {"company", "language_id", "nope"}
    assert by_index[2].outcome is RowOutcome.REJECTED
    assert isinstance(by_index[2].error, ValidationError)
    assert by_index[0].outcome is by_index[3].outcome is RowOutcome.CREATED
    assert server.count("POST") == 2


async def test_invalid_options_are_refused_up_front(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Bad concurrency, batch size, rate or rows raise ConfigurationError at once."""
    async with make_client(server.base_url, sleeps) as client:
        for kw in (
            {"concurrency": 0},
            {"batch_size": 26},
            {"batch_size": 0},
            {"rate": -1.0},
            {"burst": 2},
            {"max_auth_failures": 0},
        ):
            with pytest.raises(ConfigurationError):
                client.customers.create_many([], **kw)
        with pytest.raises(ConfigurationError):
            client.customers.create_many(5)  # type: ignore[arg-type]
    assert server.received == []


# --- streaming and shutdown -----------------------------------------------------------------


async def test_input_is_read_lazily_through_a_bounded_queue(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """An endless generator: reading stays a bounded distance ahead of the results."""
    pulled = 0

    def endless() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield {"company": f"E{i}", "external_key": f"e{i}"}

    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(endless(), concurrency=4)
        async with job:
            seen = 0
            async for _ in job:
                seen += 1
                if seen == 200:
                    break
    # queue (max(16, 2*4)) + results queue (64) + rows held by 4 workers + a little slack
    assert pulled <= 200 + 16 + 64 + 4 + 8
    assert job.stats.rows_read == pulled
    assert job_tasks() == []


async def test_leaving_async_with_early_stops_every_worker(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Breaking out and leaving ``async with`` leaves no task running."""
    held = hold(server, 4, 5.0)
    async with make_client(server.base_url, sleeps) as client:
        async with client.customers.create_many(keyed(50), concurrency=4):
            await asyncio.wait_for(held.wait(), 10)  # every worker is mid-request
            assert len(job_tasks()) >= 4
        assert job_tasks() == []


async def test_breaking_a_bare_async_for_stops_the_job(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Outside ``async with``, a ``break`` still shuts the workers down."""
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(100), concurrency=4)
        async for _ in job:
            break
        # The generator's finaliser (scheduled on the loop at the break) cancels the tasks.
        if tasks := job_tasks():
            await asyncio.wait(tasks, timeout=10)
        assert job_tasks() == []


async def test_cancelling_the_consumer_propagates_and_cleans_up(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """CancelledError from the consumer is not swallowed and the workers stop."""
    held = hold(server, 4, 5.0)
    async with make_client(server.base_url, sleeps) as client:

        async def consume() -> None:
            async with client.customers.create_many(keyed(10), concurrency=4) as job:
                async for _ in job:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.wait_for(held.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job_tasks() == []


async def test_an_input_that_raises_stops_the_job_with_its_error(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """An exception from the caller's iterable ends the iteration with that exception."""

    def broken() -> Iterator[dict[str, Any]]:
        yield {"company": "A", "external_key": "x1"}
        raise RuntimeError("bad input file")

    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(broken(), concurrency=2)
        with pytest.raises(RuntimeError, match="bad input file"):
            await collect(job)
    assert job_tasks() == []


# --- fatal answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)]
)
async def test_repeated_auth_failures_stop_the_job(
    server: s.ScriptedServer, sleeps: Sleeps, code: int, error: type[Exception]
) -> None:
    """After max_auth_failures 401/403 rows in a row the iterator raises; the rest are not sent."""
    server.post_script += [s.status(code)] * 1000
    failed = []
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(500), concurrency=4, max_auth_failures=3)

        async def consume() -> None:
            async with job:
                async for r in job:
                    failed.append(r)

        with pytest.raises(error):
            await consume()
    assert len(failed) >= 3
    assert all(r.outcome is RowOutcome.FAILED and isinstance(r.error, error) for r in failed)
    # Never retried; at most the rows already in flight when the third failure came back.
    assert server.count("POST") <= 3 + 4
    assert job_tasks() == []


async def test_auth_failures_not_in_a_row_do_not_stop(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A success between 401s resets the count: the job completes."""
    server.post_script += [s.status(401), s.status(401), s.ok, s.status(401), s.status(401)]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(keyed(8), concurrency=1, max_auth_failures=3)
        )
    outcomes = [r.outcome for r in sorted(results, key=lambda r: r.index)]
    assert outcomes.count(RowOutcome.FAILED) == 4
    assert len(results) == 8


async def test_no_secret_reaches_logs_results_or_the_journal(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Canary credentials appear in no log record, result error, repr or journal file."""
    caplog.set_level(logging.DEBUG)
    server.post_script += [s.status(401, f"bad auth for {USER}")] * 3
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(3), concurrency=1, journal=tmp_path / "j.db")
        with pytest.raises(AuthenticationError) as info:
            await collect(job)
    text = caplog.text + repr(info.value) + repr(job)
    assert PASSWORD not in text
    journal_bytes = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"401" in journal_bytes  # the error text is there...
    assert PASSWORD.encode() not in journal_bytes  # ...but never a credential
    assert SECRETS[1].encode() not in journal_bytes


# --- ambiguous single creates inside a job --------------------------------------------------


async def test_ambiguous_rows_are_reconciled_not_duplicated(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Reset after commit: keyed rows are found (EXISTED); a keyless row is UNKNOWN, not resent."""
    server.post_script += [s.reset(store=True)] * 3
    rows = [{"company": "A", "external_key": "r1"}, {"company": "B", "external_key": "r2"}]
    rows.append({"company": "C"})
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(rows, concurrency=1)
        results = await collect(job)
    got = {r.index: r for r in results}
    assert got[0].outcome is got[1].outcome is RowOutcome.EXISTED
    assert got[0].recovered  # found by key: this job's own create
    assert got[1].recovered
    assert (job.stats.existed, job.stats.recovered) == (2, 2)
    assert got[2].outcome is RowOutcome.UNKNOWN
    assert isinstance(got[2].error, OutcomeUnknownError)
    assert server.count("POST") == 3
    assert len(server.customers) == 3


async def test_a_resumed_run_still_tells_recovered_rows_from_ones_that_existed(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """The journal keeps `recovered`: a re-run hands out r1 recovered and r2 existed, as run 1."""
    server.customers["r2"] = {"company": "B", "external_key": "r2", "customer_id": 50}
    server.post_script += [s.reset(store=True), s.status(400, "in use")]
    rows = [{"company": "A", "external_key": "r1"}, {"company": "B", "external_key": "r2"}]
    journal = tmp_path / "j.db"
    runs = []
    for _ in range(2):
        async with make_client(server.base_url, sleeps) as client:
            job = client.customers.create_many(rows, concurrency=1, journal=journal)
            runs.append({r.key: (r.outcome, r.recovered, r.resumed) for r in await collect(job)})
    first, second = runs
    assert first == {
        "r1": (RowOutcome.EXISTED, True, False),
        "r2": (RowOutcome.EXISTED, False, False),
    }
    assert second == {
        "r1": (RowOutcome.EXISTED, True, True),
        "r2": (RowOutcome.EXISTED, False, True),
    }
    assert server.count("POST") == 2  # the second run sent nothing


# --- _bulk batches --------------------------------------------------------------------------


async def test_batches_go_through_bulk_in_ceil_n_over_size_calls(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """batch_size=25 sends 60 rows in 3 _bulk calls (one worker fills whole batches)."""
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(keyed(60), concurrency=1, batch_size=25)
        )
    assert server.count_path("/api/v3/_bulk") == 3
    assert [e.method for e in server.received] == ["POST"] * 3
    assert sorted(r.index for r in results) == list(range(60))
    assert all(r.outcome is RowOutcome.CREATED and r.customer_id for r in results)


async def test_each_bulk_item_is_settled_on_its_own(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Each _bulk item is settled as a single create's answer would be.

    201 created; keyed 400 found → existed, not found → rejected; 500 → looked up, resent;
    201 without id → looked up; keyless 500 → unknown.
    """
    server.customers["dup"] = {"external_key": "dup", "customer_id": 50, "company": "Old"}
    server.customers["gone"] = {"external_key": "gone", "customer_id": 0, "company": "Deleted"}

    def answer(ex: s.Exchange) -> None:
        items = []
        for n, item in enumerate(ex.json):
            payload = item["payload"]
            if n == 0:
                items.append(server.bulk_item(payload))  # 201
            elif n in (1, 2):
                taken = "external_key is already in use"
                items.append({"code": 400, "status": "Error", "message": taken, "response": False})
            elif n == 3:
                items.append({"code": 500, "status": "Error", "message": "x", "response": None})
            elif n == 4:
                server.store(payload)
                items.append({"code": 201, "status": "OK", "message": "", "response": {}})
            else:
                items.append({"code": 500, "status": "Error", "message": "x", "response": None})
        ex.respond(200, s.envelope(200, {"_bulk": items}))

    server.post_script.append(answer)
    original_get = server.default_get

    def get(ex: s.Exchange) -> None:
        if "gone" in ex.target:  # a deleted customer: its key is reserved, lookups find nothing
            ex.respond(200, s.envelope(200, []))
        else:
            original_get(ex)

    server.default_get = get  # type: ignore[method-assign]
    rows = [
        {"company": "New", "external_key": "new"},
        {"company": "Dup", "external_key": "dup"},
        {"company": "Gone", "external_key": "gone"},
        {"company": "Flaky", "external_key": "flaky"},
        {"company": "NoId", "external_key": "noid"},
        {"company": "Keyless"},
    ]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=1, batch_size=6))
    got = {r.index: r for r in results}
    assert got[0].outcome is RowOutcome.CREATED
    assert (got[1].outcome, got[1].customer_id) == (RowOutcome.EXISTED, 50)
    assert got[2].outcome is RowOutcome.REJECTED
    assert isinstance(got[2].error, ExternalKeyReservedError)
    assert got[3].outcome is RowOutcome.CREATED  # looked up, not found, sent again on its own
    assert got[4].outcome is RowOutcome.EXISTED
    assert got[4].customer_id == server.customers["noid"]["customer_id"]
    assert got[5].outcome is RowOutcome.UNKNOWN
    # one _bulk call, then single creates only for the 500 item (flaky): never a blind resend
    assert server.count_path("/api/v3/_bulk") == 1
    assert server.count_path("/api/v3/customer") - server.count("GET") == 1


@pytest.mark.parametrize("stored", [True, False])
async def test_an_ambiguous_batch_is_reconciled_item_by_item(
    server: s.ScriptedServer, sleeps: Sleeps, stored: bool
) -> None:
    """A _bulk call reset mid-way is reconciled row by row, never resent blindly.

    Each keyed row is looked up (found → existed, not found → resent); the keyless row is
    unknown and never resent.
    """

    def reset(ex: s.Exchange) -> None:
        if stored:
            for item in ex.json:
                server.store(item["payload"])
        ex.reset()

    server.post_script.append(reset)
    rows: list[dict[str, Any]] = [*keyed(4, "amb"), {"company": "Keyless"}]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=1, batch_size=5))
    got = {r.index: r.outcome for r in results}
    expected = RowOutcome.EXISTED if stored else RowOutcome.CREATED
    assert [got[i] for i in range(4)] == [expected] * 4
    assert got[4] is RowOutcome.UNKNOWN
    singles = server.count_path("/api/v3/customer") - server.count("GET")
    assert singles == (0 if stored else 4)
    assert server.count_path("/api/v3/_bulk") == 1
    assert server.count("GET") == 4  # one lookup per keyed row, none for the keyless one


async def test_a_throttled_batch_is_sent_again_whole(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 429 on a _bulk call stores nothing: the same batch goes again after the wait."""
    server.post_script.append(s.status(429, headers={"Retry-After": "1"}))
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(10), concurrency=1, batch_size=10)
        results = await collect(job)
    assert server.count_path("/api/v3/_bulk") == 2
    assert all(r.outcome is RowOutcome.CREATED for r in results)
    assert job.stats.throttled == 1
    assert 1.0 in sleeps.calls


async def test_a_bulk_call_refused_whole_is_reconciled_never_resent_blindly(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 4xx for the _bulk call itself: keyed rows looked up, then sent; keyless rows unknown."""
    server.post_script.append(s.status(400, "Missing or invalid parameter."))
    server.customers["k1"] = {"external_key": "k1", "customer_id": 71, "company": "Co 1"}
    rows = [*keyed(3), {"company": "Keyless"}]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=1, batch_size=4))
    got = {r.index: r for r in results}
    assert [got[i].outcome for i in range(4)] == [
        RowOutcome.CREATED,
        RowOutcome.EXISTED,  # stored after all: found by its key, not sent again
        RowOutcome.CREATED,
        RowOutcome.UNKNOWN,  # no key to check: never resent
    ]
    assert got[1].customer_id == 71
    assert server.count_path("/api/v3/_bulk") == 1
    assert server.count("POST") == 2  # k0 and k2 alone, after their lookups found nothing
    assert server.count("GET") == 3


# --- outages (faults.md F26) -----------------------------------------------------------------


async def test_an_outage_holds_every_worker_and_probes_at_growing_intervals(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """All-503: after the threshold only probes go out, spaced 0.5, 1, 2, 4 s; then all resume.

    The outage ends at the 4th probe. Row requests during it are bounded by one per worker
    (the requests in flight or retried before the circuit opened): without the circuit every
    worker would spend all 8 of its attempts (64 requests here).
    """
    probes = 0
    refused = 0  # row requests (creates and lookups) answered 503
    outage = True

    def handle(ex: s.Exchange) -> bool:
        nonlocal probes, refused, outage
        probe = bulk._PROBE_KEY in ex.target
        if probe:
            probes += 1
            if probes >= 4:
                outage = False
        if outage:
            refused += not probe
            ex.respond(503, s.envelope(503, None, "down"))
            return True
        return False

    original_post, original_get = server.default_post, server.default_get

    def post(ex: s.Exchange) -> None:
        if not handle(ex):
            original_post(ex)

    def get(ex: s.Exchange) -> None:
        if not handle(ex):
            original_get(ex)

    server.default_post = post  # type: ignore[method-assign]
    server.default_get = get  # type: ignore[method-assign]
    concurrency = 8
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(30), concurrency=concurrency)
        results = await collect(job)
    assert probes == 4
    assert job.stats.circuit_opened == 1
    probe_waits = [w for w in sleeps.calls if w in (0.5, 1.0, 2.0, 4.0)]
    assert probe_waits[:4] == [0.5, 1.0, 2.0, 4.0]
    assert bulk.CIRCUIT_THRESHOLD <= refused <= concurrency
    # nothing lost, nothing duplicated: the creates that met a 503 were looked up afterwards
    assert sorted(r.index for r in results) == list(range(30))
    assert {r.outcome for r in results} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    assert len(server.customers) == 30


async def test_a_given_rate_uses_a_token_bucket(server: s.ScriptedServer, sleeps: Sleeps) -> None:
    """rate=R gives a TokenBucket(R); no rate gives the adaptive default."""
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many([], rate=50.0, burst=5)
        assert isinstance(job.limiter, TokenBucket)
        assert (job.limiter.rate, job.limiter.burst) == (50.0, 5)
        assert type(client.customers.create_many([]).limiter).__name__ == "AdaptiveLimiter"
        adaptive = client.customers.create_many([], rate=20.0, adaptive=True).limiter
        assert type(adaptive).__name__ == "AdaptiveLimiter"


async def test_an_explicit_pause_gate_is_the_callers_choice(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A client given limiter=PauseGate() gets no adaptive limiter added by create_many."""
    async with make_client(server.base_url, sleeps, limiter=PauseGate()) as client:
        assert client.customers.create_many([]).limiter is None
    async with make_client(server.base_url, sleeps) as client:
        assert client.customers.create_many([]).limiter is not None


async def test_a_client_limiter_of_its_own_governs_alone_and_always_applies(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """With a caller-supplied limiter and no rate, the job adds none; that limiter is asked."""
    asked = 0

    class Counting:
        async def acquire(self) -> None:
            nonlocal asked
            asked += 1

        def on_throttled(self, retry_after: float | None) -> None:
            pass

        def on_success(self) -> None:
            pass

    async with make_client(server.base_url, sleeps, limiter=Counting()) as client:
        job = client.customers.create_many(keyed(5), concurrency=2)
        assert job.limiter is None
        await collect(job)
    assert asked == 5


# --- journal integration --------------------------------------------------------------------


_states = journal_states


async def _read_at_least(job: BulkJob, rows: int) -> None:
    """Return once the job's reader has read ``rows`` rows."""
    while job.stats.rows_read < rows:
        await asyncio.sleep(0.01)


def _states_seen_by_posts(server: s.ScriptedServer, path: Path, n: int) -> list[dict[int, str]]:
    """Script the next ``n`` POSTs to snapshot the journal's states, then answer as usual."""
    seen: list[dict[int, str]] = []

    def check(ex: s.Exchange) -> None:
        seen.append(_states(path))
        server.default_post(ex)

    server.post_script += [check] * n
    return seen


def _keyless(n: int) -> list[dict[str, Any]]:
    """``n`` rows without an external_key (their in-flight marks must be durable)."""
    return [{"company": f"Keyless {i}"} for i in range(n)]


async def test_a_keyless_row_is_durably_in_flight_before_its_request_arrives(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """When the server sees a keyless row's POST, another connection reads it as in_flight."""
    path = tmp_path / "j.db"
    seen = _states_seen_by_posts(server, path, 3)
    async with make_client(server.base_url, sleeps) as client:
        await collect(client.customers.create_many(_keyless(3), concurrency=1, journal=path))
    assert [snap[i] for i, snap in enumerate(seen)] == ["in_flight"] * 3
    assert _states(path) == {0: "done", 1: "done", 2: "done"}


async def test_every_keyless_row_of_a_bulk_call_is_durably_in_flight_before_the_call_arrives(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """When the server sees a _bulk call, another connection reads each keyless row in_flight."""
    path = tmp_path / "j.db"
    seen = _states_seen_by_posts(server, path, 2)
    async with make_client(server.base_url, sleeps) as client:
        await collect(
            client.customers.create_many(_keyless(8), concurrency=1, batch_size=4, journal=path)
        )
    # Keyless rows are marked as they are queued, so rows waiting behind a call may be too.
    in_flight = [{i for i, st in snap.items() if st == "in_flight"} for snap in seen]
    assert in_flight[0] >= {0, 1, 2, 3}
    assert in_flight[1] >= {4, 5, 6, 7}
    assert set(_states(path).values()) == {"done"}


async def test_a_resumed_job_skips_done_rows_and_reconciles_in_flight_ones(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """A re-run yields done rows as resumed and reconciles in-flight ones.

    In-flight keyed rows are looked up; an in-flight keyless row is never resent.
    """
    path = tmp_path / "j.db"
    rows: list[dict[str, Any]] = [*keyed(6, "res"), {"company": "Keyless"}]
    # Run 1: rows 0-1 done; rows 2 (stored, answer lost) and 6 (keyless) left in flight.
    async with make_client(server.base_url, sleeps) as client:
        first = await collect(
            client.customers.create_many(rows[:2], concurrency=1, journal=path, job_id="file-1")
        )
    assert [r.outcome for r in first] == [RowOutcome.CREATED] * 2
    from customer_sdk._journal import row_hash

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            "INSERT INTO rows (idx, hash, state) VALUES (?, ?, 'in_flight')",
            [(2, row_hash(rows[2])), (6, row_hash(rows[6]))],
        )
    server.store(rows[2])
    before = len(server.received)
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(rows, concurrency=2, journal=path, job_id="file-1")
        )
    got = {r.index: r for r in results}
    assert got[0].resumed
    assert got[1].resumed
    assert (got[0].outcome, got[0].customer_id) == (RowOutcome.CREATED, first[0].customer_id)
    assert (got[2].outcome, got[2].resumed) == (RowOutcome.EXISTED, False)
    assert got[6].outcome is RowOutcome.UNKNOWN
    assert all(got[i].outcome is RowOutcome.CREATED for i in (3, 4, 5))
    sent = server.received[before:]
    # rows 0-1 nothing; row 2 one lookup; rows 3-5 one POST each; row 6 nothing
    assert sorted(e.method for e in sent) == ["GET", "POST", "POST", "POST"]
    assert "Keyless" not in b"".join(e.body for e in sent).decode()
    assert set(_states(path).values()) == {"done"}


async def test_rows_inside_an_earlier_runs_send_window_are_reconciled_not_resent(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """No record but below the recorded window: keyed rows are looked up, keyless ones unknown."""
    path = tmp_path / "j.db"
    rows: list[dict[str, Any]] = [*keyed(2, "win"), {"company": "Keyless in window"}]
    rows += [{"company": "Keyless past it"}]
    async with make_client(server.base_url, sleeps) as client:
        await collect(client.customers.create_many([], journal=path, job_id="w"))
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        # As a run killed while rows 0-2 were taken: the window covers them, none has a record.
        conn.execute("INSERT INTO rows VALUES (-1, '', 'window', NULL, 3, NULL, 0)")
    server.store(rows[1])  # that run's request for row 1 got through
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, journal=path, job_id="w"))
    got = {r.index: r.outcome for r in results}
    assert got == {
        0: RowOutcome.CREATED,  # looked up, not found, sent
        1: RowOutcome.EXISTED,  # looked up and found: not sent again
        2: RowOutcome.UNKNOWN,  # may have been sent, no key to check: never resent
        3: RowOutcome.CREATED,  # past the window: new
    }
    posted = b"".join(e.body for e in server.received if e.method == "POST").decode()
    assert "Keyless in window" not in posted
    assert set(_states(path).values()) == {"done"}


async def test_a_journaled_worker_takes_a_row_only_once_it_may_send_it(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """With every slot held by a stalled request, no other row is taken: the window stays near.

    256 workers and a limit of 16 in flight: were the other 240 workers to hold a row each
    while waiting for a slot, the send window would cover them too, and a crash would report
    them unknown although they never left.
    """
    path = tmp_path / "j.db"
    held = hold(server, 16, 5.0)
    rows = [{"company": f"Waiting {i}"} for i in range(2000)]
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(rows, journal=path)
        async with job:
            await asyncio.wait_for(held.wait(), 10)  # the floor's 16 requests are in flight
            # The reader has filled the send queue behind them (2 rows per worker): every row
            # a worker could take meanwhile, it has had its chance to take.
            await asyncio.wait_for(_read_at_least(job, 16 + 2 * 256), 10)
            assert job.in_flight_limit == 16
            window = journal_window(path)
    assert window is not None
    assert window <= 16 + WINDOW


async def test_a_journal_for_other_input_is_refused_before_sending(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Another job_id, or row i with other content, raises JournalMismatchError; nothing sent."""
    path = tmp_path / "j.db"
    async with make_client(server.base_url, sleeps) as client:
        await collect(client.customers.create_many(keyed(3), journal=path, job_id="a"))
        before = len(server.received)
        with pytest.raises(JournalMismatchError, match="another input"):
            await collect(client.customers.create_many(keyed(5), journal=path, job_id="b"))
        changed = keyed(5)
        changed[1]["company"] = "Edited"
        with pytest.raises(JournalMismatchError, match="row 1"):
            await collect(client.customers.create_many(changed, journal=path, job_id="a"))
    assert len(server.received) == before
    assert job_tasks() == []


async def test_closing_the_client_mid_job_stops_the_job(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A client closed under a running job ends the iteration with a clear error, at once."""
    from customer_sdk import ChargeOverError

    client = make_client(server.base_url, sleeps)
    job = client.customers.create_many(keyed(200), concurrency=4)

    async def consume() -> None:
        async with job:
            async for _ in job:
                await client.aclose()

    with pytest.raises(ChargeOverError, match="client was closed"):
        await consume()
    assert server.count("POST") < 20
    assert job_tasks() == []


async def test_a_refusing_server_is_probed_and_the_job_resumes_when_it_returns(
    server: s.ScriptedServer,
) -> None:
    """Connection refused (F26's other face): workers hold, only probes try; back → resume.

    Waits run at 1/50 of real time. The server goes away after 10 results and comes back on
    the same port once the third probe has been refused.
    """
    waits: list[float] = []
    third_probe_refused = asyncio.Event()

    async def scaled(seconds: float) -> None:
        waits.append(seconds)
        # The probe loop waits 0.5, 1, 2 s, sending after each: the wait of 4 s begins only
        # once the third probe has been refused.
        if [w for w in waits if w in (0.5, 1.0, 2.0, 4.0)][:4] == [0.5, 1.0, 2.0, 4.0]:
            third_probe_refused.set()
        await asyncio.sleep(seconds / 50)

    async def back_after_three_probes() -> None:
        await third_probe_refused.wait()
        await server.start(server.port)

    concurrency = 8
    results: list[RowResult] = []
    async with ChargeOverClient(
        server.base_url, username=USER, password=PASSWORD, retry=RetryPolicy(sleep=scaled)
    ) as client:
        job = client.customers.create_many(keyed(60), concurrency=concurrency)
        restart: asyncio.Task[None] | None = None
        async with asyncio.timeout(30), job:
            async for r in job:
                results.append(r)
                if len(results) == 10:
                    await server.stop()  # keep-alive connections dropped too
                    restart = asyncio.create_task(back_after_three_probes())
        assert restart is not None
        await restart
    assert sorted(r.index for r in results) == list(range(60))
    assert {r.outcome for r in results} <= {RowOutcome.CREATED, RowOutcome.EXISTED}
    assert len(server.customers) == 60
    assert job.stats.circuit_opened >= 1
    refused = job.stats.http_requests - len(server.received)
    # one refused attempt per worker before the circuit opened, one more for each request
    # already past the gate, then the (at most 4) probes before the server was back
    assert refused <= 2 * concurrency + 4


async def test_a_resumed_in_flight_row_is_looked_up_not_batched(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """With batch_size > 1, a row left in flight is reconciled alone; the others go in _bulk."""
    from customer_sdk._journal import Journal, row_hash

    path = tmp_path / "j.db"
    rows = keyed(5, "bat")
    journal = await Journal.open(path, "f")
    await journal_in_flight(journal, [(2, row_hash(rows[2]))])
    await journal.aclose()
    server.store(rows[2])  # the earlier run's request did land
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(
                rows, concurrency=1, batch_size=5, journal=path, job_id="f"
            )
        )
    got = {r.index: r.outcome for r in results}
    assert got == {0: "created", 1: "created", 2: "existed", 3: "created", 4: "created"}
    bulk_calls = [e for e in server.received if e.target.startswith("/api/v3/_bulk")]
    assert [len(e.json) for e in bulk_calls] == [4]
    assert server.count("GET") == 1
    assert len(server.customers) == 5


async def test_a_batch_stopped_before_its_send_is_journaled_failed_not_in_flight(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a _bulk batch taken but never sent (the job left meanwhile) are failed, resent."""
    from customer_sdk._journal import Journal

    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    taken = asyncio.Event()

    def cover(self: Journal, index: int, keyed: bool) -> asyncio.Future[None]:
        taken.set()
        return never  # never durable

    monkeypatch.setattr(Journal, "cover", cover)
    path = tmp_path / "j.db"
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(_keyless(4), concurrency=1, batch_size=4, journal=path)
        async with job:
            await asyncio.wait_for(taken.wait(), 10)  # the worker took the batch: it waits
    assert server.count("POST") == 0
    assert _states(path) == {i: "failed" for i in range(4)}


async def test_rows_being_sent_when_the_job_is_left_stay_in_flight(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Leaving the job while requests stall leaves exactly those rows in_flight, none done."""
    path = tmp_path / "j.db"
    held = hold(server, 3, 5.0)
    async with make_client(server.base_url, sleeps) as client:
        async with client.customers.create_many(keyed(10), concurrency=3, journal=path):
            await asyncio.wait_for(held.wait(), 10)  # all three workers are mid-request
        states = _states(path)
    assert sorted(i for i, st in states.items() if st == "in_flight") == [0, 1, 2]
    assert "done" not in states.values()
    assert job_tasks() == []


async def test_a_consumer_waiting_while_the_job_is_closed_elsewhere_is_released(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """aclose() from another task ends a consumer blocked on the next result with an error."""
    from customer_sdk import ChargeOverError

    held = hold(server, 2, 5.0)
    async with make_client(server.base_url, sleeps) as client:
        job = client.customers.create_many(keyed(2), concurrency=2)

        task = asyncio.create_task(collect_bare(job))
        await asyncio.wait_for(held.wait(), 10)  # the consumer waits, both rows are mid-request
        await job.aclose()
        with pytest.raises(ChargeOverError, match="closed"):
            await asyncio.wait_for(task, 10)
        left = client.customers.create_many(keyed(50), concurrency=2)
        async with left:
            await anext(aiter(left))
        # Iterating a left job hands out what was already produced, then raises: never hangs.
        with pytest.raises(ChargeOverError, match="closed"):
            await asyncio.wait_for(collect_bare(left), 10)
    assert job_tasks() == []


async def test_the_jobs_own_limiter_waits_through_the_clients_sleep(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A 429's Retry-After pauses the job's default limiter via RetryPolicy.sleep, not the clock."""
    server.post_script.append(s.status(429, headers={"Retry-After": "30"}))
    async with make_client(server.base_url, sleeps) as client, asyncio.timeout(20):
        results = await collect(client.customers.create_many(keyed(2), concurrency=1))
    assert [r.outcome for r in results] == [RowOutcome.CREATED] * 2
    # Without that the job's limiter would really wait 30 s and the timeout above would fire.
    assert 30.0 in sleeps.calls


async def test_a_404_on_create_is_failed_and_retried_by_the_next_run(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """A 404 (e.g. a wrong base path) says nothing about the row: FAILED, sent again on resume."""
    path = tmp_path / "j.db"
    server.post_script.append(s.status(404, "no such endpoint"))
    async with make_client(server.base_url, sleeps) as client:
        first = await collect(client.customers.create_many(keyed(1), journal=path, job_id="f"))
        assert [r.outcome for r in first] == [RowOutcome.FAILED]
        assert _states(path) == {0: "failed"}
        again = await collect(client.customers.create_many(keyed(1), journal=path, job_id="f"))
    assert [(r.outcome, r.resumed) for r in again] == [(RowOutcome.CREATED, False)]
    assert len(server.customers) == 1


async def test_a_row_of_unencodable_text_is_rejected_and_the_job_goes_on(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """One lone-surrogate row among 20 is REJECTED naming its field; the other 19 are created."""
    rows = keyed(20)
    rows[7] = {"company": "Bad \ud800", "external_key": "k7"}
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=4))
    got = {r.index: r for r in results}
    assert len(got) == 20
    assert got[7].outcome is RowOutcome.REJECTED
    assert isinstance(got[7].error, ValidationError)
    assert got[7].error.errors[0].path == "company"
    assert sum(r.outcome is RowOutcome.CREATED for r in results) == 19
    assert server.count("POST") == 19


# --- duplicate keys within one input ---------------------------------------------------------


def _with_repeats() -> list[dict[str, Any]]:
    """Eight rows: key ``dup1`` again at indexes 3 and 7 (other data), and a keyless pair."""
    rows: list[dict[str, Any]] = keyed(5, "dup")
    rows.insert(3, {"company": "Second copy", "external_key": "dup1"})
    rows.insert(5, {"company": "Keyless"})
    rows.append({"company": "Keyless"})
    rows.append({"company": "Third copy", "external_key": "dup1"})
    return rows


async def test_a_repeated_key_is_rejected_naming_the_first_row_and_never_sent(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A later row with an earlier row's external_key is REJECTED naming it; keyless rows pass."""
    rows = _with_repeats()
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(rows, concurrency=2, reject_duplicate_keys=True)
        )
    got = {r.index: r for r in results}
    assert sorted(i for i, r in got.items() if r.outcome is RowOutcome.REJECTED) == [3, 8]
    for i in (3, 8):
        error = got[i].error
        assert isinstance(error, ValidationError)
        assert [(e.path, e.message.split(":")[0]) for e in error.errors] == [
            ("external_key", "duplicate_in_input")
        ]
        assert "the row at index 1" in str(error)
        assert got[i].key == "dup1"
    assert got[1].outcome is RowOutcome.CREATED
    assert got[5].outcome is got[7].outcome is RowOutcome.CREATED  # keyless: never duplicates
    body = b"".join(e.body for e in server.received).decode()
    assert "Second copy" not in body
    assert "Third copy" not in body


async def test_an_async_input_gets_the_same_duplicate_check(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Rows from an async iterable are checked for repeated keys like a list's rows."""

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for row in _with_repeats():
            yield row

    async with make_client(server.base_url, sleeps) as client:
        results = await collect(
            client.customers.create_many(rows(), concurrency=2, reject_duplicate_keys=True)
        )
    rejected = sorted(r.index for r in results if r.outcome is RowOutcome.REJECTED)
    assert rejected == [3, 8]


async def test_a_journaled_run_left_half_way_and_resumed_reports_no_false_duplicates(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """Resuming sees every key again: only the real repeats are rejected, each row exists once."""
    path = tmp_path / "j.db"
    rows = _with_repeats()
    async with make_client(server.base_url, sleeps) as client:
        first: list[RowResult] = []
        async with client.customers.create_many(
            rows, concurrency=1, journal=path, job_id="d", reject_duplicate_keys=True
        ) as job:
            async for result in job:
                first.append(result)
                if len(first) == 4:
                    break  # the job is left half-way, as a killed run leaves it
        assert len(first) == 4
        again = await collect(
            client.customers.create_many(
                rows, concurrency=1, journal=path, job_id="d", reject_duplicate_keys=True
            )
        )
        third = await collect(
            client.customers.create_many(
                rows, concurrency=1, journal=path, job_id="d", reject_duplicate_keys=True
            )
        )
    for results in (again, third):
        got = {r.index: r for r in results}
        assert sorted(got) == list(range(len(rows)))
        assert sorted(i for i, r in got.items() if r.outcome is RowOutcome.REJECTED) == [3, 8]
        assert "duplicate_in_input" in str(got[3].error)
        assert "the row at index 1" in str(got[8].error)
    assert any(r.resumed for r in again)
    assert all(r.resumed for r in third)
    keys = sorted(k for k in server.customers if k.startswith("dup"))
    assert keys == ["dup0", "dup1", "dup2", "dup3", "dup4"]  # each once, whatever was in flight
    assert server.customers["dup1"]["company"] == "Co 1"


async def test_a_key_done_in_an_earlier_run_still_makes_its_later_repeat_a_duplicate(
    server: s.ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    """A row taken from the journal still counts as its key's first row in the resumed run."""
    path = tmp_path / "j.db"
    rows = _with_repeats()
    async with make_client(server.base_url, sleeps) as client:
        await collect(
            client.customers.create_many(
                rows[:3], journal=path, job_id="d", reject_duplicate_keys=True
            )
        )
        again = await collect(
            client.customers.create_many(rows, journal=path, job_id="d", reject_duplicate_keys=True)
        )
    got = {r.index: r for r in again}
    assert [got[i].resumed for i in range(3)] == [True] * 3
    assert (got[3].outcome, got[3].resumed) == (RowOutcome.REJECTED, False)
    assert "the row at index 1" in str(got[3].error)
    assert server.customers["dup1"]["company"] == "Co 1"


async def test_by_default_create_many_remembers_no_keys_and_a_repeat_is_existed(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """Without reject_duplicate_keys no key is kept: a repeated key finds the first customer."""
    rows = [{"company": "A", "external_key": "same"}, {"company": "B", "external_key": "same"}]
    async with make_client(server.base_url, sleeps) as client:
        results = await collect(client.customers.create_many(rows, concurrency=1))
    got = {r.index: r for r in results}
    assert got[0].outcome is RowOutcome.CREATED
    assert got[1].outcome is RowOutcome.EXISTED
    assert got[1].customer_id == got[0].customer_id
