"""Serializer fields shared by the APIs."""

from __future__ import annotations

import copy

from rest_framework import serializers

BIGINT_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id: 1 … 2⁶³−1. A larger number is a 400 naming the field, not an overflow in the database."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class FieldsBuiltOnce:
    """For a ModelSerializer whose fields never depend on the request: the fields are built from the
    model once per class and each instance gets its own copy. DRF introspects the model again for
    every serializer instance (ModelSerializer.get_fields: a sixth of a customer search's Python calls,
    for a list's serializer and its two nested ones)."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built_once = built
        return copy.deepcopy(built)
