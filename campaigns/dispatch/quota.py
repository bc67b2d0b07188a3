"""The account's daily quota at send time: planning checked it perhaps days ago, and other campaigns
may have used it since. The definition is the contact policy's (`campaigns/policy_sql.py`)."""

from __future__ import annotations

from django.db import connection

from campaigns.dispatch.claim import Claimed
from campaigns.models import Campaign
from campaigns.policy_sql import account_quota_left


def deliveries_within_account_quota(*, campaign: Campaign, rows: list[Claimed]) -> tuple[list[Claimed], list[Claimed]]:
    """(rows the account may still send today, rows over its daily quota), in claim order."""
    with connection.cursor() as cursor:
        left = account_quota_left(cursor, campaign=campaign, ids=[r.id for r in rows])
    return rows[:left], rows[left:]
