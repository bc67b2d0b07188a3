"""The brand's channel accounts (service accounts, WeCom corps, mini-programs): the base every app builds on.

Secrets are encrypted at rest and never leave through the API. Operations on accounts (the API, the
admin, registration with the sandbox) live in messaging/; this app holds only the model, so customers/,
messaging/ and campaigns/ can all point at it without pointing at each other.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from scrm.fields import EncryptedTextField


class AccountKind(models.TextChoices):
    OA = "oa", _("Service account")
    WECOM = "wecom", _("WeCom corp app")
    MINIPROGRAM = "miniprogram", _("Mini-program")


class WeComGroupMsgPeriod(models.TextChoices):
    """The corp's rule for how many group messages (客户群发) one customer may receive, as set in
    WeCom (群发助手 → 设置群发规则). 创建企业群发, https://developer.work.weixin.qq.com/document/path/92135:
    "每位客户/每个客户群每月最多可接收条数为当月天数 … 可在企业微信-群发助手-设置群发规则中调整为每周接收七条或每天接收一条"."""

    MONTH = "month", _("Per calendar month")
    WEEK = "week", _("Per calendar week")
    DAY = "day", _("Per day")


def wecom_group_msg_default(period: str, days_in_month: int = 31) -> int:
    """WeCom's default count for a period: the days of the month, 7 a week, 1 a day."""
    return {"month": days_in_month, "week": 7, "day": 1}[period]


def wecom_group_msg_problem(period: str, limit: int | None) -> str:
    """What is wrong with a corp's group-message rule ("" when nothing): WeCom never allows more
    than its default for the period, so a count is 1 to that default (31 for a month: the shorter
    months stop at their own length)."""
    if period not in WeComGroupMsgPeriod.values:
        return str(_("The period is month, week or day."))
    if limit is not None and not 1 <= limit <= wecom_group_msg_default(period):
        return str(_("For this period WeCom allows 1 to %(most)s group messages per customer.") % {"most": wecom_group_msg_default(period)})
    return ""


class EncryptMode(models.TextChoices):
    PLAIN = "plain", _("Plaintext")
    COMPATIBLE = "compatible", _("Compatible (plaintext or AES)")
    SAFE = "safe", _("Safe mode (AES)")


# Encrypted at rest; decrypted only when an adapter talks to WeChat with them.
SECRET_FIELDS = ("app_secret", "token", "encoding_aes_key", "previous_encoding_aes_key")


class ChannelAccountQuerySet(models.QuerySet):
    def for_choosing(self):
        """Accounts to list in a filter or a form: the secrets are neither loaded nor decrypted."""
        return self.defer(*SECRET_FIELDS).order_by("name", "pk")

    def filter_choices(self) -> list[tuple[str, str]]:
        """(id, label) pairs for a list filter, the label as the account's str(): three columns read,
        no model instances built (a filter's choices are computed on every page of its list)."""
        kinds = dict(AccountKind.choices)
        rows = self.for_choosing().values_list("pk", "name", "kind")
        return [(str(pk), account_label(name, kinds.get(kind, kind))) for pk, name, kind in rows]


def account_label(name: str, kind_label) -> str:
    return f"{name} ({kind_label})"


class ChannelAccount(models.Model):
    kind = models.CharField(_("kind"), max_length=12, choices=AccountKind.choices)
    name = models.CharField(_("name"), max_length=128)
    # Service account / mini-program app id, or the WeCom corp id.
    app_id = models.CharField(_("app id / corp id"), max_length=64)
    # WeCom: the agent id of the corp app (optional, for app messages).
    agent_id = models.CharField(_("agent id"), max_length=32, blank=True)
    app_secret = EncryptedTextField(_("app secret"), blank=True, default="")
    token = EncryptedTextField(_("callback token"), blank=True, default="")
    encoding_aes_key = EncryptedTextField(_("EncodingAESKey"), blank=True, default="")
    # Kept while a key is rotated: callbacks still decrypt with it.
    previous_encoding_aes_key = EncryptedTextField(_("previous EncodingAESKey"), blank=True, default="")
    encrypt_mode = models.CharField(_("message encryption"), max_length=12, choices=EncryptMode.choices, default=EncryptMode.SAFE)
    api_base_url = models.URLField(_("API base URL"), max_length=255, blank=True, help_text=_("Empty means WeChat's real servers."))
    timezone = models.CharField(_("time zone"), max_length=64, default=settings.DEFAULT_CUSTOMER_TIMEZONE)
    rate_limit_per_second = models.PositiveIntegerField(_("send rate limit per second"), default=50)
    daily_quota = models.PositiveIntegerField(_("daily send quota"), default=100_000)
    # WeChat's own quota of template messages per quota day (模板消息接口: 100,000 by default, raised by
    # WeChat for large accounts): sends beyond it wait for the next quota day instead of meeting 45009.
    template_daily_quota = models.PositiveIntegerField(
        _("template messages per day (WeChat's quota)"),
        default=100_000,
        db_default=100_000,
        help_text=_("WeChat's daily quota of template messages for this account (100,000 unless WeChat raised it). Sends beyond it wait for the next quota day (midnight Beijing time)."),
    )
    # WeCom corps: the per-customer group-message rule the corp set in WeCom (WeComGroupMsgPeriod);
    # an empty count is WeCom's default for the period (the days of the month, 7, 1).
    wecom_group_msg_period = models.CharField(
        _("WeCom group messages: period"), max_length=8, choices=WeComGroupMsgPeriod.choices,
        default=WeComGroupMsgPeriod.MONTH, db_default=WeComGroupMsgPeriod.MONTH,
        help_text=_("As set in WeCom (群发助手 → 设置群发规则): WeCom's default is as many as the days of the month per month; it can be changed to 7 a week or 1 a day."),
    )
    wecom_group_msg_limit = models.PositiveSmallIntegerField(
        _("WeCom group messages per customer in the period"), null=True, blank=True,
        help_text=_("Empty: WeCom's default for the period (the days of the month, 7 a week, 1 a day)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChannelAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        constraints = [models.UniqueConstraint(fields=["kind", "app_id"], name="account_unique_app_id")]

    def __str__(self) -> str:
        return account_label(self.name, self.get_kind_display())

    def clean(self) -> None:
        problem = wecom_group_msg_problem(self.wecom_group_msg_period, self.wecom_group_msg_limit)
        if problem:
            raise ValidationError({"wecom_group_msg_limit": problem})

    @property
    def resolved_api_base_url(self) -> str:
        if self.api_base_url:
            return self.api_base_url.rstrip("/") + "/"
        return settings.WECOM_API_BASE_URL if self.kind == AccountKind.WECOM else settings.WECHAT_API_BASE_URL

    @property
    def callback_url(self) -> str:
        name = "callbacks:wecom" if self.kind == AccountKind.WECOM else "callbacks:wechat"
        return settings.PUBLIC_BASE_URL + reverse(name, kwargs={"account_id": self.pk})

    @property
    def identity_kind(self) -> str:
        return {AccountKind.OA: "oa_openid", AccountKind.MINIPROGRAM: "mp_openid", AccountKind.WECOM: "wecom_external"}[self.kind]
