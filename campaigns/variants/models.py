"""A campaign's variant test: its settings, and the decision once made."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["VariantTest", "VariantTestMode", "VariantTestState"]


class VariantTestMode(models.TextChoices):
    SPLIT = "split", _("Split the whole audience")
    CELLS = "cells", _("Test cells first, then the winner to the rest")


class VariantTestState(models.TextChoices):
    TESTING = "testing", _("Testing")
    DECIDED = "decided", _("Decided")


class VariantTest(models.Model):
    campaign = models.OneToOneField("campaigns.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="variant_test")
    mode = models.CharField(_("mode"), max_length=8, choices=VariantTestMode.choices)
    variant_count = models.PositiveSmallIntegerField()
    # Cells mode: each variant's share of the audience (%), and how long after planning the test runs.
    cell_percent = models.PositiveSmallIntegerField(default=10)
    wait_minutes = models.PositiveIntegerField(default=24 * 60)
    min_sample = models.PositiveIntegerField(default=100)
    # P(a variant beats all the others) needed to call it the winner.
    threshold = models.FloatField(default=0.95)
    state = models.CharField(max_length=8, choices=VariantTestState.choices, default=VariantTestState.TESTING)
    decide_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    winner = models.PositiveSmallIntegerField(null=True, blank=True)
    # campaigns.variants.decision.Reason, and the numbers it was decided on.
    reason = models.CharField(max_length=24, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(variant_count__gte=2, variant_count__lte=8), name="variant_test_2_to_8"),
            models.CheckConstraint(condition=models.Q(cell_percent__gte=1, cell_percent__lte=50), name="variant_test_cell_percent"),
        ]
