"""Writes on the engagement event store: one event once (by dedupe key), or many set-based."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import sql

from customers.engagement.daily import BULK_COUNT_CTE, bulk_count_params, daily_count_event
from customers.engagement.services import engagement_schedule
from customers.errors import CustomerError
from customers.models import Customer, EngagementEvent
from scrm.errors import ApplicationError
from scrm.sqltools import render, table

# Event types that mean the customer did something (as opposed to something done to them).
ENGAGEMENT_EVENT_PREFIXES = ("wechat.message", "wechat.click", "wechat.view", "wechat.scan", "wechat.subscribe", "link.", "mp.", "inbox.read", "conversion", "wecom.moment_")

# Inserts a batch (skipping stored dedupe keys) and moves last_engaged_at for the engaging ones.
# Params: created_at, the eight column arrays, one LIKE pattern per ENGAGEMENT_EVENT_PREFIXES entry,
# then the daily counters' parameters (customers.engagement.daily.BULK_COUNT_CTE).
_EVENTS_INSERT = sql.SQL(
    """
    WITH ins AS (
        INSERT INTO {event}
            (customer_id, event_type, occurred_at, properties, account_id, campaign_id, delivery_id, dedupe_key, created_at)
        SELECT c, t, o, p::jsonb, a, cp, d, k, %s
        FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::text[], %s::bigint[], %s::bigint[],
                    %s::bigint[], %s::varchar[]) AS u(c, t, o, p, a, cp, d, k)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id, customer_id, event_type, occurred_at, account_id, delivery_id
    ), engaged AS (
        UPDATE {customer} cu SET last_engaged_at = m.at
        FROM (
            SELECT customer_id, MAX(occurred_at) AS at FROM ins
            WHERE {engaging}
            GROUP BY customer_id
        ) m
        WHERE cu.id = m.customer_id AND (cu.last_engaged_at IS NULL OR cu.last_engaged_at < m.at)
    ), {daily}
    SELECT id FROM ins
    """
).format(
    daily=BULK_COUNT_CTE,
    event=table(EngagementEvent),
    customer=table(Customer),
    engaging=sql.SQL(" OR ").join([sql.SQL("event_type LIKE %s")] * len(ENGAGEMENT_EVENT_PREFIXES)),
)


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
    with transaction.atomic():  # the event and its daily count together
        if dedupe_key:
            try:
                with transaction.atomic():
                    event.save()
            except IntegrityError:
                return None
        else:
            event.save()
        daily_count_event(event)
    if event_type.startswith(ENGAGEMENT_EVENT_PREFIXES):
        Customer.objects.filter(pk=customer_id).exclude(last_engaged_at__gte=occurred_at).update(last_engaged_at=occurred_at)
    _engagement_schedule([event.pk])
    return event


def _engagement_schedule(event_ids: list[int]) -> None:
    # Learning runs on the analytics queue after commit, many events per task.
    engagement_schedule(event_ids=event_ids)


_BULK_EVENT_KEYS = {"customer_id", "event_type", "occurred_at", "properties", "account_id", "campaign_id", "delivery_id", "dedupe_key"}


def events_record_bulk(events: Iterable[dict[str, Any]], *, batch_size: int = 5000) -> list[int]:
    """Store many events (dicts with event_record's arguments) in set-based inserts; returns new ids.

    Events whose dedupe_key is already stored are skipped (ON CONFLICT DO NOTHING).
    """
    now = timezone.now()
    new_ids: list[int] = []
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        for item in batch:
            unknown = set(item) - _BULK_EVENT_KEYS
            if unknown:
                raise ApplicationError(code=CustomerError.EVENT_INVALID, detail=sorted(unknown))
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
                render(_EVENTS_INSERT),
                [now, *columns, *[prefix + "%" for prefix in ENGAGEMENT_EVENT_PREFIXES], *bulk_count_params()],
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
