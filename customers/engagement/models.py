"""Models of the engagement feature: which events were learned from, and daily rollups of old events."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EngagementAppliedEvent(models.Model):
    """Marks an event as folded into its customer's EngagementProfile.

    Inserted with ON CONFLICT DO NOTHING in the same transaction as the profile update, so a task
    that runs twice (acks_late redelivery) applies each event once. Deleted with the event by the
    retention rollup. A plain id, not a foreign key: the rollup deletes both set-based.
    """

    event_id = models.BigIntegerField(primary_key=True)


class EngagementDailyRollup(models.Model):
    """Count of one customer's events of one type on one UTC day, kept after the raw events expire."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="event_rollups")
    event_type = models.CharField(max_length=48)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily engagement rollup")
        verbose_name_plural = _("daily engagement rollups")
        constraints = [
            models.UniqueConstraint(fields=["customer", "event_type", "day"], name="engagement_rollup_unique"),
        ]
        indexes = [models.Index(fields=["event_type", "day"])]


class AccountDailyCount(models.Model):
    """How many events of one kind an account saw on one local day (the operators' TIME_ZONE).

    Kept by customers.engagement.daily as events are recorded (one upsert per account, day and
    metric), so the dashboard reads ~30 rows per metric instead of counting the event store.
    `metric` is an event type (`wechat.subscribe`, `push.sent`…) or a derived measure
    (`unfollow.after_push`, `push.first_click`, `refusal.template_blocked`, `refusal.do_not_disturb`).
    """

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    metric = models.CharField(max_length=48)
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("daily account count")
        verbose_name_plural = _("daily account counts")
        constraints = [
            # Also the index of the dashboard's range reads (account, day ≥ 30 days ago).
            models.UniqueConstraint(fields=["account", "day", "metric"], name="account_daily_count_unique"),
        ]


class TopicReadStat(models.Model):
    """One day's article reads on one topic of one account: the readers and the target users that
    WeChat's article statistics report for the articles sent on that topic (an aggregate signal;
    no customer is named). Written by customers.engagement.article_signals; read by the prediction
    as the topic's prior (customers.engagement.prediction)."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", db_index=False)
    topic = models.ForeignKey("customers.Tag", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    readers = models.PositiveIntegerField(default=0)
    targets = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("topic read statistic")
        verbose_name_plural = _("topic read statistics")
        constraints = [models.UniqueConstraint(fields=["account", "topic", "day"], name="topic_read_stat_unique")]
