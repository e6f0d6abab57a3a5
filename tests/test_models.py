"""The models (customer_sdk._models, _fields, _read): construction, read model, deprecations."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal
from typing import Any

import attrs
import pytest

from customer_sdk import errors
from customer_sdk._fields import FIELD_KINDS, FIELD_NAMES, CustomerFields
from customer_sdk._models import CreatedCustomer, Customer, CustomerCreate
from tests.test_serde import FULL

# A customer object shaped like ChargeOver's recorded GET /api/v3/customer/{id} answers (the
# official Ruby SDK's cassette test/fixtures/invoice_customer.yml; the C# SDK's CustomerResult),
# with invented values: every documented field, in the loose forms ChargeOver writes them.
RECORDED: dict[str, Any] = {
    "superuser_id": 385,
    "external_key": None,
    "token": "a1b2c3d4e5f6",
    "company": "Test Customer",
    "bill_addr1": "1 Hill Rd",
    "bill_addr2": None,
    "bill_addr3": None,
    "bill_city": "Springfield",
    "bill_state": "Vermont",
    "bill_postcode": "05462",
    "bill_country": "United States",
    "bill_notes": None,
    "ship_addr1": None,
    "ship_city": None,
    "ship_notes": None,
    "terms_id": 2,
    "class_id": None,
    "custom_1": None,
    "custom_2": "",
    "admin_id": 3,
    "campaign_id": 0,
    "custtype_id": None,
    "currency_id": 1,
    "parent_customer_id": 0,
    "no_taxes": False,
    "no_dunning": False,
    "no_latefees": False,
    "no_procfees": 0,
    "write_datetime": "2015-03-31 11:24:48",
    "write_ipaddr": "192.0.2.10",
    "mod_datetime": "2026-03-10T01:01:49-05:00",
    "mod_ipaddr": "192.0.2.11",
    "terms_name": "Due on Receipt",
    "terms_days": 0,
    "paid": 0,
    "total": 11596.69,
    "balance": "11596.69",
    "url_paymethodlink": "https://x.example/r/paymethod/i/a1b2c3d4e5f6",
    "url_self": "https://x.example/admin/r/customer/view/35",
    "admin_name": "Karl Admin",
    "admin_email": "karl@x.example",
    "currency_symbol": "$",
    "currency_iso4217": "USD",
    "display_as": "Test Customer",
    "ship_block": "",
    "bill_block": "1 Hill Rd\nSpringfield Vermont 05462\nUnited States",
    "superuser_name": "Test Customer",
    "superuser_first_name": "Test",
    "superuser_last_name": "Customer",
    "superuser_phone": 8025550100,
    "superuser_email": "test@x.example",
    "superuser_token": "f6e5d4c3b2a1",
    "customer_id": "35",
    "invoice_delivery": "email",
    "dunning_delivery": "print",
    "customer_status_id": 1,
    "customer_status_name": "Current",
    "customer_status_str": "active-current",
    "customer_status_state": "a",
    "superuser_username": "ZMGsYQdi5IwL",
    "tags": [],
    "some_future_field": {"nested": [1, 2]},
}


def test_direct_construction_validates_every_field_at_once() -> None:
    """CustomerCreate(...) itself raises one ValidationError naming all its bad fields."""
    with pytest.raises(errors.ValidationError) as info:
        CustomerCreate(company="", language_id=True, tags=["x", 3])
    assert [e.path for e in info.value.errors] == ["company", "language_id", "tags[1]"]


def test_extra_is_frozen_and_tags_become_a_tuple() -> None:
    """A tags list is frozen into a tuple on the model, and extra into a read-only mapping."""
    model = CustomerCreate(company="A", tags=["a", "b"], extra={"superuser_id": 5})
    assert model.tags == ("a", "b")
    assert model.extra == {"superuser_id": 5}
    with pytest.raises(TypeError):
        model.extra["x"] = 1  # type: ignore[index]


def test_model_is_frozen_and_keyword_only() -> None:
    """A CustomerCreate cannot be changed after it is built, nor built positionally."""
    model = CustomerCreate(company="A")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.company = "B"  # type: ignore[misc]
    with pytest.raises(TypeError):
        CustomerCreate("A")  # type: ignore[call-arg,arg-type]
    assert attrs.evolve(model, company="B").company == "B"
    with pytest.raises(errors.ValidationError):
        attrs.evolve(model, company="")


def test_repr_hides_personal_data() -> None:
    """The models' reprs show the company/key or id/key, never e-mail, names or addresses."""
    text = repr(CustomerCreate(**FULL))
    for secret in ("j@acme.example", "Jane Doe", "1 Main St", "+1 555 0100"):
        assert secret not in text
    assert "crm-1" in text
    read = repr(Customer.from_wire(RECORDED))
    assert read == "Customer(customer_id=35, external_key=None)"


def test_the_typeddict_and_the_model_list_the_same_fields_and_types() -> None:
    """CustomerFields and CustomerCreate name the same fields in the same order and types."""
    hints = typing.get_type_hints(CustomerFields)
    model = typing.get_type_hints(CustomerCreate)
    names = [a.name for a in attrs.fields(CustomerCreate) if a.init]
    assert names == [*FIELD_NAMES, "extra"] == list(hints)
    for name in names:
        if name == "tags":  # a list is accepted and frozen into the model's tuple
            assert hints[name] == list[str] | tuple[str, ...] | None
            assert model[name] == tuple[str, ...] | None
        elif name == "company":  # required: no None on either side
            assert hints[name] is model[name] is str
        else:
            assert hints[name] == model[name], name
    assert CustomerFields.__required_keys__ == {"company"}


def test_field_kinds_are_read_from_the_types() -> None:
    """The validation kind of each field follows its declared type and the named text rules."""
    assert FIELD_KINDS["language_id"] == "id"
    assert FIELD_KINDS["no_procfees"] == "bool"
    assert FIELD_KINDS["dunning_delivery"] == "delivery"
    assert (FIELD_KINDS["company"], FIELD_KINDS["external_key"]) == ("key", "key")
    assert FIELD_KINDS["superuser_email"] == "email"
    assert (FIELD_KINDS["custom_20"], FIELD_KINDS["tags"]) == ("str", "tags")


def test_created_customer_uses_the_wire_name_and_id_is_a_deprecated_alias() -> None:
    """CreatedCustomer.customer_id holds the id; .id still answers it, with a warning."""
    created = CreatedCustomer(customer_id=12, created=True, attempts=1)
    assert created.customer_id == 12
    with pytest.deprecated_call(match="customer_id"):
        assert created.id == 12


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
