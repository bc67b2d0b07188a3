"""A group message campaign's rows: one per (campaign, customer group)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class GroupSendState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    SENDING = "sending", _("Sending")
    # The task exists; the owner has not confirmed it in WeCom yet.
    SENT = "sent", _("Sent to the owner")
    DELIVERED = "delivered", _("Delivered to the group")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Left out")
    CANCELLED = "cancelled", _("Cancelled")


class GroupSendReason(models.TextChoices):
    GROUP_DAY_LIMIT = "group_day_limit", _("The group's group messages of the day are used")
    GROUP_MONTH_LIMIT = "group_month_limit", _("The group's group messages of the month are used (WeCom)")
    OWNER_DEPARTED = "owner_departed", _("The owner has left the corp")
    NO_OWNER = "no_owner", _("The group has no owner")


class GroupSend(models.Model):
    """One customer group of a group-message campaign: planned, left out (and why), sent as part of
    the owner's task (msgid), then WeCom's result for the group (get_groupmsg_send_result)."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="group_sends")
    group = models.ForeignKey("customers.WeComGroupChat", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.PROTECT, related_name="+")
    chat_id = models.CharField(max_length=128)
    owner_userid = models.CharField(max_length=64)
    # External members present when planned: whom the message reaches (reported, never capped per member).
    members = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=GroupSendState.choices, default=GroupSendState.PLANNED)
    reason = models.CharField(max_length=32, choices=GroupSendReason.choices, blank=True, default="")
    msgid = models.CharField(max_length=64, blank=True, default="")
    error_code = models.CharField(max_length=32, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("group send")
        verbose_name_plural = _("group sends")
        constraints = [models.UniqueConstraint(fields=["campaign", "group"], name="group_send_unique_per_campaign")]
        indexes = [
            # A group's recent sends (the day and month limits).
            models.Index(fields=["group", "sent_at"], condition=Q(sent_at__isnull=False), name="group_send_group_sent_idx"),
            models.Index(fields=["account", "msgid"], condition=~Q(msgid=""), name="group_send_msgid_idx"),
        ]
