"""The template library in the console: a read-only list (what WeChat lists for each account) and
"Sync now from WeChat". A sync that WeChat refuses shows the operator what the errcode means."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from accounts.models import AccountKind, ChannelAccount
from audit.admin import RecordAdmin
from messaging.template_library.models import MessageTemplate
from messaging.template_library.parsing import RULES
from messaging.template_library.services import TemplateSyncResult, message_templates_sync
from scrm.errors import ApplicationError

SYNC_PERMISSION = "messaging.change_messagetemplate"


def syncable_accounts():
    return ChannelAccount.objects.filter(is_active=True, kind__in=[AccountKind.OA, AccountKind.MINIPROGRAM]).order_by("name")


def templates_sync_for_operator(request: HttpRequest, accounts) -> int:
    """Sync each account, telling the operator the outcome of each; returns how many succeeded."""
    done = 0
    for account in accounts:
        try:
            result = message_templates_sync(account)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            continue
        done += 1
        messages.success(request, sync_summary(account, result))
    return done


def sync_summary(account: ChannelAccount, result: TemplateSyncResult) -> str:
    text = gettext("%(account)s: %(added)d added, %(updated)d updated, %(removed)d removed, %(unchanged)d unchanged.") % {
        "account": account.name, "added": result.added, "updated": result.updated,
        "removed": result.removed, "unchanged": result.unchanged,
    }
    if "subscribe" in result.skipped:
        text += " " + gettext("Subscribe messages are not enabled for this account (errcode 48001); they were left as they were.")
    if "template" in result.skipped:
        text += " " + gettext("Template messages are not enabled for this account (errcode 48001); they were left as they were.")
    return text


class SyncDialogForm(BaseDialogForm):
    account = forms.ModelChoiceField(
        label=_("Account"), queryset=ChannelAccount.objects.none(), required=False,
        empty_label=_("All service accounts and mini-programs"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = syncable_accounts()


class AccountFilter(admin.RelatedFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model field has no verbose name of its own (no migration just for a label).
        self.title = _("account")


def _rule_text(rule: str) -> str:
    spec = RULES.get(rule)
    if spec is None:
        return gettext("any text")
    if spec["max_length"]:
        return gettext("%(hint)s, at most %(count)d characters") % {"hint": spec["hint"], "count": spec["max_length"]}
    return str(spec["hint"])


@admin.register(MessageTemplate)
class MessageTemplateAdmin(RecordAdmin):
    list_display = ["title", "account_display", "kind", "template_id", "keys_display", "status_display", "synced_at"]
    list_filter = [("account", AccountFilter), "kind", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "=template_id"]
    list_select_related = ["account"]
    ordering = ["account", "kind", "title"]
    readonly_fields = [
        "account_display", "kind", "template_id", "title", "content_display", "example_display", "keys_table",
        "primary_industry", "deputy_industry", "synced_at", "removed_at",
    ]
    fields = readonly_fields
    actions = ["sync_selected"]
    actions_list = ["sync_from_wechat"]

    @admin.display(description=_("account"), ordering="account__name")
    def account_display(self, obj: MessageTemplate) -> str:
        return str(obj.account)

    @admin.display(description=_("content"))
    def content_display(self, obj: MessageTemplate) -> str:
        return linebreaksbr(obj.content) or "—"

    @admin.display(description=_("example"))
    def example_display(self, obj: MessageTemplate) -> str:
        return linebreaksbr(obj.example) or "—"

    @admin.display(description=_("keys"))
    def keys_display(self, obj: MessageTemplate) -> str:
        return "、".join(k.get("label") or k.get("key", "") for k in obj.keys or []) or "—"

    @admin.display(description=_("keys"))
    def keys_table(self, obj: MessageTemplate) -> str:
        if not obj.keys:
            return "—"
        rows = format_html_join(
            "", "<tr><td class='pr-4'>{}</td><td class='pr-4'><code>{}</code></td><td>{}</td></tr>",
            ((k.get("label") or "—", k.get("key", ""), _rule_text(k.get("rule", ""))) for k in obj.keys),
        )
        header = format_html(
            "<tr><th class='pr-4 text-left'>{}</th><th class='pr-4 text-left'>{}</th><th class='text-left'>{}</th></tr>",
            gettext("label"), gettext("key"), gettext("accepted values"),
        )
        return format_html("<table>{}{}</table>", header, rows)

    @admin.display(description=_("status"))
    def status_display(self, obj: MessageTemplate) -> str:
        return gettext("Deleted on WeChat") if obj.removed_at else gettext("Available")

    def has_sync_permission(self, request, obj=None):
        return request.user.has_perm(SYNC_PERMISSION)

    @admin.action(description=_("Sync the selected templates' accounts from WeChat"), permissions=["sync"])
    def sync_selected(self, request, queryset):
        account_ids = set(queryset.values_list("account_id", flat=True))
        templates_sync_for_operator(request, syncable_accounts().filter(pk__in=account_ids))

    @action(
        description=_("Sync now from WeChat"), icon="sync", permissions=["sync"], url_path="sync-from-wechat",
        dialog={
            "title": _("Sync the template library from WeChat"),
            "description": _("Reads the templates WeChat lists for the account (template messages and subscribe messages) and updates this list. Templates deleted on WeChat are marked deleted."),
            "form_class": SyncDialogForm,
            "form_submit_text": _("Sync now"),
        },
    )
    def sync_from_wechat(self, request: HttpRequest, form: SyncDialogForm) -> HttpResponse:
        chosen = form.cleaned_data.get("account")
        accounts = [chosen] if chosen is not None else list(syncable_accounts())
        if not accounts:
            messages.warning(request, gettext("There is no active service account or mini-program to sync."))
        templates_sync_for_operator(request, accounts)
        target = reverse("admin:messaging_messagetemplate_changelist")
        if chosen is not None:
            target += f"?account__id__exact={chosen.pk}"
        if request.headers.get("HX-Request"):
            # The dialog posts with htmx: have the browser load the list (and its messages) again.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)

