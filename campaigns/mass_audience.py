"""Whether a mass send can go by WeChat tag (message/mass/sendall: one call) instead of openid lists.

Only when the campaign's deliveries are exactly the account's followers carrying one product tag
that is mirrored to a WeChat tag: sendall reaches every member of the WeChat tag, so anyone the
contact policy left out (suppressions, a holdout, a variant split) forces openid lists. The mirror
is trusted to be in sync (messaging.channels.tagsync pushes the members); a tag never synced
(`synced_at` empty) is not used.
"""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from campaigns.models import Campaign, Delivery, DeliveryState
from customers.models import ChannelIdentity, CustomerTag
from messaging.channels.models import TagMirror
from scrm.sqltools import render, table

# Params: campaign, account. The mirrored WeChat tags every delivery's customer carries, and whether
# the tag's following members are exactly the deliveries' customers (same count, none missing).
EXACT_TAG = sql.SQL(
    """
    WITH d AS (
        SELECT customer_id FROM {delivery} WHERE campaign_id = %(campaign)s AND state <> 'cancelled'
    ), candidates AS (
        SELECT m.tag_id, m.remote_id FROM {mirror} m
        WHERE m.account_id = %(account)s AND m.synced_at IS NOT NULL AND m.remote_id ~ '^[0-9]+$'
          AND NOT EXISTS (
              SELECT 1 FROM d WHERE NOT EXISTS (SELECT 1 FROM {link} l WHERE l.customer_id = d.customer_id AND l.tag_id = m.tag_id)
          )
    )
    SELECT c.remote_id FROM candidates c
    WHERE (SELECT count(*) FROM d) = (
        SELECT count(DISTINCT l.customer_id) FROM {link} l
        JOIN {identity} i ON i.customer_id = l.customer_id AND i.account_id = %(account)s AND i.follow_state = 'following'
        WHERE l.tag_id = c.tag_id
    )
    ORDER BY c.remote_id::bigint LIMIT 1
    """
).format(delivery=table(Delivery), mirror=table(TagMirror), link=table(CustomerTag), identity=table(ChannelIdentity))


def mass_audience_tag(campaign: Campaign) -> int | None:
    """The WeChat tag id to send the whole campaign to with one sendall call, or None."""
    content = campaign.content or {}
    if content.get("variants"):
        return None
    if not Delivery.objects.filter(campaign=campaign).exclude(state=DeliveryState.CANCELLED).exists():
        return None
    with connection.cursor() as cursor:
        cursor.execute(render(EXACT_TAG), {"campaign": campaign.pk, "account": campaign.account_id})
        row = cursor.fetchone()
    return int(row[0]) if row else None
