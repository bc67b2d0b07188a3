"""Per-day activity of an account over the last DAYS local days, from customers' daily counters:
follows and unfollows, pushes and clicks, and the disturbance measure (unfollows within 24 h of a
push, mutes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from customers.engagement.daily import (
    CLICK_TYPE,
    FIRST_CLICK,
    FOLLOW_TYPES,
    PUSH_TYPE,
    UNFOLLOW_AFTER_PUSH,
    UNFOLLOW_TYPES,
)
from customers.engagement.selectors import MUTE_METRICS, account_daily_series

DAYS = 30
# The disturbance period of campaigns.reports.selectors.disturbance_by_account: four weeks.
DISTURBANCE_DAYS = 28
SERIES = {
    "follows": FOLLOW_TYPES,
    "unfollows": UNFOLLOW_TYPES,
    "pushes": (PUSH_TYPE,),
    "clicked_pushes": (FIRST_CLICK,),
    "clicks": (CLICK_TYPE,),
    "unfollows_after_push": (UNFOLLOW_AFTER_PUSH,),
    "mutes": MUTE_METRICS,
}


def activity_series(*, account_id: int | None, today: date, days: int = DAYS) -> dict[str, Any]:
    """{"days": [iso…], series name: [count per day…]} for the `days` local days ending `today`."""
    result = account_daily_series(account_id=account_id, until=today, days=days, series=SERIES)
    result["net"] = [f - u for f, u in zip(result["follows"], result["unfollows"], strict=True)]
    return result


def disturbance(series: dict[str, Any], *, followers: int) -> dict[str, Any]:
    """Pushes per follower per week and clicks per push over the last DISTURBANCE_DAYS days, and the
    unfollows and mutes that followed pushes (as campaigns.reports defines them)."""
    window = slice(-DISTURBANCE_DAYS, None)
    pushes = sum(series["pushes"][window])
    clicked = sum(series["clicked_pushes"][window])
    after = sum(series["unfollows_after_push"][window])
    mutes = sum(series["mutes"][window])
    weeks = DISTURBANCE_DAYS / 7
    return {
        "days": DISTURBANCE_DAYS,
        "pushes": pushes,
        "pushes_per_customer_per_week": pushes / followers / weeks if followers else None,
        "clicks_per_push": clicked / pushes if pushes else None,
        "unfollows_after_push": after,
        "unfollows_per_1000_pushes": 1000 * after / pushes if pushes else None,
        "mutes": mutes,
        "mutes_per_1000_pushes": 1000 * mutes / pushes if pushes else None,
    }
