"""The read model (customer_sdk._read): Customer, typed and lenient, as ChargeOver answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from customer_sdk._read import Customer
from tests._data import RECORDED


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
