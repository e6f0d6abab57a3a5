"""Serialisation of the models through the SDK's one converter.

The converter itself, and its strict create hooks, live in :mod:`customer_sdk._convert`; the
lenient read hooks in :mod:`customer_sdk._read`; the model hooks (:func:`structure_create`,
:func:`unstructure_create`) next to the model in :mod:`customer_sdk._models`, registered there
so the converter is whole whatever is imported. This module gathers them and adds the create
body as bytes, made with orjson so the body that is signed is exactly the body that is sent.
No I/O.
"""

from __future__ import annotations

import orjson

from customer_sdk._convert import converter
from customer_sdk._models import CustomerCreate, structure_create, unstructure_create

__all__ = ["converter", "dumps", "structure_create", "unstructure_create"]


def dumps(model: CustomerCreate) -> bytes:
    """Serialise a create body once, as UTF-8 JSON with non-ASCII text intact.

    Args:
        model: A validated model.

    Returns:
        The exact bytes to send (and, under signature auth, to sign).
    """
    # The model's own wire dict, not a copy: orjson only reads it.
    return orjson.dumps(model._wire)
