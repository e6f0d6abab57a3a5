"""The read model (customer_sdk._read): Customer, typed and lenient, as ChargeOver answers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from customer_sdk._fields import FIELD_NAMES
from customer_sdk._models import wire_from_mapping, wire_of
from customer_sdk._read import Customer
from customer_sdk.errors import ValidationError
from customer_sdk.sandbox import Sandbox
from tests._data import RECORDED
from tests._helpers import client_for


def test_customer_reads_every_documented_field_leniently() -> None:
    """A recorded-looking object: ids 0/null -> None, flags 0 -> False, both datetimes, money."""
    c = Customer.from_wire(RECORDED)
    assert (c.customer_id, c.superuser_id, c.terms_id, c.admin_id) == (35, 385, 2, 3)
    assert (c.parent_customer_id, c.campaign_id, c.class_id, c.custtype_id) == (None,) * 4
    assert (c.no_procfees, c.no_taxes, c.no_latefees) == (False, False, False)
    assert c.write_datetime == dt.datetime(2015, 3, 31, 11, 24, 48)
    assert c.mod_datetime is not None
    assert c.mod_datetime.utcoffset() == dt.timedelta(hours=-5)
    assert (c.total, c.balance, c.paid) == (Decimal("11596.69"), Decimal("11596.69"), Decimal(0))
    assert (c.terms_days, c.terms_name) == (0, "Due on Receipt")  # a count: 0 stays 0
    assert (c.token, c.superuser_token, c.display_as) == (
        "a1b2c3d4e5f6",
        "f6e5d4c3b2a1",
        "Test Customer",
    )
    assert c.url_self == "https://x.example/admin/r/customer/view/35"
    assert c.url_paymethodlink == "https://x.example/r/paymethod/i/a1b2c3d4e5f6"
    assert (c.customer_status_id, c.customer_status_str, c.customer_status_state) == (
        1,
        "active-current",
        "a",
    )
    assert c.customer_status_name == "Current"
    assert (c.write_ipaddr, c.mod_ipaddr, c.bill_notes) == ("192.0.2.10", "192.0.2.11", None)
    assert (c.admin_name, c.admin_email) == ("Karl Admin", "karl@x.example")
    assert (c.currency_symbol, c.currency_iso4217) == ("$", "USD")
    assert c.bill_block is not None
    assert c.bill_block.startswith("1 Hill Rd\n")
    assert (c.superuser_phone, c.bill_postcode) == ("8025550100", "05462")
    assert (c.custom_1, c.custom_2, c.external_key, c.company) == (None, "", None, "Test Customer")
    assert (c.invoice_delivery, c.dunning_delivery, c.tags) == ("email", "print", ())
    assert c.extra == {"some_future_field": {"nested": [1, 2]}}
    with pytest.raises(TypeError):
        c.extra["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("customer_id", None, None),
        ("customer_id", 0, None),
        ("customer_id", "0012", 12),
        ("customer_id", "x", None),
        ("customer_id", True, None),
        ("no_taxes", 1, True),
        ("no_taxes", "false", False),
        ("no_taxes", "maybe", None),
        ("tags", "a, b,,", ("a", "b")),
        ("tags", ["a", 2], ("a", "2")),
        ("tags", None, ()),
        ("write_datetime", "0000-00-00 00:00:00", None),
        ("write_datetime", "yesterday", None),
        ("write_datetime", None, None),
        ("balance", "1e3", Decimal("1000")),
        ("balance", "NaN", None),
        ("balance", "n/a", None),
        ("balance", True, None),
        ("external_key", "", None),
        ("company", ["not", "text"], None),
    ],
)
def test_lenient_read_hooks(field: str, raw: object, expected: object) -> None:
    """Each read hook takes the loose forms ChargeOver writes and never raises."""
    assert getattr(Customer.from_wire({field: raw}), field) == expected


def test_customer_fields_is_deprecated_and_lists_the_create_fields_set() -> None:
    """Customer.fields still answers the create-side fields that are set, with a warning."""
    c = Customer.from_wire({"customer_id": 1, "company": "A", "no_procfees": 0, "token": "t"})
    with pytest.deprecated_call(match="attributes"):
        assert c.fields == {"company": "A", "no_procfees": False}


def test_a_customer_is_frozen_and_keyword_only() -> None:
    """The read model cannot be changed, nor built positionally; its defaults are all unset."""
    c = Customer(customer_id=3)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.company = "B"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Customer(3)  # type: ignore[call-arg]
    assert (c.company, c.tags, dict(c.extra)) == (None, (), {})


def _recorded_customers() -> list[dict[str, Any]]:
    """Every customer object in the public recordings (tests/recordings/)."""
    out: list[dict[str, Any]] = []
    for path in sorted((Path(__file__).parent / "recordings").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))["response"]["body"]
        answer = json.loads(body).get("response") if body.startswith("{") else None
        objects = answer if isinstance(answer, list) else [answer]
        out += [o for o in objects if isinstance(o, dict) and "company" in o]
    return out


def test_every_recorded_customer_is_accepted_as_a_create_and_through_to_create() -> None:
    """ChargeOver's own answers (no_procfees: 0, "" text, multi-line blocks) are valid creates."""
    recorded = _recorded_customers()
    assert len(recorded) >= 3
    for obj in recorded:
        writable = {k: v for k, v in obj.items() if k in FIELD_NAMES and v is not None}
        wire_from_mapping(writable)  # the raw object's own values, as ChargeOver sent them
        customer = Customer.from_wire(obj)
        created = customer.to_create()
        assert created.company == obj["company"]
        assert wire_of(created) == {
            k: v for k, v in customer.to_fields().items() if k != "external_key" or v
        }


def test_to_fields_leaves_out_read_only_fields_unset_ones_and_on_request_the_ids() -> None:
    """to_fields: writable set fields only (tags as a list); keep_ids=False drops instance ids."""
    c = Customer.from_wire({**RECORDED, "tags": ["vip"], "bill_block": "a\nb", "custom_1": None})
    fields = c.to_fields()
    assert fields["terms_id"] == 2
    assert fields["tags"] == ["vip"]
    assert not {"token", "bill_block", "superuser_id", "custom_1", "class_id"} & set(fields)
    moved = c.to_fields(keep_ids=False)
    assert not set(moved) & {"terms_id", "admin_id", "currency_id", "parent_customer_id"}
    assert moved["company"] == fields["company"]


def test_to_create_of_a_customer_without_a_company_names_the_problem() -> None:
    """A read customer that cannot be created as it is raises ValidationError, naming company."""
    with pytest.raises(ValidationError) as info:
        Customer.from_wire({"customer_id": 5, "bill_city": "X"}).to_create()
    assert [e.path for e in info.value.errors] == ["company"]


async def test_a_customer_read_back_is_created_again_with_the_same_fields() -> None:
    """Sandbox round trip: create (multi-line address, 0/1 flags), get, to_create, get again."""
    async with Sandbox() as sb, client_for(sb) as client:
        first = await client.customers.create(
            company="Acme", external_key="a-1", bill_addr1="Unit 4\nDock Road", no_taxes=1
        )
        original = await client.customers.get(first.customer_id)
        again = attrs.evolve(original.to_create(), external_key="a-2")
        second = await client.customers.create(again)
        copy = await client.customers.get(second.customer_id)
    assert copy.bill_addr1 == "Unit 4\nDock Road"
    assert copy.no_taxes is True
    assert {**copy.to_fields(), "external_key": "a-1"} == original.to_fields()
