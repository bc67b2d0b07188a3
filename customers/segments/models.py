"""Segments: rule-based (dynamic) or fixed (static) audiences, their frozen snapshots and size history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Segment",
    "SegmentCountHistory",
    "SegmentKind",
    "SegmentSnapshot",
    "SegmentSnapshotMember",
    "SegmentStaticMember",
]


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rule evaluated when used)")
    STATIC = "static", _("Static (a fixed list of customers)")


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=128, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    # The rule tree (see customers/segments/rules.py); empty for static segments.
    rule = models.JSONField(_("rule"), default=dict, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    # Last counted size (by the scheduled refresh or a preview), with when it was counted.
    member_count = models.PositiveIntegerField(_("members"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "customers"
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentStaticMember(models.Model):
    """A customer listed in a static segment (uploaded, or added from a customer search)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="static_members")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "customers"
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_static_member_unique"),
        ]
        # (customer, segment): the "member of static segment" condition probes by customer.
        indexes = [models.Index(fields=["customer", "segment"], name="segment_static_cust_idx")]


class SegmentSnapshot(models.Model):
    """A segment's membership frozen at one moment, so a campaign's audience is fixed and auditable."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="snapshots")
    # The rule as it was when frozen (the segment's rule may change later).
    rule = models.JSONField(default=dict, blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "customers"
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.segment_id}@{self.created_at:%Y-%m-%d %H:%M}"


class SegmentSnapshotMember(models.Model):
    """One customer of a snapshot; filled with one INSERT … SELECT (campaigns join on it).

    No database foreign-key constraints: their per-row checks would triple the time of a 300,000-row
    INSERT … SELECT, and both sides are written only by segment_snapshot_create from rows that exist.
    Deletes still cascade (Django deletes the members with one statement).
    """

    id = models.BigAutoField(primary_key=True)
    snapshot = models.ForeignKey(
        SegmentSnapshot, on_delete=models.CASCADE, related_name="members", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False)

    class Meta:
        app_label = "customers"
        # The unique (snapshot, customer) index also serves "members of snapshot S".
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "customer"], name="segment_snapshot_member_unique"),
        ]


class SegmentCountHistory(models.Model):
    """A segment's size at one moment (the scheduled refresh adds one row per segment)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="count_history")
    member_count = models.PositiveIntegerField()
    counted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "customers"
        ordering = ["-counted_at"]
        indexes = [models.Index(fields=["segment", "-counted_at"], name="segment_history_idx")]
