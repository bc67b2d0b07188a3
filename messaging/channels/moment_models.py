"""Customer moments (客户朋友圈) published through WeCom staff members (services: wecom_moments.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MomentState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent to WeCom")
    SUBMITTED = "submitted", _("WeCom is creating the task")
    CREATED = "created", _("Created: staff members publish it")
    FAILED = "failed", _("Failed")


class WeComMoment(models.Model):
    """One add_moment_task: what it says, who publishes it and which customers see it, WeCom's job
    and moment ids, and what came back (who published, comments and likes)."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    text = models.TextField(_("text"), blank=True)
    # Validated attachment specs: [{"msgtype": image|video|link, "media_file", "title", "url"}].
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    # Staff userids asked to publish it (empty: every staff member in the app's visible range).
    sender_userids = models.JSONField(_("staff members"), default=list, blank=True)
    # Product tags (ids) the customers who see it carry, and their WeCom corp tag ids at creation.
    tag_ids = models.JSONField(_("customers with tags"), default=list, blank=True)
    remote_tag_ids = models.JSONField(default=list, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=MomentState.choices, default=MomentState.PENDING, db_index=True)
    jobid = models.CharField(max_length=128, blank=True)
    moment_id = models.CharField(_("WeCom moment id"), max_length=128, blank=True, db_index=True)
    errcode = models.IntegerField(_("WeCom error code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # WeCom's invalid_sender_list / invalid_external_contact_list.
    invalid_senders = models.JSONField(_("staff members WeCom did not take"), default=list, blank=True)
    invalid_tags = models.JSONField(_("tags WeCom did not take"), default=list, blank=True)
    # userid -> {"published": bool, "reach": customers who can see it once published}.
    publishers = models.JSONField(_("publishers"), default=dict, blank=True)
    comments = models.PositiveIntegerField(_("comments"), default=0)
    likes = models.PositiveIntegerField(_("likes"), default=0)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("sent to WeCom at"), null=True, blank=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeCom moment")
        verbose_name_plural = _("WeCom moments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="wecom_moment_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.pk}:{self.moment_id or self.state}"


__all__ = ["MomentState", "WeComMoment"]
