"""Logging: retries at INFO with a key hash (never the key), CHARGEOVER_LOG, the CLI's -v."""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from customer_sdk import _logging
from customer_sdk._logging import configure_from_env, key_hash
from customer_sdk.cli._common import log_to
from tests import _scripted as s
from tests._helpers import SECRETS, Sleeps, make_client

_LOGGER = logging.getLogger("customer_sdk")


@pytest.fixture
def restore_logger() -> Iterator[None]:
    """Put the package logger's handlers and level back after a test that changes them."""
    handlers, level, added = list(_LOGGER.handlers), _LOGGER.level, list(_logging._added)
    yield
    _LOGGER.handlers[:] = handlers
    _LOGGER.setLevel(level)
    _logging._added[:] = added


async def test_a_retry_logs_at_info_with_operation_attempt_and_key_hash_only(
    server: s.ScriptedServer, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """The retry line names the operation, attempt and key hash; never the key or a secret."""
    caplog.set_level(logging.INFO, logger="customer_sdk")
    server.post_script.append(s.status(503))
    async with make_client(server.base_url, sleeps) as client:
        await client.customers.create(company="A", external_key="alice@example.com")
    retries = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage() for r in retries] == [
        f"create [{key_hash('alice@example.com')}]: attempt 1 failed (ServerError HTTP 503); "
        f"lookup in {sleeps.calls[0]:.2f} s"
    ]
    text = caplog.text
    assert "alice" not in text
    assert not any(secret in text for secret in SECRETS)


def test_the_key_hash_is_short_stable_in_a_process_and_not_the_plain_digest() -> None:
    """key_hash is 8 hex digits, the same for one key, salted (not a bare BLAKE2b/SHA)."""
    one, again, other = key_hash("k-1"), key_hash("k-1"), key_hash("k-2")
    assert one == again != other
    assert len(one) == len("key#") + 8
    plain = hashlib.blake2b(b"k-1", digest_size=4).hexdigest()
    assert plain not in one
    assert key_hash(None) == "no key"


def test_chargeover_log_adds_one_handler_at_its_level(restore_logger: None) -> None:
    """CHARGEOVER_LOG=debug adds a handler at DEBUG; unset or unknown adds none."""
    assert configure_from_env({}) is None
    assert configure_from_env({"CHARGEOVER_LOG": "loud"}) is None
    before = len(_LOGGER.handlers)
    handler = configure_from_env({"CHARGEOVER_LOG": " DEBUG "})
    assert handler is not None
    assert handler.level == logging.DEBUG
    assert len(_LOGGER.handlers) == before + 1
    assert _LOGGER.isEnabledFor(logging.DEBUG)
    assert _logging.env_handler() is handler


@pytest.mark.parametrize(("value", "shown"), [("info", True), ("", False)])
def test_chargeover_log_switches_the_log_on_at_import(value: str, shown: bool) -> None:
    """Importing the SDK with CHARGEOVER_LOG=info prints its INFO lines to stderr; unset, none."""
    code = "import logging, customer_sdk; logging.getLogger('customer_sdk').info('hello-log')"
    env = {"CHARGEOVER_LOG": value, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert ("hello-log" in done.stderr) is shown


@pytest.mark.parametrize(
    ("verbosity", "levels"),
    [(0, ["ERROR"]), (1, ["INFO", "ERROR"]), (2, ["DEBUG", "INFO", "ERROR"])],
)
def test_cli_verbosity_maps_to_info_and_debug(verbosity: int, levels: list[str]) -> None:
    """-v shows the INFO retry lines, -vv DEBUG too; without -v only errors."""
    stream = io.StringIO()
    with log_to(verbosity, stream):
        _LOGGER.debug("d")
        _LOGGER.info("i")
        _LOGGER.error("e")
    assert [line.split(" ")[0] for line in stream.getvalue().splitlines()] == levels


def test_cli_with_chargeover_log_prints_each_line_once(restore_logger: None) -> None:
    """CHARGEOVER_LOG=info counts as -v in the CLI, and its handler is set aside meanwhile."""
    handler = configure_from_env({"CHARGEOVER_LOG": "info"})
    assert handler is not None
    stream = io.StringIO()
    with log_to(0, stream):
        assert handler not in _LOGGER.handlers
        _LOGGER.info("once")
    assert stream.getvalue().splitlines() == ["INFO once"]
    assert handler in _LOGGER.handlers
