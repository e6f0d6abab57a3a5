"""The pytest plugin (customer_sdk.testing) as a user's suite sees it.

A small test file that uses ``chargeover_sandbox`` and ``chargeover_client`` is run in-process
with pytester; the outcomes prove the fixtures are registered through the ``pytest11`` entry
point, give each test a fresh running sandbox and a client bound to it, and stop both afterwards.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import aiohttp
import pytest

SEEN = []


async def test_client_creates_in_the_sandbox(chargeover_sandbox, chargeover_client):
    SEEN.append(chargeover_sandbox.base_url)
    created = await chargeover_client.customers.create(company="Acme", external_key="k-1")
    assert created.created is True
    assert chargeover_sandbox.by_key("k-1")["customer_id"] == created.customer_id
    assert chargeover_sandbox.counters["committed"] == 1


async def test_each_test_gets_a_fresh_sandbox(chargeover_sandbox):
    SEEN.append(chargeover_sandbox.base_url)
    assert chargeover_sandbox.customers == {}
    assert chargeover_sandbox.audit == []


async def test_previous_sandboxes_were_stopped():
    assert len(SEEN) == 2 and SEEN[0] != SEEN[1]
    async with aiohttp.ClientSession() as http:
        for url in SEEN:
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.get(url + "/api/v3/customer/1")


async def test_faults_reconcile_without_waiting(chargeover_sandbox, chargeover_client):
    chargeover_sandbox.set_faults("create:script=reset_after_commit")
    created = await chargeover_client.customers.create(company="Acme", external_key="k-2")
    assert created.created is False
    assert len(chargeover_sandbox.customers) == 1


async def test_a_failing_user_test_still_fails(chargeover_client):
    assert await chargeover_client.customers.find_by_external_key("missing") is not None
"""


@pytest.fixture
def user_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: pytest-asyncio in auto mode, warnings as errors, no other config."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    return pytester


def test_fixtures_work_in_a_users_suite(user_suite: pytest.Pytester) -> None:
    """The fixtures give each test a running sandbox and bound client, stopped afterwards."""
    user_suite.makepyfile(test_user=USER_TESTS)
    result = user_suite.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*test_a_failing_user_test_still_fails*"])


def test_fixtures_are_listed(user_suite: pytest.Pytester) -> None:
    """The plugin registers both fixtures through its entry point (pytest --fixtures)."""
    result = user_suite.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["chargeover_sandbox -- *testing.py*", "chargeover_client -- *testing.py*"]
    )
