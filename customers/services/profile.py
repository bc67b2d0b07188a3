"""Writes on a customer's own profile: phone, operator edits, the source they arrived through."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from scrm.fields import lookup_hash

# Profile fields WeChat (or an operator) may fill in; merges and edits use the same list.
PROFILE_FIELDS = frozenset({"display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone"})


def normalize_phone(raw: str) -> str:
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


def customer_set_phone(*, customer: Customer, phone: str) -> None:
    """Store the phone encrypted, with its keyed hash for exact lookup (caller saves)."""
    normalized = normalize_phone(phone) if phone else ""
    customer.phone = normalized
    customer.phone_hash = lookup_hash(normalized) if normalized else ""


def customer_fill_profile(customer: Customer, profile: dict[str, Any]) -> None:
    """Fill the profile fields the customer does not have yet (WeChat's data never overwrites)."""
    changed = [k for k, v in profile.items() if k in PROFILE_FIELDS and v not in (None, "") and not getattr(customer, k)]
    for key in changed:
        setattr(customer, key, profile[key])
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])


def customer_set_source_if_empty(*, customer_id: int, source: str) -> bool:
    """Record the channel the customer first arrived through, unless one is already known."""
    return bool(Customer.objects.filter(pk=customer_id, source="").update(source=source[:128], updated_at=timezone.now()))


@transaction.atomic
def customer_update(*, customer_id: int, data: dict[str, Any]) -> Customer:
    """Apply an operator's edit: profile fields, phone, and attributes merged (null removes a key)."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    changed: set[str] = set()
    for name, value in data.items():
        if name in PROFILE_FIELDS and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.add(name)
    if "phone" in data:
        before = customer.phone_hash
        customer_set_phone(customer=customer, phone=data["phone"])
        if customer.phone_hash != before:
            changed |= {"phone", "phone_hash"}
    if "attributes" in data:
        attributes = {**customer.attributes}
        for key, value in data["attributes"].items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        if attributes != customer.attributes:
            customer.attributes = attributes
            changed.add("attributes")
    if changed:
        customer.save(update_fields=[*sorted(changed), "updated_at"])
    return customer
