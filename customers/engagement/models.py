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
