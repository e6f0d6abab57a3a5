"""The one converter (customer_sdk._convert, _serde): every create rule, path and message."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from customer_sdk import errors
from customer_sdk._convert import CheckedWire, structure_wire
from customer_sdk._fields import FIELD_KINDS, FIELD_NAMES, CustomerFields
from customer_sdk._models import CustomerCreate, wire_from_mapping, wire_of
from customer_sdk._read import Customer
from customer_sdk._serde import converter, dumps, structure_create, unstructure_create
from tests._data import FULL

CTRL = "must not contain CR, LF or NUL characters"
NUL = "must not contain NUL characters"
BLANK_KEY = "must not be blank (leave it out, or empty, for no key)"
DELIVERY = "must be 'email' or 'print', got "
NOT_EMAIL = "is not an e-mail address"
SHADOW = "is a model field: set it directly"
NOT_JSON = "is not JSON-serialisable: "
UNKNOWN = "unknown field (send it through extra= if intended)"

# Each bad row and every problem it must be reported with: {path: message}.
BAD_INPUTS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"company": 123}, {"company": "expected str, got int"}),
    ({"company": ""}, {"company": "must not be empty"}),
    ({"company": "   "}, {"company": "must not be empty"}),
    ({}, {"company": "is required"}),
    ({"company": None}, {"company": "is required"}),
    ({"company": b"Acme"}, {"company": "expected str, got bytes"}),
    ({"company": "A", "language_id": True}, {"language_id": "expected int, got bool"}),
    ({"company": "A", "language_id": "5"}, {"language_id": "expected int, got str"}),
    ({"company": "A", "language_id": 1.7}, {"language_id": "expected int, got float"}),
    ({"company": "A", "language_id": -5}, {"language_id": "must be an id (0 for none)"}),
    ({"company": "A", "currency_id": -1}, {"currency_id": "must be an id (0 for none)"}),
    ({"company": "A", "parent_customer_id": "7"}, {"parent_customer_id": "expected int, got str"}),
    ({"company": "A", "brand_id": 2.0}, {"brand_id": "expected int, got float"}),
    ({"company": "A", "terms_id": [1]}, {"terms_id": "expected int, got list"}),
    ({"company": "A", "no_taxes": 2}, {"no_taxes": "expected bool, or 0 or 1, got 2"}),
    ({"company": "A", "no_taxes": 1.0}, {"no_taxes": "expected bool, got float"}),
    ({"company": "A", "no_dunning": "true"}, {"no_dunning": "expected bool, got str"}),
    ({"company": "A", "no_procfees": -1}, {"no_procfees": "expected bool, or 0 or 1, got -1"}),
    ({"company": "A", "invoice_delivery": "mail"}, {"invoice_delivery": DELIVERY + "'mail'"}),
    ({"company": "A", "dunning_delivery": "EMAIL"}, {"dunning_delivery": DELIVERY + "'EMAIL'"}),
    ({"company": "A", "invoice_delivery": 1}, {"invoice_delivery": DELIVERY + "1"}),
    ({"company": "A", "tags": "a;b"}, {"tags": "expected a list of str, got str"}),
    ({"company": "A", "tags": [1]}, {"tags[0]": "expected str, got int"}),
    ({"company": "A", "tags": ["ok", ""]}, {"tags[1]": "must not be empty"}),
    ({"company": "A", "tags": ["a\nb"]}, {"tags[0]": CTRL}),
    ({"company": "A", "tags": {"a"}}, {"tags": "expected a list of str, got set"}),
    ({"company": "A\r\nX-Injected: 1"}, {"company": CTRL}),
    ({"company": "A", "bill_city": "x\x00"}, {"bill_city": NUL}),
    ({"company": "A", "custom_20": "line1\x00line2"}, {"custom_20": NUL}),
    ({"company": "A", "superuser_name": "Ann\r\nBcc: x@y.z"}, {"superuser_name": CTRL}),
    ({"company": "A", "superuser_username": "ann\n"}, {"superuser_username": CTRL}),
    ({"company": "A", "superuser_email": "a@b.c\nBcc: x@y.z"}, {"superuser_email": CTRL}),
    ({"company": "A", "external_key": "  "}, {"external_key": BLANK_KEY}),
    ({"company": "A", "external_key": 42}, {"external_key": "expected str, got int"}),
    ({"company": "A", "external_key": "k\r"}, {"external_key": CTRL}),
    ({"company": "A", "superuser_email": "not-an-email"}, {"superuser_email": NOT_EMAIL}),
    ({"company": "A", "superuser_email": "a @b.c"}, {"superuser_email": NOT_EMAIL}),
    ({"company": "A", "superuser_email": "@b.c"}, {"superuser_email": NOT_EMAIL}),
    ({"company": "A", "superuser_email": 5}, {"superuser_email": "expected str, got int"}),
    ({"company": "A", "tax_ident": 12345}, {"tax_ident": "expected str, got int"}),
    ({"company": "A", "unknown_field": 1}, {"unknown_field": UNKNOWN}),
    ({"company": "A", "unknown_field": None}, {"unknown_field": UNKNOWN}),
    ({"company": "A", "Company": "dup"}, {"Company": UNKNOWN}),
    ({"company": "A", "extra": {"company": "shadow"}}, {"extra.company": SHADOW}),
    ({"company": "A", "extra": {"x": {1, 2}}}, {"extra.x": NOT_JSON + "set"}),
    ({"company": "A", "extra": {"x": object()}}, {"extra.x": NOT_JSON + "object"}),
    ({"company": "A", "extra": {"x": float("nan")}}, {"extra.x": NOT_JSON + "float"}),
    ({"company": "A", "extra": {"x": "a\x00b"}}, {"extra.x": NUL}),
    ({"company": "A", "extra": {1: "x"}}, {"extra": "keys must be str, got int"}),
    ({"company": "A", "extra": ["x"]}, {"extra": "expected a mapping, got list"}),
]  # fmt: skip


def test_bad_input_corpus_covers_every_field_kind() -> None:
    """The bad-input corpus has 40+ cases and a bad value of every kind of field (FIELD_KINDS)."""
    assert len(BAD_INPUTS) >= 40
    fields = {re.split(r"[\[.]", path)[0] for _, problems in BAD_INPUTS for path in problems}
    assert {FIELD_KINDS[f] for f in fields if f in FIELD_KINDS} == set(FIELD_KINDS.values())


@pytest.mark.parametrize(("row", "problems"), BAD_INPUTS)
def test_each_rule_names_its_path_and_message_on_every_entry_point(
    row: dict[str, Any], problems: dict[str, str]
) -> None:
    """Each bad row raises one ValidationError with exactly its paths and messages, everywhere."""
    entry_points: list[Callable[[], object]] = [
        lambda: wire_from_mapping(row),
        lambda: wire_from_mapping(dict(row), owned=True),
        lambda: converter.structure(row, CustomerFields),
        lambda: converter.structure(row, CustomerCreate),
        lambda: structure_create(row),
        lambda: wire_of(row),
    ]
    for call in entry_points:
        with pytest.raises(errors.ValidationError) as info:
            call()
        assert {e.path: e.message for e in info.value.errors} == problems


class _Text(str):
    """A str subclass: it may override anything, so it is not text to the converter."""


@pytest.mark.parametrize(
    "value",
    [True, 1, 1.0, b"x", ["x"], {"x": 1}, _Text("x")],
    ids=["bool", "int", "float", "bytes", "list", "dict", "str-subclass"],
)
def test_nothing_is_coerced_to_text(value: object) -> None:
    """A text field takes only an exact str: no number, flag, bytes or str subclass passes."""
    with pytest.raises(errors.ValidationError) as info:
        wire_from_mapping({"company": "A", "bill_city": value})
    assert [e.path for e in info.value.errors] == ["bill_city"]


def test_many_problems_are_reported_in_one_error_in_wire_order() -> None:
    """A row with many problems gets one error listing every problem, wire order then unknowns."""
    row = {
        "zzz": 1,
        "tags": [1, "", "ok"],
        "extra": {"x": object()},
        "language_id": True,
        "external_key": " ",
        "invoice_delivery": "fax",
        "no_taxes": "yes",
        "aaa": None,
    }
    with pytest.raises(errors.ValidationError) as info:
        structure_create(row)
    paths = [e.path for e in info.value.errors]
    assert paths == [
        "external_key",
        "company",
        "language_id",
        "no_taxes",
        "invoice_delivery",
        "tags[0]",
        "tags[1]",
        "extra.x",
        "zzz",
        "aaa",
    ]
    assert "10 invalid fields" in str(info.value)


def test_a_non_mapping_is_reported_at_the_root() -> None:
    """Input that is not a mapping at all is one error at path $."""
    calls: list[Callable[[], object]] = [
        lambda: wire_of(["x"]),
        lambda: structure_create(3),
        lambda: wire_from_mapping(3),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(errors.ValidationError) as info:
            call()
        assert [e.path for e in info.value.errors] == ["$"]


def test_every_seed_field_round_trips_to_the_exact_wire_dict() -> None:
    """Every field of the seed page is accepted and serialised under its wire name and type."""
    assert set(FULL) == set(FIELD_NAMES)
    model = CustomerCreate(**FULL)
    assert unstructure_create(model) == FULL
    assert converter.unstructure(model) == FULL
    assert orjson.loads(dumps(model)) == FULL
    assert wire_from_mapping(FULL) == FULL
    assert converter.structure(FULL, CustomerCreate) == model


def test_unset_fields_are_never_sent_and_false_flags_are() -> None:
    """None means unset and is left out of the wire; a False flag is sent as false."""
    assert orjson.loads(dumps(CustomerCreate(company="A", no_taxes=False))) == {
        "company": "A",
        "no_taxes": False,
    }
    row = {"company": "A", "bill_city": None, "tags": None, "extra": None}
    assert wire_from_mapping(row) == {"company": "A"}
    assert row == {"company": "A", "bill_city": None, "tags": None, "extra": None}


def test_the_wire_is_a_new_dict_without_unset_fields() -> None:
    """The caller's mapping and tag list are never the wire, nor changed; None means unset."""
    tags = ["a"]
    row = {"company": "Acme", "tags": tags}
    wire = wire_from_mapping(row)
    assert wire == row
    assert wire is not row
    assert wire["tags"] is not tags
    given = {"company": "Acme", "bill_city": None}
    assert wire_from_mapping(given) == {"company": "Acme"}
    assert given == {"company": "Acme", "bill_city": None}
    assert wire_from_mapping({"company": "Acme", "bill_city": None}, owned=True) == {
        "company": "Acme"
    }


def test_non_ascii_text_is_sent_as_utf8() -> None:
    """Non-ASCII text is sent intact as UTF-8 bytes, not as backslash-u escapes."""
    body = dumps(CustomerCreate(company="Jürgen Müller 株式会社"))
    assert "Jürgen Müller 株式会社".encode() in body
    assert b"\\u" not in body


def test_extra_is_merged_into_the_wire() -> None:
    """extra= fields are sent at the top level of the body, next to the listed ones."""
    wire = wire_from_mapping({"company": "A", "extra": {"superuser_id": 5, "n": [1, {"a": None}]}})
    assert wire == {"company": "A", "superuser_id": 5, "n": [1, {"a": None}]}


def test_checked_wire_is_trusted_read_only_and_copies_are_not() -> None:
    """wire_of passes a CheckedWire on unchecked; it cannot be changed, and its copies are plain."""
    wire = CheckedWire(structure_wire({"company": "A"}))
    assert wire_of(wire) is wire
    with pytest.raises(TypeError, match="read-only"):
        wire["company"] = 5
    with pytest.raises(TypeError, match="read-only"):
        wire.update(company=5)
    for clone in (copy.copy(wire), pickle.loads(pickle.dumps(wire)), dict(wire)):  # noqa: S301
        assert type(clone) is dict
        assert clone == {"company": "A"}
    plain = {"company": 5}
    with pytest.raises(errors.ValidationError):
        wire_of(plain)  # a plain dict is always checked


def test_a_model_wire_is_reused_not_rechecked() -> None:
    """wire_of on a CustomerCreate returns the wire built when the model was validated."""
    model = CustomerCreate(company="A")
    assert wire_of(model) is wire_of(model)


def test_the_converter_reads_customers_leniently() -> None:
    """The same converter structures a read's JSON into a Customer (lenient hooks)."""
    customer = converter.structure({"customer_id": "7", "no_procfees": 0}, Customer)
    assert (customer.customer_id, customer.no_procfees) == (7, False)


@pytest.mark.parametrize(
    "row",
    [
        {"company": "Bad \ud800"},
        {"company": "Acme", "external_key": "k-\udcff"},
        {"company": "Acme", "superuser_email": "a\ud800@b.example"},
        {"company": "Acme", "tags": ["ok", "bad \ud800"]},
        {"company": "Acme", "extra": {"superuser_id": "\ud800"}},
    ],
)
def test_text_that_cannot_be_encoded_is_a_validation_error(row: dict[str, object]) -> None:
    """A lone surrogate in any text field is a ValidationError naming it, not orjson's TypeError."""
    with pytest.raises(errors.ValidationError) as info:
        wire_from_mapping(row)
    assert any("surrogate" in e.message for e in info.value.errors)
    with pytest.raises(errors.ValidationError):
        CustomerCreate(**row)  # type: ignore[arg-type]


# Values ChargeOver itself returns for writable fields, and the wire each one is sent as
# (docs/chargeover-api.md, "Values"; the recordings in tests/recordings/).
ACCEPTED: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
    ({"no_procfees": 0}, {"no_procfees": False}),  # list_200_2026.json
    ({"no_taxes": 1, "no_dunning": 0}, {"no_taxes": True, "no_dunning": False}),
    ({"class_id": 0, "parent_customer_id": 0}, {"class_id": 0, "parent_customer_id": 0}),
    ({"tax_ident": "", "superuser_phone": ""}, {"tax_ident": "", "superuser_phone": ""}),
    ({"superuser_email": ""}, {"superuser_email": ""}),
    ({"external_key": ""}, {}),  # ChargeOver's "no key": not sent at all
    ({"bill_addr1": "Suite 42\n123 Main St"}, {"bill_addr1": "Suite 42\n123 Main St"}),
    ({"custom_3": "line 1\r\nline 2", "campaign_details": "a\nb"}, None),
    ({"ship_city": "Burlington\n", "bill_country": "United\nStates"}, None),
    ({"extra": {"notes": "two\nlines"}}, {"notes": "two\nlines"}),
]  # fmt: skip


@pytest.mark.parametrize(("given", "sent"), ACCEPTED)
def test_every_value_chargeover_returns_is_accepted_on_every_entry_point(
    given: dict[str, Any], sent: dict[str, Any] | None
) -> None:
    """0/1 flags, 0 ids, empty text and multi-line free text pass the mapping path and the model."""
    expected = {"company": "A", **(given if sent is None else sent)}
    assert wire_from_mapping({"company": "A", **given}) == expected
    assert wire_of(CustomerCreate(company="A", **given)) == expected
