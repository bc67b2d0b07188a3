"""Django admin for channel accounts. Secrets are write-only: the form never renders a stored
secret, shows only whether one is set (and its last 4 characters), and keeps it when left empty."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminURLFieldWidget
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import ChannelAccount, WeComGroupMsgPeriod
from audit.admin import ModelAdmin
from messaging.channels.hosts import api_base_url_problem
from messaging.serializers import ChannelAccountSerializer
from messaging.services import account_register_with_sandbox
from messaging.template_library.admin import SYNC_PERMISSION, syncable_accounts, templates_sync_for_operator

_SECRETS = ("app_secret", "token", "encoding_aes_key", "previous_encoding_aes_key")


class ChannelAccountForm(forms.ModelForm):
    app_secret = forms.CharField(label=_("app secret"), required=False, widget=forms.PasswordInput(render_value=False))
    token = forms.CharField(label=_("callback token"), required=False, widget=forms.PasswordInput(render_value=False))
    encoding_aes_key = forms.CharField(label=_("EncodingAESKey"), required=False, widget=forms.PasswordInput(render_value=False))
    # Declared so the scheme is explicit: a generated URL field warns that Django 6 changes its default.
    api_base_url = forms.URLField(
        label=_("API base URL"), max_length=255, required=False, assume_scheme="https", widget=AdminURLFieldWidget,
        help_text=_("Empty means WeChat's real servers. Otherwise one of WeChat's API hosts, or a sandbox listed in WECHAT_SANDBOX_URLS."),
    )

    class Meta:
        model = ChannelAccount
        fields = [
            "kind", "name", "app_id", "agent_id", "is_active", "app_secret", "token", "encoding_aes_key",
            "encrypt_mode", "api_base_url", "timezone", "rate_limit_per_second", "daily_quota", "template_daily_quota",
            "wecom_group_msg_period", "wecom_group_msg_limit",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wecom_group_msg_period"].required = False
        for name in ("app_secret", "token", "encoding_aes_key"):
            stored = getattr(self.instance, name, "") if self.instance.pk else ""
            if stored:
                hint = _("Set (ends with …%(last)s). Leave empty to keep it.") % {"last": stored[-4:]} if name == "app_secret" else _("Set. Leave empty to keep it.")
            else:
                hint = _("Not set.")
            self.fields[name].help_text = hint

    def _keep_or_validate(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if not value:
            return getattr(self.instance, name, "") if self.instance.pk else ""
        validator = getattr(ChannelAccountSerializer(), f"validate_{name}", None)
        if validator is not None:
            from rest_framework.exceptions import ValidationError as DRFValidationError

            try:
                validator(value)
            except DRFValidationError as exc:
                raise forms.ValidationError([str(d) for d in exc.detail]) from exc
        return value

    def clean_wecom_group_msg_period(self):
        # Shown for every kind; a form posted without it (another kind's page) keeps what is stored.
        return self.cleaned_data.get("wecom_group_msg_period") or self.instance.wecom_group_msg_period or WeComGroupMsgPeriod.MONTH

    def clean_api_base_url(self):
        value = self.cleaned_data.get("api_base_url", "")
        problem = api_base_url_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_app_secret(self):
        return self._keep_or_validate("app_secret")

    def clean_token(self):
        return self._keep_or_validate("token")

    def clean_encoding_aes_key(self):
        value = self._keep_or_validate("encoding_aes_key")
        if self.instance.pk and value and value != self.instance.encoding_aes_key and self.instance.encoding_aes_key:
            # Callbacks already in flight were encrypted with the old key: keep it as a fallback.
            self.instance.previous_encoding_aes_key = self.instance.encoding_aes_key
        return value


@admin.register(ChannelAccount)
class ChannelAccountAdmin(ModelAdmin):
    form = ChannelAccountForm
    list_display = ["name", "kind", "app_id", "api_base_url", "is_active", "secret_status", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "=app_id"]
    readonly_fields = ["callback_url_display", "secret_status", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "app_id", "agent_id", "is_active"]}),
        (_("Secrets (write-only)"), {"fields": ["app_secret", "token", "encoding_aes_key", "encrypt_mode", "secret_status"]}),
        (_("Callbacks and API"), {"fields": ["callback_url_display", "api_base_url"]}),
        (_("Limits and time zone"), {"fields": ["timezone", "rate_limit_per_second", "daily_quota", "template_daily_quota"]}),
        (_("WeCom group messages per customer"), {"fields": ["wecom_group_msg_period", "wecom_group_msg_limit"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description=_("callback URL"))
    def callback_url_display(self, obj: ChannelAccount) -> str:
        return obj.callback_url if obj.pk else "—"

    @admin.display(description=_("secrets"))
    def secret_status(self, obj: ChannelAccount) -> str:
        labels = {"app_secret": _("secret"), "token": _("token"), "encoding_aes_key": _("AES key")}
        return ", ".join(f"{labels[n]} {'✓' if getattr(obj, n) else '✗'}" for n in labels)

    actions = ["sync_message_templates"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(lambda: account_register_with_sandbox(account_id=obj.pk))

    def has_sync_templates_permission(self, request):
        return request.user.has_perm(SYNC_PERMISSION)

    @admin.action(description=_("Sync message templates from WeChat"), permissions=["sync_templates"])
    def sync_message_templates(self, request, queryset):
        templates_sync_for_operator(request, syncable_accounts().filter(pk__in=queryset.values("pk")))


# Each feature registers its models in its own admin module.
from messaging.callbacks import admin as callbacks_admin  # noqa: E402,F401
from messaging.channels import admin as channels_admin  # noqa: E402,F401
from messaging.content import admin as content_admin  # noqa: E402,F401
from messaging.inbox import admin as inbox_admin  # noqa: E402,F401
