"""MessageTemplate: one template the account may send, as WeChat lists it.

Template messages (服务号模板消息) come from `cgi-bin/template/get_all_private_template`; subscribe
messages (订阅通知, service account and mini-program) from `wxaapi/newtmpl/gettemplate`. The rows are
a mirror: a sync replaces an account's list, and a template deleted on WeChat's side is marked
`removed_at` (campaigns that used it keep their reference and fail validation with a clear reason).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["MessageTemplate", "MessageTemplateKind"]


class MessageTemplateKind(models.TextChoices):
    TEMPLATE = "template", _("Template message")
    SUBSCRIBE = "subscribe", _("Subscribe message")


class MessageTemplate(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="message_templates")
    kind = models.CharField(_("kind"), max_length=16, choices=MessageTemplateKind.choices)
    template_id = models.CharField(_("template ID"), max_length=128)
    title = models.CharField(_("title"), max_length=128)
    # The template's body as WeChat shows it, e.g. "订单号：{{character_string1.DATA}}\n金额：{{amount2.DATA}}".
    content = models.TextField(_("content"), blank=True)
    example = models.TextField(_("example"), blank=True)
    # The keys the body names, in order: [{"key": "amount2", "label": "金额", "rule": "amount"}].
    # `rule` is the key's type prefix (thing, number, amount, date, phrase, character_string…) whose
    # length and charset limits WeChat enforces on send.
    keys = models.JSONField(_("keys"), default=list, blank=True)
    primary_industry = models.CharField(_("primary industry"), max_length=64, blank=True)
    deputy_industry = models.CharField(_("deputy industry"), max_length=64, blank=True)
    synced_at = models.DateTimeField(_("synced at"))
    removed_at = models.DateTimeField(_("removed on WeChat at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "template_id"], name="message_template_unique_id"),
        ]
        ordering = ["account_id", "title"]

    def __str__(self) -> str:
        return self.title
