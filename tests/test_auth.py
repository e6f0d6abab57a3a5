"""Authorization headers (customer_sdk._auth): Basic, the legacy signature, masked reprs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from customer_sdk._auth import BasicAuth, SignatureAuth
from tests import _scripted as s
from tests._helpers import PASSWORD, Sleeps, make_client

NOW = 1_700_000_000.0


def test_basic_auth_header() -> None:
    """Basic auth is base64(username:password), computed once."""
    auth = BasicAuth("user", "pa:ss")
    assert auth.header("POST", "x", b"") == "Basic " + base64.b64encode(b"user:pa:ss").decode()


def test_signature_known_answer() -> None:
    """The legacy signature matches a digest computed independently (openssl dgst -hmac)."""
    auth = SignatureAuth("pub", "priv-key", clock=lambda: NOW, nonce=lambda: "abc12345")
    url = "http://127.0.0.1:8080/api/v3/customer?where=external_key%3AEQUALS%3Aab%2Fc"
    header = auth.header("POST", url, '{"company":"Äcme"}'.encode())
    assert header == (
        'ChargeOver co_public_key="pub" co_nonce="abc12345" co_timestamp="1700000000" '
        'co_signature_method="HMAC-SHA256" co_version="1.0" '
        'co_signature="9c1478f43bd5f578286b7c087d6c4022daa622dfe433932b02cbe09d98401f4a"'
    )


def test_signature_nonce_is_random_lowercase_alnum() -> None:
    """Without an injected nonce each header has a fresh 8-char [a-z0-9] nonce."""
    auth = SignatureAuth("pub", "priv")
    nonces = {
        re.search(r'co_nonce="([^"]*)"', auth.header("GET", "http://x", None))[1]  # type: ignore[index]
        for _ in range(20)
    }
    assert len(nonces) == 20
    assert all(re.fullmatch(r"[a-z0-9]{8}", n) for n in nonces)


def test_auth_reprs_hide_secrets() -> None:
    """Neither auth object's repr shows the password or private key."""
    assert "s3cret" not in repr(BasicAuth("u", "s3cret"))
    assert "s3cret" not in repr(SignatureAuth("u", "s3cret"))


async def test_signature_auth_verifies_on_the_server(
    server: s.ScriptedServer, sleeps: Sleeps
) -> None:
    """A server recomputing the HMAC over the raw URL and body accepts POST and GET."""

    def verify(ex: s.Exchange) -> bool:
        fields = dict(re.findall(r'(co_\w+)="([^"]*)"', ex.headers["authorization"]))
        url = (server.base_url + ex.target).lower()
        msg = "||".join(
            [
                fields["co_public_key"],
                url,
                fields["co_nonce"],
                fields["co_timestamp"],
                ex.body.decode(),
            ]
        )
        want = hmac.new(PASSWORD.encode(), msg.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, fields["co_signature"])

    def post(ex: s.Exchange) -> None:
        assert verify(ex)
        server.default_post(ex)

    def get(ex: s.Exchange) -> None:
        assert verify(ex)
        server.default_get(ex)

    server.post_script.append(post)
    server.get_script.append(get)
    async with make_client(server.base_url, sleeps, auth="signature") as client:
        await client.customers.create(company="Zürich AG", external_key="s/1:,")
        assert await client.customers.find_by_external_key("s/1:,") is not None
