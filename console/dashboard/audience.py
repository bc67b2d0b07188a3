"""Followers, net growth and active customers of an account (slow counts kept in the cache)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from console.dashboard.cache import cached
from customers.engagement.selectors import active_customers_count, followers_count

ACTIVE_DAYS = 30
# Beat refreshes these every 4 minutes (console.tasks.dashboard_refresh_task); a page finds them warm.
AUDIENCE_TTL = 600


def audience_counts(*, account_id: int | None, now: datetime, cache_usable: bool = True, refresh: bool = False) -> dict[str, int]:
    """Followers now and customers active in the last ACTIVE_DAYS days."""

    def compute() -> dict[str, int]:
        since = now - timedelta(days=ACTIVE_DAYS)
        return {
            "followers": followers_count(account_id=account_id),
            "active_customers": active_customers_count(since=since, account_id=account_id),
            "computed_at": int(now.timestamp()),
        }

    return cached(f"audience:{account_id or 'all'}", AUDIENCE_TTL, compute, usable=cache_usable, refresh=refresh)


def audience_figures(counts: dict[str, int], series: dict[str, Any]) -> dict[str, Any]:
    follows, unfollows = sum(series["follows"]), sum(series["unfollows"])
    return {
        **counts,
        "follows": follows,
        "unfollows": unfollows,
        "net_growth": follows - unfollows,
        "active_days": ACTIVE_DAYS,
    }
