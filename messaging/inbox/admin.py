"""Console for the customer-service inbox: the inbox page (list, conversation, reply box, polling the
API), the conversations list with SLA at-risk highlighting, quick replies, operators and settings."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from messaging.inbox.models import Conversation, InboxOperator, InboxSettings, QuickReply
from messaging.inbox.selectors import conversations_sla
from scrm.pagination import BoundedCountAdminMixin


@admin.register(Conversation)
class ConversationAdmin(BoundedCountAdminMixin, ModelAdmin):
    list_display = ("id", "customer_name", "account_name", "state", "assignee", "last_preview", "last_message_at", "sla_badge")
    list_filter = ("state", "account")
    # Not the account or the customer themselves: loading them decrypts their encrypted fields on every row.
    list_select_related = ("assignee",)
    list_per_page = 50
    search_fields = ("last_preview", "customer__display_name")
    readonly_fields = ("account", "customer", "identity", "source", "opened_at", "awaiting_since", "first_response_at", "resolved_at", "last_message_at", "last_preview", "kf_account", "kf_since")
    fields = ("account", "customer", "identity", "state", "assignee", "source", "opened_at", "awaiting_since", "first_response_at", "resolved_at", "last_message_at", "last_preview", "kf_account", "kf_since")
    ordering = ("-last_message_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(account_name=F("account__name"), customer_name=F("customer__display_name"))

    @admin.display(description=_("account"), ordering="account__name")
    def account_name(self, obj):
        return obj.account_name

    @admin.display(description=_("customer"), ordering="customer__display_name")
    def customer_name(self, obj):
        return obj.customer_name or f"#{obj.customer_id}"

    def has_add_permission(self, request):
        return False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._sla = conversations_sla(list(changelist.result_list))
        return changelist

    @admin.display(description=_("SLA"))
    def sla_badge(self, obj):
        sla = getattr(self, "_sla", {}).get(obj.pk)
        if not sla or not sla["timer"]:
            return "—"
        if sla["breached"]:
            return format_html('<span class="text-red-700 font-semibold">{}</span>', _("Overdue"))
        if sla["at_risk"]:
            return format_html('<span class="text-orange-700 font-semibold">{}</span>', _("At risk"))
        return _("On time")

    def get_urls(self):
        urls = [path("inbox/", self.admin_site.admin_view(self.inbox_view), name="messaging_conversation_inbox")]
        return urls + super().get_urls()

    def inbox_view(self, request):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Customer-service inbox"),
            "api_base": "/api/v1/conversations/",
            "can_reply": request.user.has_perm("messaging.reply_conversation"),
            "list_url": reverse("admin:messaging_conversation_changelist"),
        }
        return TemplateResponse(request, "inbox/inbox.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "inbox_url": reverse("admin:messaging_conversation_inbox")}
        return super().changelist_view(request, extra_context)


@admin.register(QuickReply)
class QuickReplyAdmin(ModelAdmin):
    list_display = ("title", "text")
    search_fields = ("title", "text")


@admin.register(InboxOperator)
class InboxOperatorAdmin(ModelAdmin):
    list_display = ("user", "online", "last_assigned_at")
    list_filter = ("online",)
    readonly_fields = ("last_assigned_at",)


@admin.register(InboxSettings)
class InboxSettingsAdmin(ModelAdmin):
    list_display = ("account", "assignment", "opens_at", "closes_at", "first_response_minutes", "next_response_minutes", "resolution_minutes")


# WeChat's own customer-service (kf) accounts.
from messaging.inbox import kf_admin  # noqa: E402,F401
