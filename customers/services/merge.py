"""Merging two customers who turn out to be one person (a shared unionid, an operator's decision)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.db.models import F

from customers.engagement.tasks import engagement_profile_recompute_task
from customers.errors import CustomerError
from customers.models import ConsentCredit, Customer, CustomerMerge
from customers.services.profile import PROFILE_FIELDS
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)



def _customer_relations() -> list[models.ForeignKey]:
    """Every foreign key in the project that points at Customer (any app), found generically so
    that customers/ needs no import of the apps that reference it."""
    return [
        rel.field
        for rel in Customer._meta.related_objects
        if isinstance(rel.field, models.ForeignKey) and rel.related_model is not Customer
    ]


def _unique_groups(model: type[models.Model], field_name: str) -> list[list[str]]:
    groups = [list(c.fields) for c in model._meta.constraints if isinstance(c, models.UniqueConstraint) and field_name in c.fields]
    groups += [list(t) for t in model._meta.unique_together if field_name in t]
    return groups


@transaction.atomic
def customer_merge(*, survivor: Customer, merged: Customer, reason: str) -> CustomerMerge:
    """Move everything of `merged` to `survivor` in one transaction, record it, delete `merged`."""
    if survivor.pk == merged.pk:
        raise ApplicationError(code=CustomerError.MERGE_SELF)
    # Lock in id order so two merges touching the same pair cannot deadlock.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ApplicationError(code=CustomerError.MERGE_MISSING)
    survivor, merged = locked[survivor.pk], locked[merged.pk]

    moved: dict[str, int] = {}
    _merge_consent_credits(survivor, merged)
    for field in _customer_relations():
        model = field.model
        label = f"{model._meta.label}.{field.name}"
        if model is CustomerMerge:
            continue
        if field.one_to_one:
            if model._default_manager.filter(**{field.name: survivor}).exists():
                model._default_manager.filter(**{field.name: merged}).delete()
            else:
                moved[label] = model._default_manager.filter(**{field.name: merged}).update(**{field.name: survivor})
            continue
        for group in _unique_groups(model, field.name):
            others = [name for name in group if name != field.name]
            if not others:
                continue
            survivor_keys = set(model._default_manager.filter(**{field.name: survivor}).values_list(*others))
            if not survivor_keys:
                continue
            merged_rows = model._default_manager.filter(**{field.name: merged}).values_list("pk", *others)
            drop_ids = [row[0] for row in merged_rows if tuple(row[1:]) in survivor_keys]
            if drop_ids:
                model._default_manager.filter(pk__in=drop_ids).delete()
                moved[f"{label}:dropped_duplicates"] = len(drop_ids)
        count = model._default_manager.filter(**{field.name: merged}).update(**{field.name: survivor})
        if count:
            moved[label] = count

    snapshot = {
        f.attname: _jsonable(getattr(merged, f.attname))
        for f in Customer._meta.concrete_fields
        if f.attname not in {"phone"}
    }
    _merge_profile_fields(survivor, merged)
    CustomerMerge.objects.filter(survivor=merged).update(survivor=survivor)
    record = CustomerMerge.objects.create(
        survivor=survivor, merged_customer_id=merged.pk, merged_snapshot=snapshot, moved=moved, reason=reason
    )
    merged.delete()
    # The survivor's profile was learned from its own events only; rebuild it from all of them.
    survivor_id = survivor.pk
    transaction.on_commit(lambda: _enqueue_profile_recompute(survivor_id))
    logger.info("customer %s merged into %s (%s)", record.merged_customer_id, survivor.pk, reason)
    return record


def _enqueue_profile_recompute(customer_id: int) -> None:
    engagement_profile_recompute_task.delay(customer_ids=[customer_id])


def _merge_consent_credits(survivor: Customer, merged: Customer) -> None:
    for credit in ConsentCredit.objects.filter(customer=merged):
        updated = ConsentCredit.objects.filter(
            customer=survivor, account_id=credit.account_id, template_id=credit.template_id
        ).update(remaining=F("remaining") + credit.remaining)
        if updated:
            credit.delete()


def _merge_profile_fields(survivor: Customer, merged: Customer) -> None:
    changed: list[str] = []
    for name in [*sorted(PROFILE_FIELDS), "source"]:
        if not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
            changed.append(name)
    if not survivor.phone_hash and merged.phone_hash:
        survivor.phone, survivor.phone_hash = merged.phone, merged.phone_hash
        changed += ["phone", "phone_hash"]
    attributes = {**merged.attributes, **survivor.attributes}
    if attributes != survivor.attributes:
        survivor.attributes = attributes
        changed.append("attributes")
    if merged.first_seen_at < survivor.first_seen_at:
        survivor.first_seen_at = merged.first_seen_at
        changed.append("first_seen_at")
    if merged.last_engaged_at and (not survivor.last_engaged_at or merged.last_engaged_at > survivor.last_engaged_at):
        survivor.last_engaged_at = merged.last_engaged_at
        changed.append("last_engaged_at")
    if changed:
        survivor.save(update_fields=[*changed, "updated_at"])


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
