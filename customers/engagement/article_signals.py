"""Article statistics as aggregate signals of the engagement profile: how well each topic's articles
are read on an account (readers / target users, from WeChat's article statistics), kept per account,
topic and day, and turned into a per-topic lift of the click prediction's prior.

The product's app that knows which articles were sent on which topics (campaigns) sums a day's
numbers per topic and calls `topic_reads_record`; the prediction reads `topic_read_lifts`. A topic
whose articles are read twice as much as the account's articles on average starts from a prior
twice the population's (bounded to [1/3, 3]); the customers' own pushes and clicks soon outweigh it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Sum

from customers.engagement.models import TopicReadStat

WINDOW_DAYS = 28
# Target users of smoothing towards the account's average read rate (a topic needs a few hundred
# target users before its own rate counts fully).
SMOOTHING_TARGETS = 200.0
LIFT_BOUNDS = (1 / 3, 3.0)


@transaction.atomic
def topic_reads_record(*, account_id: int, day: date, per_topic: dict[int, tuple[int, int]]) -> int:
    """Store one day's (readers, target users) per topic tag of an account; the day is replaced
    (fetched again, the same rows). Returns the number of topics stored."""
    TopicReadStat.objects.filter(account_id=account_id, day=day).delete()
    TopicReadStat.objects.bulk_create([
        TopicReadStat(account_id=account_id, topic_id=topic, day=day, readers=max(0, int(r)), targets=max(0, int(t)))
        for topic, (r, t) in per_topic.items() if t > 0
    ])
    return sum(1 for _, t in per_topic.values() if t > 0)


def topic_read_lifts(*, account_id: int | None, now: datetime) -> dict[str, float]:
    """{topic tag id (str): lift} over the last WINDOW_DAYS: the topic's smoothed read rate over the
    account's average read rate, bounded. Empty without an account or statistics."""
    if account_id is None:
        return {}
    since = (now - timedelta(days=WINDOW_DAYS)).date()
    rows = list(
        TopicReadStat.objects.filter(account_id=account_id, day__gte=since)
        .values("topic_id").annotate(r=Sum("readers"), t=Sum("targets")).values_list("topic_id", "r", "t")
    )
    readers, targets = sum(r for _, r, _ in rows), sum(t for _, _, t in rows)
    if not targets or not readers:
        return {}
    average = readers / targets
    low, high = LIFT_BOUNDS
    return {
        str(topic): min(high, max(low, ((r + SMOOTHING_TARGETS * average) / (t + SMOOTHING_TARGETS)) / average))
        for topic, r, t in rows
    }
