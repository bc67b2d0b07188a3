"""Writes on customers: identity resolution and merge, tags, consent, events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from customers.models import (
    ChannelIdentity,
    ConsentCredit,
    Customer,
    CustomerMerge,
    CustomerTag,
    CustomerUnionId,
    EngagementEvent,
    FollowState,
    TagSource,
)
from scrm.errors import ApplicationError
from scrm.fields import lookup_hash

logger = logging.getLogger(__name__)

# Event types that mean the customer did something (as opposed to something done to them).
ENGAGEMENT_EVENT_PREFIXES = ("wechat.message", "wechat.click", "wechat.view", "wechat.scan", "wechat.subscribe", "link.", "mp.", "inbox.read", "conversion")


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


# --- identity resolution ---------------------------------------------------------------------


def identity_resolve(
    *,
    account,
    external_id: str,
    unionid: str = "",
    profile: dict[str, Any] | None = None,
) -> ChannelIdentity:
    """Find or create the identity (account, external id) and its customer, linking by unionid.

    Safe under concurrency: the identity and the unionid each have a unique constraint, and a
    loser of a race merges its fresh customer into the winner's.
    """
    if not external_id:
        raise ApplicationError("An identity needs an openid / external_userid.", code="identity_missing_id")
    kind = account.identity_kind
    identity = ChannelIdentity.objects.filter(account=account, kind=kind, external_id=external_id).select_related("customer").first()
    if identity is None:
        identity = _identity_create(account=account, kind=kind, external_id=external_id, unionid=unionid, profile=profile or {})
    elif profile:
        _customer_fill_profile(identity.customer, profile)
    if unionid and identity.unionid != unionid:
        identity = identity_link_unionid(identity=identity, unionid=unionid)
    elif unionid:
        _ensure_unionid_owner(identity=identity, unionid=unionid)
    return identity


def _identity_create(*, account, kind: str, external_id: str, unionid: str, profile: dict[str, Any]) -> ChannelIdentity:
    owner = CustomerUnionId.objects.filter(unionid=unionid).select_related("customer").first() if unionid else None
    try:
        with transaction.atomic():
            customer = owner.customer if owner else _customer_create(profile)
            return ChannelIdentity.objects.create(
                customer=customer, account=account, kind=kind, external_id=external_id, unionid=unionid
            )
    except IntegrityError:
        # Another process created the same identity first.
        return ChannelIdentity.objects.select_related("customer").get(account=account, kind=kind, external_id=external_id)


def _customer_create(profile: dict[str, Any]) -> Customer:
    customer = Customer(**{k: v for k, v in profile.items() if k in _PROFILE_FIELDS and v not in (None, "")})
    customer.save()
    return customer


_PROFILE_FIELDS = {"display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone"}


def _customer_fill_profile(customer: Customer, profile: dict[str, Any]) -> None:
    changed = [k for k, v in profile.items() if k in _PROFILE_FIELDS and v not in (None, "") and not getattr(customer, k)]
    for key in changed:
        setattr(customer, key, profile[key])
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])


def identity_link_unionid(*, identity: ChannelIdentity, unionid: str) -> ChannelIdentity:
    """Record the identity's unionid; if another customer owns it, merge into that customer."""
    ChannelIdentity.objects.filter(pk=identity.pk).update(unionid=unionid)
    identity.unionid = unionid
    _ensure_unionid_owner(identity=identity, unionid=unionid)
    identity.refresh_from_db()
    return identity


def _ensure_unionid_owner(*, identity: ChannelIdentity, unionid: str) -> None:
    CustomerUnionId.objects.bulk_create(
        [CustomerUnionId(unionid=unionid, customer_id=identity.customer_id)], ignore_conflicts=True
    )
    owner_id = CustomerUnionId.objects.values_list("customer_id", flat=True).get(unionid=unionid)
    if owner_id != identity.customer_id:
        customer_merge(
            survivor=Customer.objects.get(pk=owner_id),
            merged=Customer.objects.get(pk=identity.customer_id),
            reason=f"unionid {unionid} shared",
        )


# --- merge -------------------------------------------------------------------------------------


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
        raise ApplicationError("A customer cannot be merged into itself.", code="merge_self")
    # Lock in id order so two merges touching the same pair cannot deadlock.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ApplicationError("Customer to merge no longer exists.", code="merge_missing")
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
    from customers.engagement.tasks import engagement_profile_recompute_task

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
    for name in [*sorted(_PROFILE_FIELDS), "source"]:
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


# --- follow state, interaction -----------------------------------------------------------------


def identity_set_follow_state(*, identity: ChannelIdentity, following: bool, at: datetime, scene: str = "") -> bool:
    """Apply a follow/unfollow that happened at `at`, unless a later follow or unfollow is already known.

    WeChat may deliver events out of order (retries, parallel workers): an old subscribe arriving
    after a newer unsubscribe must not mark the customer as following again, and vice versa.
    """
    qs = ChannelIdentity.objects.filter(pk=identity.pk).exclude(followed_at__gte=at).exclude(unfollowed_at__gte=at)
    if following:
        values: dict[str, Any] = {"follow_state": FollowState.FOLLOWING, "followed_at": at}
        if scene:
            values["subscribe_scene"] = scene
    else:
        values = {"follow_state": FollowState.UNFOLLOWED, "unfollowed_at": at}
    return bool(qs.update(**values, updated_at=timezone.now()))


def identity_touch_interaction(*, identity: ChannelIdentity, at: datetime) -> None:
    """Record a user-initiated interaction (opens the 48-hour customer-service window)."""
    ChannelIdentity.objects.filter(pk=identity.pk).exclude(last_interaction_at__gte=at).update(last_interaction_at=at)


# --- tags ------------------------------------------------------------------------------------


def tags_assign_bulk(
    *, tag_ids: Iterable[int], customers: QuerySet[Customer] | Iterable[int], source: str = TagSource.MANUAL
) -> int:
    """Assign tags to many customers with one INSERT … SELECT per tag; returns rows added."""
    customer_sql, customer_params = _customer_id_subquery(customers)
    now = timezone.now()
    added = 0
    table = CustomerTag._meta.db_table
    with connection.cursor() as cursor:
        for tag_id in tag_ids:
            cursor.execute(
                f"INSERT INTO {table} (customer_id, tag_id, source, assigned_at) "
                # "WHERE TRUE" lets SQLite parse ON CONFLICT after INSERT … SELECT.
                f"SELECT c.id, %s, %s, %s FROM ({customer_sql}) AS c WHERE TRUE "
                f"ON CONFLICT (customer_id, tag_id) DO NOTHING",
                [tag_id, source, now, *customer_params],
            )
            added += max(cursor.rowcount, 0)
    return added


def tags_unassign_bulk(*, tag_ids: Iterable[int], customers: QuerySet[Customer] | Iterable[int]) -> int:
    """Remove tags from many customers with one DELETE; returns rows removed."""
    if isinstance(customers, QuerySet):
        selection = CustomerTag.objects.filter(customer__in=customers.values("id"))
    else:
        selection = CustomerTag.objects.filter(customer_id__in=list(customers))
    deleted, _ = selection.filter(tag_id__in=list(tag_ids)).delete()
    return deleted


def _customer_id_subquery(customers: QuerySet[Customer] | Iterable[int]) -> tuple[str, list[Any]]:
    if isinstance(customers, QuerySet):
        query = customers.order_by().values("id").query
        sql, params = query.sql_with_params()
        return sql, list(params)
    ids = [int(pk) for pk in customers]
    if not ids:
        return "SELECT id FROM customers_customer WHERE 1 = 0", []
    return (
        f"SELECT id FROM {Customer._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(ids))})",
        ids,
    )


# --- consent credits ---------------------------------------------------------------------------


def consent_credit_add(*, customer_id: int, account_id: int, template_id: str, count: int = 1) -> None:
    """Record `count` accepted subscribe-message consents (one send each)."""
    credit, created = ConsentCredit.objects.get_or_create(
        customer_id=customer_id, account_id=account_id, template_id=template_id, defaults={"remaining": count}
    )
    if not created:
        ConsentCredit.objects.filter(pk=credit.pk).update(remaining=F("remaining") + count)


def consent_credit_consume(*, customer_id: int, account_id: int, template_id: str) -> bool:
    """Use one credit; False when none is left (conditional update, safe under concurrency)."""
    return bool(
        ConsentCredit.objects.filter(
            customer_id=customer_id, account_id=account_id, template_id=template_id, remaining__gt=0
        ).update(remaining=F("remaining") - 1)
    )


def consent_credit_revoke(*, customer_id: int, account_id: int, template_id: str) -> None:
    """The user refused (43101, or a later reject): no credit is left for this template."""
    ConsentCredit.objects.filter(customer_id=customer_id, account_id=account_id, template_id=template_id).update(remaining=0)


# --- events ------------------------------------------------------------------------------------


def event_record(
    *,
    customer_id: int,
    event_type: str,
    occurred_at: datetime | None = None,
    properties: dict[str, Any] | None = None,
    account_id: int | None = None,
    campaign_id: int | None = None,
    delivery_id: int | None = None,
    dedupe_key: str | None = None,
) -> EngagementEvent | None:
    """Store one engagement event once (by dedupe_key); None when it was already stored."""
    occurred_at = occurred_at or timezone.now()
    event = EngagementEvent(
        customer_id=customer_id,
        event_type=event_type,
        occurred_at=occurred_at,
        properties=properties or {},
        account_id=account_id,
        campaign_id=campaign_id,
        delivery_id=delivery_id,
        dedupe_key=dedupe_key,
    )
    if dedupe_key:
        try:
            with transaction.atomic():
                event.save()
        except IntegrityError:
            return None
    else:
        event.save()
    if event_type.startswith(ENGAGEMENT_EVENT_PREFIXES):
        Customer.objects.filter(pk=customer_id).exclude(last_engaged_at__gte=occurred_at).update(last_engaged_at=occurred_at)
    _engagement_schedule([event.pk])
    return event


def _engagement_schedule(event_ids: list[int]) -> None:
    # Learning runs on the analytics queue after commit, many events per task.
    from customers.engagement.services import engagement_schedule

    engagement_schedule(event_ids=event_ids)


_BULK_EVENT_KEYS = {"customer_id", "event_type", "occurred_at", "properties", "account_id", "campaign_id", "delivery_id", "dedupe_key"}


def events_record_bulk(events: Iterable[dict[str, Any]], *, batch_size: int = 5000) -> list[int]:
    """Store many events (dicts with event_record's arguments) in set-based inserts; returns new ids.

    Events whose dedupe_key is already stored are skipped (ON CONFLICT DO NOTHING).
    """
    table = EngagementEvent._meta.db_table
    now = timezone.now()
    new_ids: list[int] = []
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        for item in batch:
            unknown = set(item) - _BULK_EVENT_KEYS
            if unknown:
                raise ApplicationError("Unknown event fields.", code="event_invalid", detail=sorted(unknown))
        columns = [
            [int(e["customer_id"]) for e in batch],
            [e["event_type"] for e in batch],
            [e.get("occurred_at") or now for e in batch],
            [json.dumps(e.get("properties") or {}, cls=DjangoJSONEncoder) for e in batch],
            [e.get("account_id") for e in batch],
            [e.get("campaign_id") for e in batch],
            [e.get("delivery_id") for e in batch],
            [e.get("dedupe_key") for e in batch],
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH ins AS (
                    INSERT INTO {table}
                        (customer_id, event_type, occurred_at, properties, account_id, campaign_id, delivery_id, dedupe_key, created_at)
                    SELECT c, t, o, p::jsonb, a, cp, d, k, %s
                    FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::text[], %s::bigint[], %s::bigint[],
                                %s::bigint[], %s::varchar[]) AS u(c, t, o, p, a, cp, d, k)
                    ON CONFLICT (dedupe_key) DO NOTHING
                    RETURNING id, customer_id, event_type, occurred_at
                ), engaged AS (
                    UPDATE {Customer._meta.db_table} cu SET last_engaged_at = m.at
                    FROM (
                        SELECT customer_id, MAX(occurred_at) AS at FROM ins
                        WHERE {" OR ".join(["event_type LIKE %s"] * len(ENGAGEMENT_EVENT_PREFIXES))}
                        GROUP BY customer_id
                    ) m
                    WHERE cu.id = m.customer_id AND (cu.last_engaged_at IS NULL OR cu.last_engaged_at < m.at)
                )
                SELECT id FROM ins
                """,
                [now, *columns, *[prefix + "%" for prefix in ENGAGEMENT_EVENT_PREFIXES]],
            )
            new_ids.extend(row[0] for row in cursor.fetchall())
        batch.clear()

    with transaction.atomic():
        for event in events:
            batch.append(event)
            if len(batch) >= batch_size:
                flush()
        flush()
        _engagement_schedule(new_ids)
    return new_ids


# --- operator edits ----------------------------------------------------------------------------

_OPERATOR_EDITABLE_FIELDS = _PROFILE_FIELDS


@transaction.atomic
def customer_update(*, customer_id: int, data: dict[str, Any]) -> Customer:
    """Apply an operator's edit: profile fields, phone, and attributes merged (null removes a key)."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    changed: set[str] = set()
    for name, value in data.items():
        if name in _OPERATOR_EDITABLE_FIELDS and getattr(customer, name) != value:
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
