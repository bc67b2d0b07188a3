"""Campaigns on the dashboard: those in flight with live progress, and the funnels of the last ones.

Figures come from campaigns' public selectors (campaign_progress, campaign_stats); a finished
campaign's funnel barely moves, so it is cached for a while, a running one's briefly."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from campaigns.models import Campaign, CampaignState
from campaigns.selectors import campaign_progress, campaign_stats
from console.dashboard.cache import cached

IN_FLIGHT_STATES = (CampaignState.PLANNING, CampaignState.SENDING, CampaignState.PAUSED)
IN_FLIGHT_LIMIT = 6
RECENT_LIMIT = 6
FINISHED_TTL = 600
RUNNING_TTL = 60
PROGRESS_TTL = 2


def _campaigns(account_id: int | None):
    campaigns = Campaign.objects.select_related("account")
    return campaigns.filter(account_id=account_id) if account_id is not None else campaigns


def _link(campaign_id: int) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign_id])


def in_flight(*, account_id: int | None, cache_usable: bool = True) -> list[dict[str, Any]]:
    """Campaigns planning, sending or paused, with their progress (counts by state, rate, ETA).

    Progress is shared for PROGRESS_TTL seconds: every open dashboard polls it."""
    rows = []
    for campaign in _campaigns(account_id).filter(state__in=IN_FLIGHT_STATES).order_by("-id")[:IN_FLIGHT_LIMIT]:
        progress = cached(
            f"progress:{campaign.pk}", PROGRESS_TTL, lambda campaign=campaign: campaign_progress(campaign=campaign), usable=cache_usable
        )
        rows.append(
            {
                "id": campaign.pk,
                "name": campaign.name,
                "account": campaign.account.name,
                "state": campaign.state,
                "state_label": campaign.get_state_display(),
                "url": _link(campaign.pk),
                **{key: progress[key] for key in ("total", "done", "percent", "rate_per_second", "eta_seconds")},
                "sent": progress["counts"].get("sent", 0) + progress["counts"].get("delivered", 0),
                "failed": progress["counts"].get("failed", 0),
            }
        )
    return rows


def recent_funnels(*, account_id: int | None, cache_usable: bool = True, refresh: bool = False) -> list[dict[str, Any]]:
    """Funnels (audience → planned → sent → delivered → clicked) of the last campaigns that sent."""
    campaigns = (
        _campaigns(account_id)
        .filter(sending_started_at__isnull=False)
        .order_by("-sending_started_at", "-id")[:RECENT_LIMIT]
    )
    rows = []
    for campaign in campaigns:
        finished = campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED)

        def compute(campaign=campaign) -> dict[str, Any]:
            stats = campaign_stats(campaign=campaign)
            return {key: stats[key] for key in ("audience", "held_out", "planned", "sent", "delivered", "failed", "clicked")}

        funnel = cached(
            f"funnel:{campaign.pk}:{campaign.state}",
            FINISHED_TTL if finished else RUNNING_TTL,
            compute,
            usable=cache_usable,
            refresh=refresh,
        )
        rows.append({"id": campaign.pk, "name": campaign.name, "state": campaign.state, "url": _link(campaign.pk), **funnel})
    return rows
