"""Models of this feature; imported by the app's models.py so Django registers them.

`InboundMessage` is the inbound outbox: every accepted callback is stored here (raw payload and the
parsed fields) before WeChat gets its answer, then processed by a task on the `callbacks` queue.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["AutoReplyMatch", "AutoReplyRule", "InboundMessage", "InboundState"]


class InboundState(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSING = "processing", _("Processing")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")


class InboundMessage(models.Model):
    # No index of its own: the unique (account, dedupe_key) index serves lookups and cascades by account,
    # and every callback INSERT would maintain a second one.
    account = models.ForeignKey(
        "accounts.ChannelAccount", on_delete=models.CASCADE, related_name="inbound_messages", db_index=False
    )
    # "msg:<MsgId>" for messages, "evt:<FromUserName>:<CreateTime>:<Event>[:<EventKey|ChangeType>]" for
    # events (hashed when long): WeChat's retries of one callback map to one row.
    dedupe_key = models.CharField(max_length=200)
    msg_type = models.CharField(max_length=32, blank=True)
    event = models.CharField(max_length=64, blank=True)
    from_user = models.CharField(max_length=128, blank=True)
    # The decrypted XML exactly as it arrived (the record of what WeChat said).
    raw_payload = models.TextField()
    parsed = models.JSONField(default=dict)
    created_time = models.DateTimeField(_("WeChat CreateTime"), null=True, blank=True)
    state = models.CharField(max_length=12, choices=InboundState.choices, default=InboundState.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # When a processing task was last handed to the broker (the sweeper re-enqueues from this).
    last_enqueued_at = models.DateTimeField(default=timezone.now)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [models.UniqueConstraint(fields=["account", "dedupe_key"], name="inbound_unique_dedupe_key")]
        indexes = [
            # The sweeper scans only the unfinished rows.
            models.Index(
                fields=["state", "last_enqueued_at"],
                condition=Q(state__in=["received", "processing"]),
                name="inbound_unfinished_idx",
            ),
            # The console's callback backlog counts recent failures without reading the whole outbox.
            models.Index(fields=["received_at"], condition=Q(state="failed"), name="inbound_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.msg_type}/{self.event or '-'} {self.dedupe_key}"


class AutoReplyMatch(models.TextChoices):
    EXACT = "exact", _("Exact")
    CONTAINS = "contains", _("Contains")


class AutoReplyRule(models.Model):
    """A keyword rule answered as a passive text reply to a user's text message; a hand-over rule
    (`hand_over`, e.g. "人工" / "转人工") also opens the customer's inbox conversation for a person."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="auto_reply_rules")
    keyword = models.CharField(_("keyword"), max_length=64)
    match = models.CharField(_("match"), max_length=10, choices=AutoReplyMatch.choices, default=AutoReplyMatch.EXACT)
    reply_text = models.TextField(_("reply text"), max_length=2000)
    # Lower first; exact rules win over contains rules of the same priority.
    priority = models.PositiveIntegerField(_("priority"), default=100)
    hand_over = models.BooleanField(
        _("hand over to a person"), default=False,
        help_text=_("The customer asks for a person (e.g. “人工”): besides the reply, their conversation opens in the inbox for an operator."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("auto-reply rule")
        verbose_name_plural = _("auto-reply rules")
        ordering = ["account", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.get_match_display()}: {self.keyword}"
