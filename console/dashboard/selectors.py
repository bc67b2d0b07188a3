"""Every figure of the dashboard, for one channel account or all of them.

dashboard_data() is a plain function (benchmarks and tests call it) and reads only bounded ranges:
the daily counters of the last 30 local days, the in-flight and last campaigns, the unfinished and
recently failed callbacks; the two counts that grow with the audience (followers, active customers)
and the finished campaigns' funnels come from the cache that beat keeps warm
(console.tasks.dashboard_refresh_task), and are computed on a miss.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import ChannelAccount
from console.dashboard.activity import activity_series, disturbance
from console.dashboard.audience import audience_counts, audience_figures
from console.dashboard.campaigns import in_flight, recent_funnels
from console.dashboard.health import system_health
from customers.engagement.daily import local_day
from messaging.callbacks.selectors import inbound_backlog

FAILED_CALLBACKS_DAYS = 7


def account_choices() -> list[dict[str, Any]]:
    """Accounts for the selector at the top, by name."""
    return [
        {"id": pk, "name": name, "kind": kind}
        for pk, name, kind in ChannelAccount.objects.filter(is_active=True).order_by("name", "id").values_list("id", "name", "kind")
    ]


def resolve_account(value: Any, accounts: list[dict[str, Any]]) -> int | None:
    """The selected account's id, or None (all accounts) for anything that is not one of them."""
    try:
        account_id = int(value)
    except (TypeError, ValueError):
        return None
    return account_id if any(a["id"] == account_id for a in accounts) else None


def dashboard_data(*, account_id: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The dashboard's figures and series for one account (None: all accounts)."""
    now = now or timezone.now()
    health = system_health()
    usable = health["cache_usable"]
    series = activity_series(account_id=account_id, today=local_day(now))
    counts = audience_counts(account_id=account_id, now=now, cache_usable=usable)
    return {
        "account_id": account_id,
        "generated_at": now,
        "series": series,
        "audience": audience_figures(counts, series),
        "disturbance": disturbance(series, followers=counts["followers"]),
        "in_flight": in_flight(account_id=account_id, cache_usable=usable),
        "funnels": recent_funnels(account_id=account_id, cache_usable=usable),
        "backlog": {**inbound_backlog(failed_since=now - timedelta(days=FAILED_CALLBACKS_DAYS)), "failed_days": FAILED_CALLBACKS_DAYS},
        "health": health,
    }


def dashboard_refresh() -> int:
    """Recompute the cached figures of every account and of all accounts; returns how many views."""
    now = timezone.now()
    health = system_health(fresh=True)
    ids: list[int | None] = [None, *[a["id"] for a in account_choices()]]
    for account_id in ids:
        audience_counts(account_id=account_id, now=now, cache_usable=health["cache_usable"], refresh=True)
        # Funnels are cached per campaign: the first view recomputes, the others reuse.
        recent_funnels(account_id=account_id, cache_usable=health["cache_usable"], refresh=account_id is None)
    return len(ids)
