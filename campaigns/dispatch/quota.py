"""Quotas at send time.

The account's daily quota (the contact policy's, `campaigns/policy_sql.py`): planning checked it perhaps
days ago, and other campaigns may have used it since.

WeChat's quotas (messaging/channels/quota.py): when a send meets one (the account's known limit before
the call, or WeChat's 45009 / 45011), the campaign's remaining sends would only meet it too, so they are
all put off to when the quota turns (the next quota day, midnight Beijing time, or the next minute):
planned again with that `send_after`, no attempt spent, nothing failed. The pump comes back by itself
(its task re-enqueues while rows are planned) and sends them then, each with its delivery id as the
idempotency key as before. The campaign's counters say until when and why, for the operator.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from psycopg import sql

from campaigns.counters import campaign_counters_set_deferred
from campaigns.dispatch.claim import Claimed
from campaigns.models import Campaign, Delivery
from campaigns.policy_sql import account_quota_left
from messaging.errors import SendErrorCode
from scrm.sqltools import render, table


def deliveries_within_account_quota(*, campaign: Campaign, rows: list[Claimed]) -> tuple[list[Claimed], list[Claimed]]:
    """(rows the account may still send today, rows over its daily quota), in claim order."""
    with connection.cursor() as cursor:
        left = account_quota_left(cursor, campaign=campaign, ids=[r.id for r in rows])
    return rows[:left], rows[left:]


# Params: campaign, until, detail. The campaign's planned rows due now or before the quota turns wait for
# it (rows put off further, e.g. by quiet hours, keep their time); returns how many rows now wait for it
# (those deferred by this batch's outcomes included).
DEFER_PLANNED = sql.SQL(
    """
    WITH moved AS (
        UPDATE {delivery} SET send_after = %(until)s, error_code = {code}, error_message = left(%(detail)s, 255),
                              updated_at = clock_timestamp()
        WHERE campaign_id = %(campaign)s AND state = 'planned'
          AND (send_after IS NULL OR send_after < %(until)s OR send_after <= clock_timestamp())
          AND send_after IS DISTINCT FROM %(until)s
        RETURNING id)
    SELECT (SELECT count(*) FROM moved)
         + (SELECT count(*) FROM {delivery} WHERE campaign_id = %(campaign)s AND state = 'planned' AND send_after = %(until)s)
    """
).format(delivery=table(Delivery), code=sql.Literal(SendErrorCode.QUOTA_DEFERRED.value))


@transaction.atomic
def campaign_defer_for_quota(*, campaign: Campaign, until: datetime, reason: str, detail: str) -> int:
    """Put the campaign's remaining sends off until the quota turns, and say so in its counters."""
    with connection.cursor() as cursor:
        cursor.execute(render(DEFER_PLANNED), {"campaign": campaign.pk, "until": until, "detail": f"{reason}: {detail}".strip(": ")})
        waiting = cursor.fetchone()[0]
    campaign_counters_set_deferred(campaign_id=campaign.pk, until=until, reason=reason, detail=detail, count=waiting)
    return waiting
