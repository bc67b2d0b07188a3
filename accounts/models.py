"""The brand's channel accounts (service accounts, WeCom corps, mini-programs): the base every app builds on.

Secrets are encrypted at rest and never leave through the API. Operations on accounts (the API, the
admin, registration with the sandbox) live in messaging/; this app holds only the model, so customers/,
messaging/ and campaigns/ can all point at it without pointing at each other.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from scrm.fields import EncryptedTextField


class AccountKind(models.TextChoices):
    OA = "oa", _("Service account")
    WECOM = "wecom", _("WeCom corp app")
    MINIPROGRAM = "miniprogram", _("Mini-program")


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
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChannelAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        constraints = [models.UniqueConstraint(fields=["kind", "app_id"], name="account_unique_app_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

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
