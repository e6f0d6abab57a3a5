"""Secrets never persist: echoed credentials are masked everywhere, unrelated text is left alone.

A loopback server echoes the ``Authorization`` header and the credentials in many encodings
into every error body it sends (400, 401, 500, a redirect's ``Location``, a proxy's HTML page,
a cut 201, ``_bulk`` item errors); nothing the SDK raises, logs or writes, and nothing the
command line prints or writes, may carry any of them (``docs/faults.md`` "Secrets and hostile
input").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import logging
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from customer_sdk import ChargeOverClient, RetryPolicy, RowOutcome
from customer_sdk._progress import scrub as progress_scrub
from customer_sdk._protocol import HttpResponse, error_for, parse_bulk, parse_created
from customer_sdk._secrets import LONG, Secrets, forms, scrub
from customer_sdk.cli import main
from customer_sdk.errors import ChargeOverError
from tests import _scripted as s
from tests._helpers import journal_outcomes, write_csv

# Credentials whose encodings all differ: "/", "+", a space and non-ASCII in the password.
ECHO_USER = "canary-echo-user-41d7"
ECHO_PASSWORD = "canary/pw+9c2e é!"
PAIR = f"{ECHO_USER}:{ECHO_PASSWORD}"
TOKEN = base64.b64encode(PAIR.encode()).decode()


def needles(user: str = ECHO_USER, password: str = ECHO_PASSWORD) -> list[str]:
    """The forms that must appear nowhere: the values, the token, URL-encoded forms."""
    pair = f"{user}:{password}"
    token = base64.b64encode(pair.encode()).decode()
    return [
        user,
        password,
        pair,
        token,
        token.rstrip("="),
        base64.urlsafe_b64encode(pair.encode()).decode(),
        urllib.parse.quote(pair, safe=""),
        urllib.parse.quote(password, safe=""),
        urllib.parse.quote(password, safe="").lower(),
        urllib.parse.quote_plus(password),
        urllib.parse.quote(token, safe=""),
        html.escape(password),
    ]


def assert_clean(text: str, where: str) -> None:
    """Fail naming the first needle found in ``text``."""
    for needle in needles():
        assert needle not in text, f"{needle!r} leaked into {where}"


def journal_bytes(path: Path) -> str:
    """Every byte of a journal and its WAL and shared-memory files, as text."""
    files = sorted(path.parent.glob(path.name + "*"))
    assert path in files
    return "".join(f.read_bytes().decode("utf-8", "replace") for f in files)


def echo_text(authorization: str) -> str:
    """What the hostile server says back: the header and every encoding of the credentials."""
    q = urllib.parse.quote
    parts = {
        "auth": authorization,
        "user": ECHO_USER,
        "pass": ECHO_PASSWORD,
        "pair": PAIR,
        "token": TOKEN,
        "token-unpadded": TOKEN.rstrip("="),
        "token-urlsafe": base64.urlsafe_b64encode(PAIR.encode()).decode(),
        "pair-url": q(PAIR, safe=""),
        "pair-url-lower": q(PAIR, safe="").lower(),
        "pass-url": q(ECHO_PASSWORD, safe=""),
        "pass-plus": urllib.parse.quote_plus(ECHO_PASSWORD),
        "token-url": q(TOKEN, safe=""),
        "pass-html": html.escape(ECHO_PASSWORD),
    }
    # Glued to the text before it, as a percent-encoded dump of the headers would have it.
    return " ".join(f"{k}={v}" for k, v in parts.items()) + f" dump=Basic%20{q(TOKEN, safe='')}"


def php_json(payload: Any) -> bytes:
    r"""JSON as PHP's json_encode writes it: every "/" escaped as "\/"."""
    return orjson.dumps(payload).replace(b"/", b"\\/")


class EchoServer(s.ScriptedServer):
    """Answers each create by its company name's instruction, echoing the credentials."""

    def default_post(self, ex: s.Exchange) -> None:
        """An error echoing the request's Authorization header, as the row's company asks."""
        echo = echo_text(ex.headers.get("authorization", ""))
        if ex.target.startswith("/api/v3/_bulk"):
            codes = {"e401": 401, "e500": 500, "e502": 502}
            items = [
                {
                    "code": codes.get(str(item["payload"].get("company")), 400),
                    "status": "Error",
                    "message": echo,
                    "details": {"echo": echo},
                    "response": False,
                }
                for item in ex.json
            ]
            ex.respond(200, raw=php_json(s.envelope(200, {"_bulk": items})))
            return
        what = str(ex.json.get("company", ""))
        envelope = {**s.envelope(400, False, echo), "details": {"echo": echo, echo: [echo]}}
        if what == "e401":
            ex.respond(401, raw=php_json({**envelope, "code": 401}))
        elif what == "e500":
            ex.respond(500, raw=php_json({**envelope, "code": 500}))
        elif what == "e502":
            page = f"<html><body><h1>502</h1><p>{html.escape(echo)}</p></body></html>"
            ex.respond(502, raw=page.encode())
        elif what == "e302":
            target = f"https://{urllib.parse.quote(PAIR, safe=':')}@elsewhere.test/?t={TOKEN}"
            ex.respond(302, raw=php_json(envelope), headers={"Location": target})
        elif what == "e201":
            ex.respond(201, raw=f"created, {echo}".encode())
        else:
            ex.respond(400, raw=php_json(envelope))

    def default_get(self, ex: s.Exchange) -> None:
        """Lookups find nothing."""
        ex.respond(200, s.envelope(200, []))


@pytest.fixture
async def echo_server() -> Any:
    """An echoing server on a free loopback port."""
    async with EchoServer() as server:
        yield server


def echo_client(server: s.ScriptedServer, password: str = ECHO_PASSWORD) -> ChargeOverClient:
    """A client of the echo server that never waits between retries."""
    return ChargeOverClient(
        server.base_url, username=ECHO_USER, password=password, retry=RetryPolicy.no_wait()
    )


def error_texts(exc: BaseException) -> Iterator[str]:
    """Every text an exception shows: str, repr, args, and its attributes, down its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        yield repr(seen.args)
        yield repr(vars(seen))
        seen = seen.__cause__ or seen.__context__


ROWS = [
    {"company": "e400", "external_key": "k-400"},
    {"company": "e401", "external_key": "k-401"},
    {"company": "e500"},
    {"company": "e502"},
    {"company": "e302", "external_key": "k-302"},
    {"company": "e201"},
]


# --- the scrubber ----------------------------------------------------------------------------


def test_every_listed_form_is_masked() -> None:
    """Each form of the username, password and their pair is masked in running text."""
    secrets = Secrets.of_credentials(ECHO_USER, ECHO_PASSWORD)
    for form in forms(ECHO_USER, ECHO_PASSWORD):
        assert form not in secrets.scrub(f"before {form} after"), form
    assert_clean(secrets.scrub(echo_text(f"Basic {TOKEN}")), "the scrubbed echo")


def test_a_short_password_never_mangles_a_longer_word() -> None:
    """A 3-letter password is masked as a whole token only: "interrupted" stays whole."""
    secrets = Secrets.of_credentials("canary-echo-user-41d7", "int")
    text = "interrupted: sent int (printed), int:x, x=int&y, 'int'; internal, print, mint"
    assert secrets.scrub(text) == (
        "interrupted: sent *** (printed), ***:x, x=***&y, '***'; internal, print, mint"
    )


def test_a_long_secret_is_masked_even_glued_to_a_word() -> None:
    """A secret of LONG characters or more is masked inside longer words too."""
    secrets = Secrets(["canary-token-1"])
    assert len("canary-token-1") >= LONG
    assert secrets.scrub("Basic%20canary-token-1x") == "Basic%20***x"
    # ...while a short one glued to a word is not: the documented price of not mangling text.
    assert Secrets(["abc"]).scrub("x%20abc and abc") == "x%20abc and ***"


def test_the_scrubber_shows_nothing_and_masks_nested_values() -> None:
    """The repr names no secret; scrub_value masks keys and values of nested structures."""
    secrets = Secrets.of_credentials(ECHO_USER, ECHO_PASSWORD)
    assert ECHO_PASSWORD not in repr(secrets)
    assert ECHO_USER not in repr(secrets)
    nested = {ECHO_USER: [ECHO_PASSWORD, {"t": TOKEN}], "n": 3}
    assert secrets.scrub_value(nested) == {"***": ["***", {"t": "***"}], "n": 3}
    assert not Secrets()
    assert not Secrets([""])


def test_the_progress_scrub_is_the_same_scrubber() -> None:
    """The CLI's scrub (values in any order) masks the Basic token of the two values too."""
    assert progress_scrub is scrub
    text = f"Authorization: Basic {TOKEN}; int, interrupted"
    assert scrub(text, (ECHO_PASSWORD, ECHO_USER)) == "Authorization: Basic ***; int, interrupted"
    assert scrub(text, ["", "int"]) == f"Authorization: Basic {TOKEN}; ***, interrupted"


def test_an_error_is_scrubbed_before_it_is_cut() -> None:
    """A secret across the 512-character cut is masked whole, never left half visible."""
    secrets = Secrets.of_credentials(ECHO_USER, ECHO_PASSWORD)
    message = "x" * 500 + f" {TOKEN} and more"
    body = orjson.dumps(s.envelope(400, False, message))
    err = error_for(HttpResponse(400, {}, body, secrets))
    assert TOKEN[:8] not in str(err)
    html_err = error_for(HttpResponse(502, {}, f"<p>{message}</p>".encode(), secrets))
    assert TOKEN[:8] not in str(html_err)


def test_every_error_built_from_an_answer_is_scrubbed() -> None:
    """Message, details, Location, a cut 201's excerpt and _bulk items: all masked."""
    secrets = Secrets.of_credentials(ECHO_USER, ECHO_PASSWORD)
    echo = echo_text(f"Basic {TOKEN}")
    body = php_json({**s.envelope(400, False, echo), "details": {echo: echo}})
    headers = {"Location": f"https://{PAIR}@x.test/"}
    found: list[ChargeOverError] = [
        error_for(HttpResponse(code, headers, body, secrets)) for code in (302, 400, 500)
    ]
    with pytest.raises(ChargeOverError) as cut:
        parse_created(HttpResponse(201, {}, echo.encode(), secrets))
    found.append(cut.value)
    items = [{"code": 400, "status": "Error", "message": echo, "response": False}]
    bulk = php_json(s.envelope(200, {"_bulk": items}))
    item_error = parse_bulk(HttpResponse(200, {}, bulk, secrets), 1)[0].error
    assert item_error is not None
    found.append(item_error)
    for err in found:
        for text in error_texts(err):
            assert_clean(text, type(err).__name__)


# --- end to end over loopback ----------------------------------------------------------------


async def test_single_creates_raise_nothing_that_holds_a_secret(
    echo_server: s.ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Every error a create raises against the echo server is clean, and so is every log."""
    caplog.set_level(logging.DEBUG)
    raised: list[BaseException] = []
    async with echo_client(echo_server) as client:
        for row in ROWS:
            with pytest.raises(ChargeOverError) as info:
                await client.customers.create(row)
            raised.append(info.value)
    assert len(echo_server.received) >= len(ROWS)
    assert {type(e).__name__ for e in raised} >= {"BadRequestError", "AuthenticationError"}
    for err in raised:
        for text in error_texts(err):
            assert_clean(text, type(err).__name__)
    for record in caplog.records:
        assert_clean(record.getMessage() + (record.exc_text or ""), "a log record")


async def test_a_bulk_job_writes_no_secret_to_its_journal_or_results(
    echo_server: s.ScriptedServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """create_many through _bulk and one by one: results, journal bytes and logs are clean."""
    caplog.set_level(logging.DEBUG)
    for batch_size in (1, 3):
        journal = tmp_path / f"j{batch_size}.db"
        async with echo_client(echo_server) as client:
            job = client.customers.create_many(
                ROWS, batch_size=batch_size, journal=journal, job_id="echo", max_auth_failures=9
            )
            results = [r async for r in job]
        assert len(results) == len(ROWS)
        assert RowOutcome.CREATED not in {r.outcome for r in results}
        for result in results:
            assert result.error is not None
            for text in error_texts(result.error):
                assert_clean(text, f"row {result.index}'s error")
        raw = journal_bytes(journal)
        with contextlib.closing(sqlite3.connect(journal)) as db:
            dumped = "\n".join(db.iterdump())
        assert "BadRequestError" in dumped  # the errors were written, masked
        assert_clean(raw + dumped, "the journal")
    for record in caplog.records:
        assert_clean(record.getMessage() + (record.exc_text or ""), "a log record")


async def test_the_cli_prints_and_writes_no_secret(
    echo_server: s.ScriptedServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import against the echo server: stdout, stderr, report, journal and logs are clean."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CHARGEOVER_BASE_URL", echo_server.base_url)
    monkeypatch.setenv("CHARGEOVER_USERNAME", ECHO_USER)
    monkeypatch.setenv("CHARGEOVER_PASSWORD", ECHO_PASSWORD)
    # e401 twice more in a row would stop the job (exit 3): keep the refusals apart.
    rows = [{"company": r["company"], "external_key": r.get("external_key", "")} for r in ROWS]
    src = write_csv(tmp_path / "in.csv", ["company", "external_key"], rows)
    report, journal = tmp_path / "report.csv", tmp_path / "journal.db"
    argv = ["import", str(src), "--report", str(report), "--journal", str(journal)]
    for extra in (["--batch-size", "3"], []):
        journal.unlink(missing_ok=True)
        status = await asyncio.to_thread(main, [*argv, "--progress-interval", "0.05", *extra])
        out, err = capsys.readouterr()
        assert status == 1, err
        assert "rejected" in out
        assert "HTTP 400" in report.read_text(encoding="utf-8")
        assert_clean(out, "stdout")
        assert_clean(err, "stderr")
        assert_clean(report.read_text(encoding="utf-8"), "the report")
        assert_clean(journal_bytes(journal), "the journal")
    for record in caplog.records:
        assert_clean(record.getMessage() + (record.exc_text or ""), "a log record")


async def test_a_three_letter_password_masks_the_echo_but_not_the_words_around_it(
    echo_server: s.ScriptedServer,
) -> None:
    """Password "int": the server's echo is masked, "interrupted" in its message is not."""

    def post(ex: s.Exchange) -> None:
        auth = ex.headers.get("authorization", "")
        ex.respond(400, s.envelope(400, False, f"request interrupted: pass int, header {auth}"))

    echo_server.default_post = post  # type: ignore[method-assign]
    async with echo_client(echo_server, password="int") as client:
        with pytest.raises(ChargeOverError) as info:
            await client.customers.create(company="x")
    assert str(info.value) == "HTTP 400: request interrupted: pass ***, header Basic ***"


async def test_a_credential_in_an_older_journal_is_masked_when_resumed(
    echo_server: s.ScriptedServer, tmp_path: Path
) -> None:
    """A journal written before errors were scrubbed: its text is masked when handed out."""
    from customer_sdk._journal import Journal, row_hash

    rows = [{"company": "e400", "external_key": "old-1"}]
    path = tmp_path / "old.db"
    journal = await Journal.open(path, "old")
    text = f"BadRequestError: HTTP 400: echoed Basic {TOKEN} for {PAIR}"
    await journal_outcomes(journal, [(0, row_hash(rows[0]), True, "rejected", None, text)])
    await journal.aclose()
    async with echo_client(echo_server) as client:
        job = client.customers.create_many(rows, journal=path, job_id="old")
        results = [r async for r in job]
    assert [r.resumed for r in results] == [True]
    assert results[0].error is not None
    assert str(results[0].error) == "BadRequestError: HTTP 400: echoed Basic *** for ***"
    assert not echo_server.received
