"""Audit of personal-data requests (PIPL): every export and erasure leaves a row.

`customer_id` is a plain id, not a foreign key: the audit row must outlive whatever the erasure
removes, and it holds no personal data itself (counts only).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["PrivacyRequest", "PrivacyRequestKind"]


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", _("Export")
    ERASURE = "erasure", _("Erasure")


class PrivacyRequest(models.Model):
    kind = models.CharField(max_length=12, choices=PrivacyRequestKind.choices)
    customer_id = models.BigIntegerField(db_index=True)
    # Who asked: "customer:mini-program", "operator:<user id>", "system".
    requested_by = models.CharField(max_length=64)
    # What was exported or removed, as counts per kind of data.
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["-created_at"]
