"""Menu analytics, read from the engagement events the inbound loop records with their menu item
(menus.routing): clicks and unique clickers per item per day, per segment and per menu version; and,
per item, how many of the customers who used it opened a conversation or converted within 7 days.

Conversation opened: a `service.conversation_requested` (a menu item routed to a person), a
`service.conversation_opened` (the customer-service inbox records it when a conversation opens) or
a message the customer wrote (`wechat.message`, which opens WeChat's 48-hour window). Conversion: a
`conversion` (the brand's systems, /api/v1/conversions/) or an `mp.purchase` event.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from psycopg import sql

from customers.models import EngagementEvent
from menus.errors import MenuError
from messaging.conversation_requests import CONVERSATION_REQUESTED_EVENT
from messaging.menu_events import MENU_EVENT_TYPES
from scrm.errors import ApplicationError
from scrm.sqltools import render, table

FOLLOW_UP_DAYS = 7
CONVERSATION_TYPES = (CONVERSATION_REQUESTED_EVENT, "service.conversation_opened", "wechat.message")
CONVERSION_TYPES = ("conversion", "mp.purchase")
MAX_DAYS = 366

# Uses index: customers_engagementevent (event_type, occurred_at, customer).
_DAILY = sql.SQL(
    "SELECT (e.occurred_at AT TIME ZONE %(tz)s)::date AS day, "
    "(e.properties->>'menu_id')::bigint AS menu_id, (e.properties->>'menu_version_id')::bigint AS version_id, "
    "(e.properties->>'menu_version')::int AS version, NULLIF(e.properties->>'menu_segment_id', '')::bigint AS segment_id, "
    "e.properties->>'menu_item' AS item, MAX(e.properties->>'menu_item_name') AS item_name, "
    "COUNT(*) AS clicks, COUNT(DISTINCT e.customer_id) AS unique_clickers "
    "FROM {event} e WHERE e.event_type = ANY(%(types)s) AND e.account_id = %(account)s "
    "AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND e.properties ? 'menu_id' "
    "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 4, 6"
)

# Per item: the customers who used it in the period, and which of them had a conversation / a
# conversion in the 7 days after their first use. Uses index: (customer, occurred_at, event_type).
_FOLLOW_UPS = sql.SQL(
    "WITH used AS ("
    "  SELECT (e.properties->>'menu_id')::bigint AS menu_id, (e.properties->>'menu_version_id')::bigint AS version_id, "
    "  (e.properties->>'menu_version')::int AS version, NULLIF(e.properties->>'menu_segment_id', '')::bigint AS segment_id, "
    "  e.properties->>'menu_item' AS item, MAX(e.properties->>'menu_item_name') AS item_name, "
    "  e.customer_id, MIN(e.occurred_at) AS first_at "
    "  FROM {event} e WHERE e.event_type = ANY(%(types)s) AND e.account_id = %(account)s "
    "  AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND e.properties ? 'menu_id' "
    "  GROUP BY 1, 2, 3, 4, 5, 7"
    ") "
    "SELECT u.menu_id, u.version_id, u.version, u.segment_id, u.item, MAX(u.item_name), COUNT(*) AS customers, "
    "COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM {event} c WHERE c.customer_id = u.customer_id "
    "  AND c.occurred_at >= u.first_at AND c.occurred_at < u.first_at + %(window)s AND c.event_type = ANY(%(conversation)s))) AS conversations, "
    "COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM {event} c WHERE c.customer_id = u.customer_id "
    "  AND c.occurred_at >= u.first_at AND c.occurred_at < u.first_at + %(window)s AND c.event_type = ANY(%(conversion)s))) AS conversions "
    "FROM used u GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 3, 5"
)


def _bounds(start: date, end: date) -> tuple[datetime, datetime, str]:
    tz = settings.TIME_ZONE
    zone = ZoneInfo(tz)
    return datetime.combine(start, time.min, zone), datetime.combine(end + timedelta(days=1), time.min, zone), tz


def menu_analytics(*, account_id: int, start: date, end: date) -> dict[str, Any]:
    """{"daily": [...], "items": [...]} for the account's menu events between two local dates (inclusive)."""
    if connection.vendor != "postgresql":  # JSON operators and AT TIME ZONE: PostgreSQL's SQL
        raise ApplicationError(code=MenuError.MENU_ANALYTICS_NEEDS_POSTGRESQL, detail={"database": connection.vendor})
    since, until, tz = _bounds(start, end)
    params = {"types": list(MENU_EVENT_TYPES.values()), "account": account_id, "start": since, "end": until, "tz": tz}
    with connection.cursor() as cursor:
        cursor.execute(render(_DAILY.format(event=table(EngagementEvent))), params)
        daily = [
            {
                "day": row[0].isoformat(),
                "menu_id": row[1],
                "menu_version_id": row[2],
                "menu_version": row[3],
                "segment_id": row[4],
                "item": row[5],
                "item_name": row[6] or "",
                "clicks": row[7],
                "unique_clickers": row[8],
            }
            for row in cursor.fetchall()
        ]
        cursor.execute(
            render(_FOLLOW_UPS.format(event=table(EngagementEvent))),
            {**params, "window": timedelta(days=FOLLOW_UP_DAYS), "conversation": list(CONVERSATION_TYPES), "conversion": list(CONVERSION_TYPES)},
        )
        items = [
            {
                "menu_id": row[0],
                "menu_version_id": row[1],
                "menu_version": row[2],
                "segment_id": row[3],
                "item": row[4],
                "item_name": row[5] or "",
                "customers": row[6],
                "conversations_7d": row[7],
                "conversions_7d": row[8],
            }
            for row in cursor.fetchall()
        ]
    for row in items:
        same = [d for d in daily if (d["menu_version_id"], d["item"]) == (row["menu_version_id"], row["item"])]
        row["clicks"] = sum(d["clicks"] for d in same)
    return {"start": start.isoformat(), "end": end.isoformat(), "follow_up_days": FOLLOW_UP_DAYS, "daily": daily, "items": items}
