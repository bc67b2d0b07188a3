"""The inbox's reads: the conversation list with SLA timers, one conversation's window and quota,
and the service analytics (first-response p50 / p90, resolution rate, conversations per day and per
menu item that led to them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone
from psycopg import sql

from customers.models import ChannelIdentity
from customers.services.cs_window import CS_WINDOWS, EVENT, MESSAGE
from messaging.inbox.models import Conversation, ConversationMessage, InboxSettings
from messaging.inbox.services import settings_of, sla_due
from scrm.sqltools import render, table


def conversation_list(*, state: str | None = None, assignee_id: int | None = None, account_id: int | None = None) -> QuerySet[Conversation]:
    """Newest activity first; the page is read from the (state, last_message_at) index."""
    # The customer's name only: loading the customer would decrypt its encrypted fields on every row.
    rows = Conversation.objects.select_related("assignee").annotate(customer_name=F("customer__display_name")).order_by("-last_message_at", "-pk")
    if state:
        rows = rows.filter(state=state)
    if assignee_id is not None:
        rows = rows.filter(assignee_id=assignee_id)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    return rows


def conversations_sla(conversations: list[Conversation], *, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """The running SLA timer of each conversation (one settings read per account)."""
    now = now or timezone.now()
    settings: dict[int, InboxSettings] = {}
    out = {}
    for conversation in conversations:
        if conversation.account_id not in settings:
            settings[conversation.account_id] = settings_of(conversation.account_id)
        out[conversation.pk] = sla_due(conversation, settings[conversation.account_id], now=now)
    return out


def conversation_messages(conversation_id: int, *, after_id: int = 0, limit: int = 200) -> list[ConversationMessage]:
    return list(ConversationMessage.objects.filter(conversation_id=conversation_id, pk__gt=after_id).select_related("operator").order_by("created_at", "pk")[:limit])


def window_status(identity: ChannelIdentity, *, now: datetime | None = None) -> dict[str, Any]:
    """What WeChat's customer-service window allows now (shown beside the reply box): open or not,
    until when, and how many messages are left (customers/services/cs_window.py)."""
    now = now or timezone.now()
    kind = identity.cs_window_kind or MESSAGE
    span, allowed = CS_WINDOWS[EVENT if kind == EVENT else MESSAGE]
    if identity.follow_state == "unfollowed" or identity.last_interaction_at is None:
        return {"open": False, "kind": kind, "closes_at": None, "allowed": allowed, "remaining": 0}
    closes_at = identity.last_interaction_at + span
    is_open = closes_at > now
    return {
        "open": is_open, "kind": kind, "closes_at": closes_at, "allowed": allowed,
        "remaining": max(allowed - identity.cs_window_sends, 0) if is_open else 0,
    }


# Params: since, until, tz, account (NULL: all). Conversations whose current cycle opened in the period.
ANALYTICS = sql.SQL(
    """
    SELECT count(*),
           count(*) FILTER (WHERE state = 'resolved'),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - opened_at))
               FILTER (WHERE first_response_at IS NOT NULL),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - opened_at))
               FILTER (WHERE first_response_at IS NOT NULL)
    FROM {conversation}
    WHERE opened_at >= %(since)s AND opened_at < %(until)s AND (%(account)s::bigint IS NULL OR account_id = %(account)s)
    """
).format(conversation=table(Conversation))

PER_DAY = sql.SQL(
    """
    SELECT (opened_at AT TIME ZONE %(tz)s)::date AS day, count(*) FROM {conversation}
    WHERE opened_at >= %(since)s AND opened_at < %(until)s AND (%(account)s::bigint IS NULL OR account_id = %(account)s)
    GROUP BY day ORDER BY day
    """
).format(conversation=table(Conversation))

# The menu item named by the request that opened a conversation (messaging.conversation_requests).
PER_MENU_ITEM = sql.SQL(
    """
    SELECT m.body->>'menu_item_key', max(m.body->>'menu_item_name'), count(DISTINCT c.id)
    FROM {conversation} c JOIN {message} m ON m.conversation_id = c.id
    WHERE c.opened_at >= %(since)s AND c.opened_at < %(until)s AND (%(account)s::bigint IS NULL OR c.account_id = %(account)s)
      AND c.source = 'menu' AND m.msg_type = 'event' AND m.body->>'event' = 'conversation_requested'
      AND m.created_at >= c.opened_at AND m.body ? 'menu_item_key'
    GROUP BY 1 ORDER BY 3 DESC
    """
).format(conversation=table(Conversation), message=table(ConversationMessage))


def service_analytics(*, since: datetime, until: datetime, account_id: int | None = None, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    params = {"since": since, "until": until, "account": account_id, "tz": tz}
    with connection.cursor() as cursor:
        cursor.execute(render(ANALYTICS), params)
        opened, resolved, p50, p90 = cursor.fetchone()
        cursor.execute(render(PER_DAY), params)
        per_day: list[tuple[date, int]] = cursor.fetchall()
        cursor.execute(render(PER_MENU_ITEM), params)
        per_item = cursor.fetchall()
    return {
        "conversations": opened,
        "resolved": resolved,
        "resolution_rate": round(resolved / opened, 4) if opened else None,
        "first_response_p50_seconds": round(p50, 1) if p50 is not None else None,
        "first_response_p90_seconds": round(p90, 1) if p90 is not None else None,
        "per_day": [{"day": day.isoformat(), "conversations": n} for day, n in per_day],
        "per_menu_item": [{"key": key, "name": name or "", "conversations": n} for key, name, n in per_item],
    }

