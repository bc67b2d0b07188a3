"""The customer-service window: when WeChat lets the account send a customer-service message to a
customer, and how many (客服消息下发规则, cut from 20 to 5 in 2023,
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html):
a user message opens 48 hours with 5 messages; a follow, a QR-code scan or a click on a click-type
menu allows 3 messages within 1 minute; a VIEW (URL menu) opens nothing. Outside the window (or to an
unfollowed user) WeChat answers 45015, beyond its messages 45047.

Tracked per identity from the inbound events (the last interaction opens a new window and resets its
count, as WeChat does), so a send is checked before it is made: `cs_window_take` counts a send in the
window of each customer that has one open, atomically (two campaigns, or two workers, never both take
the last message); `cs_window_refund` gives back the sends WeChat did not take.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from psycopg import sql

from customers.models import ChannelIdentity
from scrm.sqltools import render, table

MESSAGE = "message"
EVENT = "event"
# kind → (how long the window stays open, messages allowed in it). An empty kind (recorded before the
# kinds were) is a user message.
CS_WINDOWS: dict[str, tuple[timedelta, int]] = {MESSAGE: (timedelta(hours=48), 5), EVENT: (timedelta(minutes=1), 3)}

# Why a customer cannot be sent a customer-service message now.
OUTSIDE_WINDOW = "outside_cs_window"
WINDOW_USED = "cs_quota_used"


def window_open(identity: sql.Composable, at: sql.Composable) -> sql.Composable:
    """SQL: the identity's window is open at `at` (and the customer follows)."""
    (message_span, _m), (event_span, _e) = CS_WINDOWS[MESSAGE], CS_WINDOWS[EVENT]
    return sql.SQL(
        "({i}.follow_state <> 'unfollowed' AND {i}.last_interaction_at IS NOT NULL"
        " AND {i}.last_interaction_at > {at} - CASE WHEN {i}.cs_window_kind = {event} THEN {event_span} ELSE {message_span} END)"
    ).format(
        i=identity, at=at, event=sql.Literal(EVENT),
        event_span=sql.Literal(event_span), message_span=sql.Literal(message_span),
    )


def window_used(identity: sql.Composable) -> sql.Composable:
    """SQL: the identity's window has no message left."""
    return sql.SQL("({i}.cs_window_sends >= CASE WHEN {i}.cs_window_kind = {event} THEN {event_n} ELSE {message_n} END)").format(
        i=identity, event=sql.Literal(EVENT), event_n=sql.Literal(CS_WINDOWS[EVENT][1]), message_n=sql.Literal(CS_WINDOWS[MESSAGE][1]),
    )


_I, _NOW = sql.Identifier("i"), sql.SQL("clock_timestamp()")

# Params: ids. The conditions are repeated in the UPDATE so a concurrent take is seen (READ COMMITTED
# re-reads the row it waited for).
TAKE = sql.SQL(
    """
    WITH asked AS (SELECT i.id, {open} AS open FROM {identity} i WHERE i.id = ANY(%(ids)s)),
         taken AS (
             UPDATE {identity} i SET cs_window_sends = i.cs_window_sends + 1
             WHERE i.id = ANY(%(ids)s) AND {open} AND NOT {used}
             RETURNING i.id)
    SELECT asked.id, taken.id IS NOT NULL, asked.open FROM asked LEFT JOIN taken ON taken.id = asked.id
    """
).format(identity=table(ChannelIdentity), open=window_open(_I, _NOW), used=window_used(_I))

REFUND = sql.SQL(
    "UPDATE {identity} SET cs_window_sends = greatest(cs_window_sends - 1, 0) WHERE id = ANY(%(ids)s)"
).format(identity=table(ChannelIdentity))


def cs_window_take(*, identity_ids: list[int]) -> dict[int, str]:
    """Count one customer-service message in each identity's open window; returns the identities that
    may not be sent one, with why (OUTSIDE_WINDOW or WINDOW_USED). Nothing is taken for those."""
    if not identity_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(render(TAKE), {"ids": list(identity_ids)})
        return {pk: (WINDOW_USED if is_open else OUTSIDE_WINDOW) for pk, taken, is_open in cursor.fetchall() if not taken}


def cs_window_refund(*, identity_ids: list[int]) -> None:
    """Give back a message taken for each identity whose send WeChat did not take."""
    if not identity_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(render(REFUND), {"ids": list(identity_ids)})
