"""Campaign reports: funnel, lift against the holdout, unfollows after pushes, disturbance, trends.

Definitions (also shown in the API docs):
- Audience: every customer of the campaign's snapshot = deliveries + suppressions.
- Funnel: audience → suppressed, per reason (planning order) → held out → planned (deliveries) →
  sent (sent_at set) → delivered (delivered_at set) → clicked (clicked_at set, bots excluded) →
  converted (a sent delivery whose customer recorded a `conversion` in the attribution window).
- Attribution window: [campaign start, start + ATTRIBUTION_DAYS), start = the first sent_at, else
  scheduled_at, else created_at. Used for both groups of the lift so they are measured alike.
- Lift: intent-to-treat. Treated = every customer with a delivery (whatever its outcome); control
  = the held-out customers. Metrics: conversion (a `conversion` event in the window) and
  engagement (any action of the customer in the window: click, read, message, menu, mini-program,
  conversion). A click on the campaign's own link cannot happen in the control group, so click
  lift is the engagement metric. See campaigns.reports.stats for the interval.
- Unfollows within 24 h: sent deliveries followed, within UNFOLLOW_WINDOW, by `wechat.unsubscribe`
  or `wecom.del_contact` of the same customer on the campaign's account. Mutes: deliveries WeChat
  reported as blocked by the user (template "user block", subscribe-message refusal 43101).
- Disturbance index (per account and per segment, over a period): pushes per customer per week =
  sent deliveries / customers / weeks, where customers = the account's following identities (per
  account) or the distinct audience of the segment's campaigns (per segment); clicks per push =
  clicked / sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from psycopg import sql

from campaigns.counters import campaign_counters_get
from campaigns.models import Campaign, Delivery, Suppression, SuppressionReason
from campaigns.reports.attribution import ATTRIBUTION_DAYS, UNFOLLOW_WINDOW, campaign_start
from campaigns.reports.lift import campaign_lift
from customers.engagement.daily import FIRST_CLICK, PUSH_TYPE, UNFOLLOW_AFTER_PUSH, UNFOLLOW_TYPES
from customers.engagement.models import EngagementDailyRollup
from customers.engagement.selectors import MUTE_METRICS, account_daily_series
from customers.models import ChannelIdentity, EngagementEvent, FollowState
from scrm.sqltools import render, table

# Customers a segment's campaigns reached or held back (the base of its push rate).
_SEGMENT_BASE_COUNT = sql.SQL(
    "SELECT COUNT(*) FROM (SELECT customer_id FROM {delivery} WHERE campaign_id = ANY(%s) "
    "UNION SELECT customer_id FROM {suppression} WHERE campaign_id = ANY(%s)) a"
)
# Per operator's day (TIME_ZONE) of one timestamp column, over a selection of rows (Django's SQL of a queryset).
_DELIVERIES_PER_DAY = sql.SQL("SELECT {day}, COUNT(*) FROM {delivery} WHERE id IN ({selection}) GROUP BY 1")
_EVENTS_PER_DAY = sql.SQL("SELECT {day}, event_type, COUNT(*) FROM {event} WHERE id IN ({selection}) GROUP BY 1, 2")


def _local_day(column: str) -> sql.Composable:
    """The operator's day (settings.TIME_ZONE) of a timestamp column: an event at 17:00 UTC is on the
    next day in Shanghai. The embedded SQLite stores UTC text: shifted by the zone's current offset
    (exact for zones without daylight saving, such as Asia/Shanghai)."""
    if connection.vendor == "postgresql":
        return sql.SQL("({} AT TIME ZONE {})::date").format(sql.Identifier(column), sql.Literal(settings.TIME_ZONE))
    offset = timezone.localtime().utcoffset() or timedelta(0)
    modifier = f"{int(offset.total_seconds() // 60):+d} minutes"
    return sql.SQL("date({}, {})").format(sql.Identifier(column), sql.Literal(modifier))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)

@dataclass
class Funnel:
    audience: int
    suppressed: dict[str, int]
    held_out: int
    planned: int
    sent: int
    delivered: int
    failed: int
    clicked: int
    converted: int

    def as_rows(self) -> list[tuple[str, int]]:
        """(stage, count) in funnel order, for CSV and charts."""
        rows = [("audience", self.audience)]
        rows += [(f"suppressed:{reason}", n) for reason, n in self.suppressed.items()]
        rows += [
            ("held_out", self.held_out),
            ("planned", self.planned),
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("clicked", self.clicked),
            ("converted", self.converted),
        ]
        return rows


def _converted_count(campaign: Campaign, start: datetime, end: datetime) -> int:
    """Sent deliveries of the campaign whose customer converted in the window: from the window's
    conversions (index (event_type, occurred_at, customer)) to the campaign's deliveries by the
    unique (campaign, customer) index — bounded by the conversions, not a probe per delivery."""
    converters = EngagementEvent.objects.filter(event_type="conversion", occurred_at__gte=start, occurred_at__lt=end).values("customer_id")
    return Delivery.objects.filter(campaign=campaign, sent_at__isnull=False, customer_id__in=converters).count()


def campaign_funnel(campaign: Campaign, counters: dict | None = None) -> Funnel:
    """Counts of each stage of the campaign funnel (kept counters; planned from the (campaign, state) index)."""
    counters = counters if counters is not None else campaign_counters_get(campaign=campaign)
    start = campaign_start(campaign, counters)
    end = start + timedelta(days=ATTRIBUTION_DAYS)
    order = {reason: i for i, reason in enumerate(SuppressionReason.values)}
    by_reason = dict(counters["suppressed_by_reason"])
    held_out = by_reason.pop(SuppressionReason.HOLDOUT, 0)
    suppressed = {reason: by_reason[reason] for reason in sorted(by_reason, key=lambda r: order.get(r, 999))}
    deliveries = Delivery.objects.filter(campaign=campaign)
    counts = {**{key: counters[key] for key in ("sent", "delivered", "failed", "clicked")}, "planned": deliveries.count()}
    converted = _converted_count(campaign, start, end)
    return Funnel(
        audience=counts["planned"] + sum(suppressed.values()) + held_out,
        suppressed=suppressed,
        held_out=held_out,
        planned=counts["planned"],
        sent=counts["sent"],
        delivered=counts["delivered"],
        failed=counts["failed"],
        clicked=counts["clicked"],
        converted=converted,
    )


def campaign_unfollows(campaign: Campaign, counters: dict | None = None) -> dict[str, int]:
    """Unfollows within 24 h of this campaign's pushes, and mutes (blocked template / refused consent).

    Sent and mutes are kept counters; the unfollows start from the unfollow events between the first
    send and 24 h after the last one, so only their customers' deliveries are checked."""
    counters = counters if counters is not None else campaign_counters_get(campaign=campaign)
    n, mutes = counters["sent"], counters["mutes"]
    unfollows = 0
    if n and counters["first_sent_at"]:
        unfollowed = Exists(
            EngagementEvent.objects.filter(
                customer_id=OuterRef("customer_id"),
                event_type__in=UNFOLLOW_TYPES,
                occurred_at__gt=OuterRef("sent_at"),
                occurred_at__lte=OuterRef("sent_at") + UNFOLLOW_WINDOW,
            ).filter(Q(account_id=OuterRef("account_id")) | Q(account_id__isnull=True))
        )
        unfollowers = EngagementEvent.objects.filter(
            event_type__in=UNFOLLOW_TYPES,
            occurred_at__gt=counters["first_sent_at"],
            occurred_at__lte=(counters["last_sent_at"] or counters["first_sent_at"]) + UNFOLLOW_WINDOW,
        ).values("customer_id")
        unfollows = (
            Delivery.objects.filter(campaign=campaign, sent_at__isnull=False, customer_id__in=unfollowers).filter(unfollowed).count()
        )
    return {
        "sent": n,
        "unfollows_24h": unfollows,
        "unfollow_rate": unfollows / n if n else None,
        "mutes": mutes,
        "mute_rate": mutes / n if n else None,
    }


def campaign_report(campaign: Campaign) -> dict:
    counters = campaign_counters_get(campaign=campaign)
    funnel = campaign_funnel(campaign, counters)
    return {
        "campaign": {"id": campaign.pk, "name": campaign.name, "account_id": campaign.account_id, "state": campaign.state},
        "funnel": {**funnel.__dict__, "stages": funnel.as_rows()},
        "rates": {
            "click_per_sent": funnel.clicked / funnel.sent if funnel.sent else None,
            "delivery_rate": funnel.delivered / funnel.sent if funnel.sent else None,
            "conversion_per_sent": funnel.converted / funnel.sent if funnel.sent else None,
        },
        "lift": campaign_lift(campaign, counters),
        "unfollows": campaign_unfollows(campaign, counters),
    }


# --- disturbance --------------------------------------------------------------------------------


def _period(since: datetime | None, until: datetime | None, days: int = 28) -> tuple[datetime, datetime, float]:
    until = until or timezone.now()
    since = since or until - timedelta(days=days)
    weeks = max((until - since).total_seconds() / (7 * 86400), 1 / 7)
    return since, until, weeks


def disturbance_by_account(*, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Pushes per following customer per week, and clicks per push, for each account."""
    since, until, weeks = _period(since, until)
    pushes = (
        Delivery.objects.filter(sent_at__gte=since, sent_at__lt=until)
        .values("account_id")
        .annotate(sent=Count("pk"), clicked=Count("pk", filter=Q(clicked_at__isnull=False)), customers_pushed=Count("customer_id", distinct=True))
    )
    followers = dict(
        ChannelIdentity.objects.filter(follow_state=FollowState.FOLLOWING).values_list("account_id").annotate(n=Count("customer_id", distinct=True))
    )
    rows = []
    for row in pushes.order_by("account_id"):
        base = max(followers.get(row["account_id"], 0), row["customers_pushed"])
        rows.append(
            {
                "account_id": row["account_id"],
                "customers": base,
                "sent": row["sent"],
                "clicked": row["clicked"],
                "pushes_per_customer_per_week": row["sent"] / base / weeks if base else None,
                "clicks_per_push": row["clicked"] / row["sent"] if row["sent"] else None,
            }
        )
    return rows


def disturbance_by_segment(*, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Pushes per audience customer per week, and clicks per push, for the campaigns of each segment."""
    since, until, weeks = _period(since, until)
    campaign_ids = list(
        Delivery.objects.filter(sent_at__gte=since, sent_at__lt=until).values_list("campaign_id", flat=True).distinct()
    )
    segments = dict(Campaign.objects.filter(pk__in=campaign_ids, segment_id__isnull=False).values_list("pk", "segment_id"))
    rows = []
    for segment_id in sorted(set(segments.values())):
        ids = [c for c, s in segments.items() if s == segment_id]
        d = Delivery.objects.filter(campaign_id__in=ids, sent_at__gte=since, sent_at__lt=until).aggregate(
            sent=Count("pk"), clicked=Count("pk", filter=Q(clicked_at__isnull=False))
        )
        with connection.cursor() as cursor:
            cursor.execute(
                render(_SEGMENT_BASE_COUNT.format(delivery=table(Delivery), suppression=table(Suppression))),
                [ids, ids],
            )
            base = cursor.fetchone()[0]
        rows.append(
            {
                "segment_id": segment_id,
                "campaigns": len(ids),
                "customers": base,
                "sent": d["sent"],
                "clicked": d["clicked"],
                "pushes_per_customer_per_week": d["sent"] / base / weeks if base else None,
                "clicks_per_push": d["clicked"] / d["sent"] if d["sent"] else None,
            }
        )
    return rows


# --- trends -------------------------------------------------------------------------------------



def trends_daily(*, account_id: int | None = None, campaign_id: int | None = None, days: int = 28, until: date | None = None) -> list[dict]:
    """Per operator's day (TIME_ZONE): pushes sent, delivered, clicked, unfollows and conversions (old
    days from the retention rollups, which count per UTC day)."""
    until = until or timezone.localdate()
    since = until - timedelta(days=days - 1)
    zone = timezone.get_default_timezone()
    start_dt = datetime.combine(since, datetime.min.time(), tzinfo=zone)
    end_dt = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    series = {since + timedelta(days=i): {"sent": 0, "delivered": 0, "clicked": 0, "unfollows": 0, "conversions": 0} for i in range(days)}
    deliveries = Delivery.objects.all()
    if account_id:
        deliveries = deliveries.filter(account_id=account_id)
    if campaign_id:
        deliveries = deliveries.filter(campaign_id=campaign_id)
    for field, key in (("sent_at", "sent"), ("delivered_at", "delivered"), ("clicked_at", "clicked")):
        with connection.cursor() as cursor:
            qs = deliveries.filter(**{f"{field}__gte": start_dt, f"{field}__lt": end_dt}).values("pk")
            selection_sql, params = qs.query.sql_with_params()
            statement = _DELIVERIES_PER_DAY.format(
                day=_local_day(field), delivery=table(Delivery), selection=sql.SQL(selection_sql)
            )
            cursor.execute(render(statement), params)
            for day, n in cursor.fetchall():
                day = _as_date(day)
                if day in series:
                    series[day][key] += n
    events = EngagementEvent.objects.filter(occurred_at__gte=start_dt, occurred_at__lt=end_dt, event_type__in=[*UNFOLLOW_TYPES, "conversion"])
    rollups = EngagementDailyRollup.objects.filter(day__gte=since, day__lte=until, event_type__in=[*UNFOLLOW_TYPES, "conversion"])
    if account_id:
        events = events.filter(account_id=account_id)
        rollups = rollups.filter(customer_id__in=ChannelIdentity.objects.filter(account_id=account_id).values("customer_id"))
    if campaign_id:
        events = events.filter(campaign_id=campaign_id)
        rollups = rollups.none()
    with connection.cursor() as cursor:
        selection_sql, params = events.values("pk").query.sql_with_params()
        statement = _EVENTS_PER_DAY.format(
            day=_local_day("occurred_at"), event=table(EngagementEvent), selection=sql.SQL(selection_sql)
        )
        cursor.execute(render(statement), params)
        counted = [(_as_date(day), event_type, n) for day, event_type, n in cursor.fetchall()]
    counted += list(rollups.values_list("day", "event_type", "count"))
    for day, event_type, n in counted:
        if day in series:
            series[day]["conversions" if event_type == "conversion" else "unfollows"] += n
    return [{"day": day.isoformat(), **values} for day, values in sorted(series.items())]


# --- the report page's account trends: customers' daily counters, not the deliveries ---------

_TREND_METRICS = {
    "pushes": (PUSH_TYPE,),
    "clicked_pushes": (FIRST_CLICK,),
    "unfollows": UNFOLLOW_TYPES,
    "unfollows_after_push": (UNFOLLOW_AFTER_PUSH,),
    "conversions": ("conversion",),
    "mutes": MUTE_METRICS,
}


def account_trends(*, account_id: int | None, days: int = 28, until: date | None = None) -> dict:
    """{"days": [iso…], series: [per local day…], "totals": {…}} over `days` days, read from the
    per-account daily counters (a few hundred rows whatever the number of deliveries)."""
    result = account_daily_series(
        account_id=account_id, until=until or timezone.localdate(), days=days, series=_TREND_METRICS
    )
    result["totals"] = {name: sum(result[name]) for name in _TREND_METRICS}
    return result
