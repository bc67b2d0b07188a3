"""The window a campaign's outcomes are attributed in, and what counts as a customer's action (the
definitions are in campaigns.reports.selectors' docstring)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from campaigns.counters import campaign_counters_get
from campaigns.models import Campaign

ATTRIBUTION_DAYS = 7
UNFOLLOW_WINDOW = timedelta(hours=24)
ACTION_TYPES_EXACT = ("link.click", "inbox.read", "conversion", "wechat.message", "wechat.click", "wechat.view", "wechat.scan")
ACTION_PREFIX = "mp."


def actions_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}event_type__in": ACTION_TYPES_EXACT}) | Q(**{f"{prefix}event_type__startswith": ACTION_PREFIX})


def campaign_start(campaign: Campaign, counters: dict | None = None) -> datetime:
    counters = counters if counters is not None else campaign_counters_get(campaign=campaign)
    return counters["first_sent_at"] or campaign.scheduled_at or campaign.created_at


def attribution_window(campaign: Campaign, counters: dict | None = None) -> tuple[datetime, datetime]:
    start = campaign_start(campaign, counters)
    return start, start + timedelta(days=ATTRIBUTION_DAYS)
