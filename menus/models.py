"""Custom menus of a service account: one `Menu` per account and audience (the default menu, or a
conditional menu for a segment), its `MenuVersion`s (every save is a new version; one is published),
and `MenuReply`, the outbox of the replies a click routes to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Menu(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="menus", verbose_name=_("account"))
    # Empty: the default menu. A segment: a conditional menu, matched by the WeChat tag mirroring the segment.
    segment = models.ForeignKey(
        "customers.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("segment")
    )
    name = models.CharField(_("name"), max_length=64)
    # The product tag that mirrors the segment's members (kept in sync, pushed to WeChat as a tag).
    segment_tag = models.ForeignKey("customers.Tag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # WeChat's ids while published: the conditional menu's menuid and the tag id its rule names.
    wechat_menuid = models.CharField(_("WeChat menu id"), max_length=32, blank=True)
    wechat_tag_id = models.CharField(_("WeChat tag id"), max_length=32, blank=True)
    published_version = models.ForeignKey("MenuVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("custom menu")
        verbose_name_plural = _("custom menus")
        ordering = ["account", "segment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(segment__isnull=True), name="menu_one_default_per_account"),
            models.UniqueConstraint(fields=["account", "segment"], condition=Q(segment__isnull=False), name="menu_one_per_segment"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return self.segment_id is None


class MenuVersion(models.Model):
    """One saved state of a menu: WeChat's `button` array plus, on each key item, the action it routes to."""

    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    # [{"name", "type", "key"|"url"|…, "action": {...}, "topics": [tag ids], "sub_button": [...]}]
    buttons = models.JSONField(_("buttons"), default=list)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("menu version")
        verbose_name_plural = _("menu versions")
        ordering = ["menu", "-number"]
        constraints = [models.UniqueConstraint(fields=["menu", "number"], name="menu_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.menu} v{self.number}"


class MenuReplyState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class MenuReply(models.Model):
    """A reply a click routed to, sent as a customer-service message (a click opens 3 messages within
    a minute). The row comes first, unique per callback, so a retried callback or task sends once."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    openid = models.CharField(max_length=128)
    version = models.ForeignKey(MenuVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    item_key = models.CharField(max_length=128)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # The rendered message/custom/send body without `touser`.
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=MenuReplyState.choices, default=MenuReplyState.PLANNED)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("menu reply")
        verbose_name_plural = _("menu replies")
        indexes = [models.Index(fields=["state", "created_at"], condition=Q(state="planned"), name="menu_reply_planned_idx")]
