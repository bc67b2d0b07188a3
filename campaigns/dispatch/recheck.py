"""The contact policy again, just before a batch is sent: what changed since planning (an unfollow, a
push by another campaign, a customer's quiet hours) drops or defers the rows it concerns. The reasons
are the planning funnel's (`campaigns/policy_sql.py`), at the clock instead of the planned slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from campaigns.dispatch import sql as dispatch_sql
from campaigns.models import Campaign
from campaigns.policy import Policy
from campaigns.policy_sql import reason_params
from scrm.sqltools import render


def deliveries_recheck(*, campaign: Campaign, policy: Policy, ids: list[int]) -> tuple[dict[int, str], dict[int, datetime]]:
    """Reasons to drop, and new send times for rows now inside quiet hours / outside the window."""
    params = reason_params(campaign, policy) | {
        "ids": ids,
        "qs": policy.quiet_start,
        "qe": policy.quiet_end,
        "ws": campaign.send_window_start,
        "we": campaign.send_window_end,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimate for this batch query is high enough to trigger JIT compilation with
        # inlining and optimisation, which costs far more (hundreds of ms) than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(render(dispatch_sql.recheck(campaign=campaign, policy=policy)), params)
        rows = cursor.fetchall()
    drop: dict[int, str] = {}
    defer: dict[int, datetime] = {}
    now = timezone.now()
    for delivery_id, reason, slot, _local in rows:
        if reason:
            drop[delivery_id] = reason
        elif slot is not None and slot > now + timedelta(seconds=1):
            defer[delivery_id] = slot
    return drop, defer
