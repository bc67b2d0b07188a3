"""The customer-service inbox: one conversation per customer and service account, every message in
and out, operators who answer, a shared library of quick replies, per-account service settings
(business hours, the automatic reply outside them, SLA targets). docs/service-entry.md, "Inbox"."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "AssignmentRule", "Conversation", "ConversationMessage", "ConversationState", "InboxOperator", "InboxSettings", "KfAccount",
    "MessageStatus", "QuickReply",
]


class ConversationState(models.TextChoices):
    OPEN = "open", _("Open (the customer waits for an answer)")
    WAITING = "waiting", _("Waiting (answered; the customer's turn)")
    RESOLVED = "resolved", _("Resolved")


class Conversation(models.Model):
    """The customer's thread with one account. A resolved conversation reopens on the customer's next
    message: its cycle (opened_at, first_response_at, resolved_at) starts again."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer"))
    identity = models.ForeignKey("customers.ChannelIdentity", on_delete=models.CASCADE, related_name="+", verbose_name=_("channel identity"))
    state = models.CharField(_("state"), max_length=10, choices=ConversationState.choices, default=ConversationState.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("assigned operator")
    )
    source = models.CharField(_("opened by"), max_length=16, default="message", help_text=_(
        "message: the customer wrote; menu: a menu item asked for a person; keyword: a keyword rule (e.g. “人工”) asked for a person; kf: a WeChat kf session."
    ))
    opened_at = models.DateTimeField(_("opened at"))
    # The customer's oldest message not answered yet: the first / next response timers run from it.
    awaiting_since = models.DateTimeField(_("customer waiting since"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message at"))
    last_preview = models.CharField(_("last message"), max_length=120, blank=True)
    # WeChat's own customer-service (kf) session holding the conversation, from the session events
    # (kf_create_session / kf_switch_session set it, kf_close_session clears it).
    kf_account = models.CharField(_("held by WeChat kf account"), max_length=41, blank=True)
    kf_since = models.DateTimeField(_("held by the kf account since"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [models.UniqueConstraint(fields=["account", "customer"], name="inbox_conversation_one_per_customer")]
        indexes = [
            models.Index(fields=["state", "-last_message_at"], name="inbox_conv_state_recent"),
            models.Index(fields=["assignee", "state"], name="inbox_conv_assignee_state"),
            models.Index(fields=["-last_message_at"], name="inbox_conv_recent"),
        ]
        permissions = [("reply_conversation", _("Can reply to customers in the inbox"))]

    def __str__(self) -> str:
        return f"#{self.pk}"


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    HELD = "held", _("Held back (the window's messages are used up)")
    REFUSED = "refused", _("Refused (outside the customer-service window)")
    FAILED = "failed", _("Failed")


class ConversationMessage(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation"))
    inbound = models.BooleanField(_("from the customer"))
    # text, image, voice, video, shortvideo, location, link, miniprogrampage, event (subscribe, scan,
    # click, menu request), or for replies: text, image, miniprogrampage.
    msg_type = models.CharField(_("message type"), max_length=24)
    body = models.JSONField(_("content"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices)
    reason = models.CharField(_("reason"), max_length=40, blank=True, help_text=_("Why a reply was held back, refused or failed."))
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("operator"))
    created_at = models.DateTimeField(_("at"))
    dedupe_key = models.CharField(max_length=160, unique=True)

    class Meta:
        verbose_name = _("conversation message")
        verbose_name_plural = _("conversation messages")
        indexes = [models.Index(fields=["conversation", "created_at"], name="inbox_msg_conv_time")]


class InboxOperator(models.Model):
    """An operator's presence: only online operators are assigned new conversations."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("operator"))
    online = models.BooleanField(_("online"), default=False)
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox operator")
        verbose_name_plural = _("inbox operators")


class QuickReply(models.Model):
    title = models.CharField(_("title"), max_length=60, unique=True)
    text = models.TextField(_("text"), max_length=600)

    class Meta:
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class AssignmentRule(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin among online operators")
    LEAST_BUSY = "least_busy", _("Least busy online operator")


class InboxSettings(models.Model):
    """One account's service hours, automatic reply and SLA targets (minutes)."""

    account = models.OneToOneField("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    assignment = models.CharField(_("assignment"), max_length=12, choices=AssignmentRule.choices, default=AssignmentRule.LEAST_BUSY)
    opens_at = models.TimeField(_("business hours start"), default=time(9))
    closes_at = models.TimeField(_("business hours end"), default=time(18))
    weekdays = models.CharField(_("business days"), max_length=13, default="1,2,3,4,5", help_text=_("ISO weekdays, 1 = Monday, comma-separated."))
    after_hours_reply = models.TextField(_("reply outside business hours"), max_length=600, blank=True)
    first_response_minutes = models.PositiveIntegerField(_("first response target (minutes)"), default=5)
    next_response_minutes = models.PositiveIntegerField(_("next response target (minutes)"), default=10)
    resolution_minutes = models.PositiveIntegerField(_("resolution target (minutes)"), default=24 * 60)

    class Meta:
        verbose_name = _("inbox settings")
        verbose_name_plural = _("inbox settings")


class KfAccount(models.Model):
    """One of WeChat's own customer-service accounts of a service account (客服账号, `prefix@微信号`),
    mirrored from WeChat: written by messaging.inbox.kf (add / update / delete / sync), never directly."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    kf_account = models.CharField(_("kf account"), max_length=41, help_text=_("prefix@the account's WeChat ID; the prefix is at most 10 letters, digits or underscores."))
    nickname = models.CharField(_("nickname"), max_length=16)
    kf_id = models.CharField(_("kf number"), max_length=20, blank=True)
    headimgurl = models.CharField(_("avatar"), max_length=500, blank=True)
    kf_wx = models.CharField(_("bound WeChat ID"), max_length=64, blank=True, help_text=_("The WeChat user who serves as this account; unbound accounts cannot take sessions."))
    invite_wx = models.CharField(_("invited WeChat ID"), max_length=64, blank=True)
    invite_status = models.CharField(_("invitation"), max_length=10, blank=True)
    online = models.BooleanField(_("online"), default=False)
    accepted_case = models.PositiveIntegerField(_("sessions being served"), default=0)
    synced_at = models.DateTimeField(_("read from WeChat at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeChat kf account")
        verbose_name_plural = _("WeChat kf accounts")
        constraints = [models.UniqueConstraint(fields=["account", "kf_account"], name="inbox_kf_account_unique")]
        ordering = ["account", "kf_account"]

    def __str__(self) -> str:
        return f"{self.nickname} ({self.kf_account})"
