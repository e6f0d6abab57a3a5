"""The create-side models (customer_sdk._models): CustomerCreate and CreatedCustomer."""

from __future__ import annotations

import attrs
import pytest

from customer_sdk import errors
from customer_sdk._models import CreatedCustomer, CustomerCreate
from customer_sdk._read import Customer
from tests._data import FULL, RECORDED


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


def test_created_customer_uses_the_wire_name_and_id_is_a_deprecated_alias() -> None:
    """CreatedCustomer.customer_id holds the id; .id still answers it, with a warning."""
    created = CreatedCustomer(customer_id=12, created=True, attempts=1)
    assert created.customer_id == 12
    with pytest.deprecated_call(match="customer_id"):
        assert created.id == 12
