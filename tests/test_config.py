"""The client's settings checked at construction (customer_sdk._config)."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sdk import ChargeOverClient, ConfigurationError
from customer_sdk._config import normalise_base


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("https://acme.example:99999", "not a valid URL"),
        ("https://acme.example:-1", "not a valid URL"),
        ("https://acme.example:0", "port 0"),
        ("https://[::1", "not a valid URL"),
        ("ftp://acme.example", r"absolute http\(s\) URL"),
        ("acme.example", r"absolute http\(s\) URL"),
    ],
)
def test_a_bad_base_url_is_a_configuration_error_not_a_traceback(
    base_url: str, message: str
) -> None:
    """Ports out of range, port 0, broken hosts and other schemes raise ConfigurationError."""
    with pytest.raises(ConfigurationError, match=message):
        ChargeOverClient(base_url, username="u", password="p")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": "30"},
        {"timeout": float("inf")},
        {"connect_timeout": float("nan")},
        {"timeout": True},
        {"max_connections": 2.5},
        {"max_response_bytes": 0},
    ],
)
def test_numbers_of_the_wrong_type_or_range_are_refused(kwargs: dict[str, Any]) -> None:
    """Timeouts must be finite seconds > 0; pool and body sizes ints >= 1 (no TypeError leaks)."""
    with pytest.raises(ConfigurationError):
        ChargeOverClient("https://acme.example", username="u", password="p", **kwargs)


def test_every_problem_is_named_at_once() -> None:
    """Several bad settings give one error listing each of them."""
    with pytest.raises(ConfigurationError) as info:
        ChargeOverClient(
            "https://acme.example",
            username="",
            password=None,  # type: ignore[arg-type]
            timeout=-1,
        )
    text = str(info.value)
    for part in ("username is empty", "password must be a str", "timeouts"):
        assert part in text


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://acme.chargeover.com", "https://acme.chargeover.com"),
        ("https://acme.chargeover.com/api/v3/", "https://acme.chargeover.com"),
        (" http://127.0.0.1:8080/prefix/api/v3 ", "http://127.0.0.1:8080/prefix"),
    ],
)
def test_the_endpoint_url_users_paste_is_normalised(given: str, base: str) -> None:
    """A trailing slash, /api/v3 and surrounding blanks are removed; a path prefix is kept."""
    assert normalise_base(given, None, allow_insecure=False) == base


def test_from_env_overrides_win_over_the_environment() -> None:
    """A keyword given to from_env replaces the variable's value instead of clashing with it."""
    env = {
        "CHARGEOVER_BASE_URL": "https://a.example",
        "CHARGEOVER_USERNAME": "u",
        "CHARGEOVER_PASSWORD": "p",
    }
    client = ChargeOverClient.from_env(env, base_url="https://b.example/api/v3")
    assert client.base_url == "https://b.example"
