"""Per-account daily counts (AccountDailyCount): kept as events and refusals are recorded.

The operator's dashboard charts 30 days of follows, unfollows, pushes, clicks and disturbance per
account. Counting those in the event store on every view would read millions of rows at scale; these
counters are upserted in the same transaction as the events they count (one row per account, local
day and metric), so a dashboard reads a few hundred rows.

Days are the operators' local days (settings.TIME_ZONE): "yesterday" on the dashboard is the
marketer's yesterday. After changing TIME_ZONE, `manage.py engagement_daily_rebuild` recounts the
days still in the event store.

Derived metrics, besides one per event type:
- `unfollow.after_push`: an unfollow (`wechat.unsubscribe`, `wecom.del_contact`) of a customer who
  had a `push.sent` on the same account within the 24 hours before (the disturbance measure of
  campaigns.reports: unfollows within 24 h of pushes);
- `push.first_click`: the first tracked click on one delivery (clicked pushes, bots excluded as the
  tracking service excludes them);
- `refusal.template_blocked`, `refusal.do_not_disturb`: mutes — identities that started refusing
  template messages ("user block") or put the account on their blacklist (43019).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncDate
from psycopg import sql

from customers.engagement.models import AccountDailyCount
from customers.models import EngagementEvent
from scrm.sqltools import render, table

FOLLOW_TYPES = ("wechat.subscribe", "wecom.add_contact")
UNFOLLOW_TYPES = ("wechat.unsubscribe", "wecom.del_contact")
PUSH_TYPE = "push.sent"
CLICK_TYPE = "link.click"
UNFOLLOW_AFTER_PUSH = "unfollow.after_push"
FIRST_CLICK = "push.first_click"
REFUSAL_PREFIX = "refusal."
AFTER_PUSH_WINDOW = timedelta(hours=24)

# Works on PostgreSQL and on the embedded SQLite (3.24+ upsert).
_UPSERT = sql.SQL(
    "INSERT INTO {t} (account_id, day, metric, count) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (account_id, day, metric) DO UPDATE SET count = {t}.count + excluded.count"
).format(t=table(AccountDailyCount))


def operator_timezone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(at: datetime) -> date:
    """The operators' calendar day of a moment."""
    return at.astimezone(operator_timezone()).date()


def _add(counts: Counter) -> None:
    rows = [(account_id, day, metric, n) for (account_id, day, metric), n in sorted(counts.items()) if n]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(render(_UPSERT), rows)


def daily_count_event(event: EngagementEvent) -> None:
    """Count one newly stored event (called by customers.services.event_record)."""
    if event.account_id is None:
        return
    day = local_day(event.occurred_at)
    counts: Counter = Counter({(event.account_id, day, event.event_type): 1})
    if event.event_type in UNFOLLOW_TYPES and _pushed_before(event):
        counts[(event.account_id, day, UNFOLLOW_AFTER_PUSH)] += 1
    if event.event_type == CLICK_TYPE and event.delivery_id and _first_click(event):
        counts[(event.account_id, day, FIRST_CLICK)] += 1
    _add(counts)


def _pushed_before(event: EngagementEvent) -> bool:
    # Uses index: (customer_id, occurred_at) of the event store.
    return EngagementEvent.objects.filter(
        customer_id=event.customer_id,
        account_id=event.account_id,
        event_type=PUSH_TYPE,
        occurred_at__gte=event.occurred_at - AFTER_PUSH_WINDOW,
        occurred_at__lte=event.occurred_at,
    ).exists()


def _first_click(event: EngagementEvent) -> bool:
    return not (
        EngagementEvent.objects.filter(customer_id=event.customer_id, event_type=CLICK_TYPE, delivery_id=event.delivery_id)
        .exclude(pk=event.pk)
        .exists()
    )


def daily_count_refusals(*, account_ids: Iterable[int], refusal: str, at: datetime) -> None:
    """Count identities (by their account) that started refusing pushes at `at`."""
    day = local_day(at)
    _add(Counter((account_id, day, REFUSAL_PREFIX + refusal) for account_id in account_ids))


# The bulk path (customers.services.events_record_bulk, PostgreSQL) counts inside its INSERT
# statement: a data-modifying CTE over the rows it inserted (`ins`, with account_id, customer_id,
# event_type, occurred_at, delivery_id, id). Parameters: the time zone, three times.
BULK_COUNT_CTE = sql.SQL(
    """
    daily AS (
        INSERT INTO {daily} (account_id, day, metric, count)
        SELECT account_id, day, metric, COUNT(*) FROM (
            SELECT i.account_id, (i.occurred_at AT TIME ZONE %s)::date AS day, i.event_type AS metric FROM ins i
            WHERE i.account_id IS NOT NULL
            UNION ALL
            SELECT i.account_id, (i.occurred_at AT TIME ZONE %s)::date, {after_push} FROM ins i
            WHERE i.account_id IS NOT NULL AND i.event_type IN ({unfollow_types}) AND EXISTS (
                SELECT 1 FROM {event} p WHERE p.customer_id = i.customer_id AND p.account_id = i.account_id
                AND p.event_type = {push} AND p.occurred_at BETWEEN i.occurred_at - interval '24 hours' AND i.occurred_at)
            UNION ALL
            SELECT i.account_id, (i.occurred_at AT TIME ZONE %s)::date, {first_click} FROM ins i
            WHERE i.account_id IS NOT NULL AND i.event_type = {click} AND i.delivery_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {event} c WHERE c.customer_id = i.customer_id AND c.event_type = {click}
                AND c.delivery_id = i.delivery_id)
        ) counted
        GROUP BY account_id, day, metric
        ON CONFLICT (account_id, day, metric) DO UPDATE SET count = {daily}.count + EXCLUDED.count
    )
    """
).format(
    daily=table(AccountDailyCount),
    event=table(EngagementEvent),
    after_push=sql.Literal(UNFOLLOW_AFTER_PUSH),
    first_click=sql.Literal(FIRST_CLICK),
    unfollow_types=sql.SQL(", ").join(sql.Literal(t) for t in UNFOLLOW_TYPES),
    push=sql.Literal(PUSH_TYPE),
    click=sql.Literal(CLICK_TYPE),
)


def bulk_count_params() -> list[str]:
    return [settings.TIME_ZONE] * 3


@transaction.atomic
def daily_counts_rebuild(*, since: date) -> int:
    """Recount the event metrics of the days from `since` (local days) from the event store.

    Refusal metrics have no events behind them and are kept. Days whose events the retention rollup
    already removed would lose their counts, so `since` should stay within the retention period.
    Returns the number of counter rows written."""
    tz = operator_timezone()
    start = datetime.combine(since, datetime.min.time(), tzinfo=tz)
    AccountDailyCount.objects.filter(day__gte=since).exclude(metric__startswith=REFUSAL_PREFIX).delete()
    events = EngagementEvent.objects.filter(occurred_at__gte=start, account_id__isnull=False)
    counts: Counter = Counter()
    per_type = events.annotate(d=TruncDate("occurred_at", tzinfo=tz)).values_list("account_id", "d", "event_type").annotate(n=Count("pk"))
    for account_id, day, event_type, n in per_type.order_by():
        counts[(account_id, day, event_type)] += n
    pushed = EngagementEvent.objects.filter(
        customer_id=OuterRef("customer_id"),
        account_id=OuterRef("account_id"),
        event_type=PUSH_TYPE,
        occurred_at__gte=OuterRef("occurred_at") - AFTER_PUSH_WINDOW,
        occurred_at__lte=OuterRef("occurred_at"),
    )
    after_push = (
        events.filter(event_type__in=UNFOLLOW_TYPES)
        .filter(Exists(pushed))
        .annotate(d=TruncDate("occurred_at", tzinfo=tz))
        .values_list("account_id", "d")
        .annotate(n=Count("pk"))
    )
    for account_id, day, n in after_push.order_by():
        counts[(account_id, day, UNFOLLOW_AFTER_PUSH)] += n
    # The first click of each delivery, on its own day.
    first_clicks: Counter = Counter()
    seen: set[int] = set()
    clicks = events.filter(event_type=CLICK_TYPE, delivery_id__isnull=False).order_by("occurred_at", "pk")
    for account_id, delivery_id, at in clicks.values_list("account_id", "delivery_id", "occurred_at").iterator(chunk_size=5000):
        if delivery_id not in seen:
            seen.add(delivery_id)
            first_clicks[(account_id, local_day(at), FIRST_CLICK)] += 1
    counts.update(first_clicks)
    _add(counts)
    return len(counts)
