"""The create field list (customer_sdk._fields): one TypedDict, and the tables derived from it."""

from __future__ import annotations

import typing

import attrs

from customer_sdk._fields import FIELD_KINDS, FIELD_NAMES, CustomerFields
from customer_sdk._models import CustomerCreate


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
    assert (FIELD_KINDS["company"], FIELD_KINDS["external_key"]) == ("company", "key")
    assert (FIELD_KINDS["superuser_name"], FIELD_KINDS["bill_addr1"]) == ("line", "text")
    assert FIELD_KINDS["superuser_email"] == "email"
    assert (FIELD_KINDS["custom_20"], FIELD_KINDS["tags"]) == ("text", "tags")
