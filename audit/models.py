"""The audit trail: one row per operator write through the console (or the operator API)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    ADD = "add", _("Added")
    CHANGE = "change", _("Changed")
    DELETE = "delete", _("Deleted")
    ACTION = "action", _("Admin action")
    API = "api", _("API write")


class AuditEntry(models.Model):
    """Who did what to which object, with the changed fields' values before and after.

    Secrets and personal data are never stored: their values are replaced by a marker saying whether
    one was set (see audit.services.SECRET_FIELDS)."""

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept when the user is deleted later: the trail must still say who it was.
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices)
    # The admin action's or API view's name ("schedule", "delete_selected", "CampaignScheduleApi").
    action_name = models.CharField(_("action name"), max_length=128, blank=True)
    app_label = models.CharField(_("app"), max_length=100, blank=True)
    model = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object ID"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    # {"field": {"before": …, "after": …}}, only the fields that changed.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    # What else happened: the admin's change message (inline rows added/changed/deleted), an action's
    # affected objects, an API request's method and path.
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["app_label", "model", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.username or '—'} {self.get_action_display()} {self.object_repr or self.model}"
