"""Recording what became of claimed deliveries: outcomes written back in bulk, only onto rows still in
'sending' (a late duplicate cannot overwrite a recorded outcome), and the `push.sent` events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from campaigns.dispatch import sql as dispatch_sql
from campaigns.dispatch.claim import Claimed
from campaigns.models import Campaign
from customers.services.events import events_record_bulk
from scrm.sqltools import render


@dataclass(frozen=True)
class Outcome:
    """The next state of one claimed delivery and what WeChat (or the policy) said about it."""

    delivery_id: int
    state: str
    msgid: str = ""
    error_code: str = ""
    error_message: str = ""
    # Back to 'planned' not before this moment (retry backoff, quiet hours, rate limit).
    send_after: datetime | None = None


def outcomes_record(outcomes: list[Outcome], *, count_attempt: bool = True) -> None:
    """Write the outcomes of rows still in 'sending'; count_attempt=False for rows not sent at all."""
    if not outcomes:
        return
    params: list[Any] = []
    for outcome in outcomes:
        params.extend(astuple(outcome))
    with connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.record(rows=len(outcomes), count_attempt=count_attempt)), params)


def push_events_record(campaign: Campaign, sent: Iterable[Claimed], at: datetime) -> None:
    """One `push.sent` engagement event per sent delivery (de-duplicated by delivery)."""
    # The campaign's topics: a push not clicked is evidence against them (customers.engagement.learning).
    topics = [str(pk) for pk in campaign.topics.values_list("pk", flat=True)]
    events_record_bulk(
        {
            "customer_id": row.customer_id,
            "account_id": campaign.account_id,
            "event_type": "push.sent",
            "occurred_at": at,
            "campaign_id": campaign.pk,
            "delivery_id": row.id,
            "properties": {"message_type": campaign.message_type, **({"topics": topics} if topics else {})},
            "dedupe_key": f"push.sent:{row.id}",
        }
        for row in sent
    )
