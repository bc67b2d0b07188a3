"""Serializer fields shared by the APIs."""

from __future__ import annotations

from rest_framework import serializers

BIGINT_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id: 1 … 2⁶³−1. A larger number is a 400 naming the field, not an overflow in the database."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)
