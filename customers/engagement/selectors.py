"""Reads of the engagement feature: current (decayed) values and predictions for targeting."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from django.db.models import Exists, ExpressionWrapper, F, FloatField, OuterRef, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Extract, Power
from django.utils import timezone

from customers.engagement.daily import REFUSAL_PREFIX
from customers.engagement.learning import HALF_LIFE_DAYS, decay_factor, interest_decay_factor
from customers.engagement.models import AccountDailyCount
from customers.models import ChannelIdentity, Customer, EngagementEvent, EngagementProfile, FollowState
from customers.services.identity import Refusal


def engagement_current_score_expression(*, now: datetime | None = None, prefix: str = ""):
    """SQL expression of the score decayed to `now` (stored scores are as of score_updated_at).

    `prefix` is the path to the profile from the queried model, e.g. "engagement__" on Customer.
    """
    now = now or timezone.now()
    age_seconds = Extract(Value(now) - F(f"{prefix}score_updated_at"), "epoch")
    return ExpressionWrapper(
        Coalesce(F(f"{prefix}score"), Value(0.0))
        * Coalesce(Power(Value(2.0), -age_seconds / Value(HALF_LIFE_DAYS * 86400.0)), Value(0.0)),
        output_field=FloatField(),
    )


def engagement_profiles_with_current_score(*, now: datetime | None = None) -> QuerySet[EngagementProfile]:
    return EngagementProfile.objects.annotate(current_score=engagement_current_score_expression(now=now))


def engagement_current_score(profile: EngagementProfile, *, now: datetime | None = None) -> float:
    if profile.score_updated_at is None:
        return 0.0
    now = now or timezone.now()
    return profile.score * decay_factor(max(0.0, (now - profile.score_updated_at).total_seconds()))


def predicted_engagement(profile: EngagementProfile | None, *, topic_ids: list[int], now: datetime | None = None) -> float:
    """Probability-like estimate (0–1) that the customer engages with a push on these topics.

    A saturating function of the decayed score and the best topic affinity, minus a fatigue
    penalty per ignored push: 1 - exp(-(0.15·score + 0.5·affinity)) · 0.85^streak. Monotone in
    each input; good enough to rank an audience and to threshold it (precision targeting).
    """
    if profile is None:
        return 0.0
    now = now or timezone.now()
    age = max(0.0, (now - profile.score_updated_at).total_seconds()) if profile.score_updated_at else None
    factor = decay_factor(age) if age is not None else 0.0
    interest = interest_decay_factor(age) if age is not None else 0.0
    affinity = max((float((profile.topic_affinity or {}).get(str(t), 0.0)) for t in topic_ids), default=0.0) * interest
    signal = 0.15 * profile.score * factor + 0.5 * affinity
    return (1.0 - math.exp(-signal)) * (0.85 ** profile.ignored_push_streak)


def audience_best_hour(*, customer_ids: QuerySet | list[int]) -> int | None:
    """The most common best_hour among these customers: the fallback for those with little history."""
    from django.db.models import Count

    row = (
        EngagementProfile.objects.filter(customer_id__in=customer_ids, best_hour__isnull=False)
        .values("best_hour")
        .annotate(n=Count("customer_id"))
        .order_by("-n", "best_hour")
        .first()
    )
    return row["best_hour"] if row else None


def customer_timeline(*, customer_id: int, limit: int = 100) -> QuerySet[EngagementEvent]:
    """A customer's latest events (served by the (customer, occurred_at) index)."""
    return EngagementEvent.objects.filter(customer_id=customer_id).order_by("-occurred_at")[:limit]


def account_daily_counts(*, since: date, until: date, account_id: int | None = None, metrics: list[str] | None = None) -> dict[str, dict[date, int]]:
    """{metric: {local day: count}} from the daily counters, for one account or all of them.

    Uses index: the unique (account, day, metric) — a bounded range of ~30 days × metrics per account."""
    rows = AccountDailyCount.objects.filter(day__gte=since, day__lte=until)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    if metrics is not None:
        rows = rows.filter(metric__in=metrics)
    result: dict[str, dict[date, int]] = {}
    for metric, day, n in rows.values_list("metric", "day").annotate(n=Sum("count")).order_by():
        result.setdefault(metric, {})[day] = n
    return result


# Mutes: identities that started refusing template messages or blacklisted the account.
MUTE_METRICS = tuple(REFUSAL_PREFIX + r for r in (Refusal.TEMPLATE_BLOCKED, Refusal.DO_NOT_DISTURB))


def account_daily_series(*, account_id: int | None, until: date, days: int, series: dict[str, tuple[str, ...]]) -> dict:
    """{"days": [iso…], name: [count per local day…]} for the `days` days ending `until`, each named
    series summing its metrics from the daily counters."""
    since = until - timedelta(days=days - 1)
    counts = account_daily_counts(
        since=since, until=until, account_id=account_id, metrics=[m for metrics in series.values() for m in metrics]
    )
    day_list = [since + timedelta(days=i) for i in range(days)]
    result: dict = {"days": [d.isoformat() for d in day_list]}
    for name, metrics in series.items():
        result[name] = [sum(counts.get(m, {}).get(d, 0) for m in metrics) for d in day_list]
    return result


def followers_count(*, account_id: int | None = None) -> int:
    """Identities following the account (every account when None). Uses index: (account, follow_state)."""
    identities = ChannelIdentity.objects.filter(follow_state=FollowState.FOLLOWING)
    if account_id is not None:
        identities = identities.filter(account_id=account_id)
    return identities.count()


def active_customers_count(*, since: datetime, account_id: int | None = None) -> int:
    """Customers who did something (customers.services.ENGAGEMENT_EVENT_PREFIXES) since `since`, among
    the account's identities when given. Uses index: customers' last_engaged_at."""
    customers = Customer.objects.filter(last_engaged_at__gte=since)
    if account_id is not None:
        customers = customers.filter(Exists(ChannelIdentity.objects.filter(customer_id=OuterRef("pk"), account_id=account_id)))
    return customers.count()
