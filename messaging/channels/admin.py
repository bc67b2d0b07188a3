"""Console pages of the channels feature, read-only records: WeCom hand-overs (started through the
API or the console's form, messaging/channels/handover_console.py, which audit them), the corp's staff directory (written by the sync and change_contact events)
and the welcome messages sent."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import RecordAdmin
from customers.wecom.models import WeComStaff
from messaging.channels.handover_console import handover_start_view
from messaging.channels.models import WeComHandover, WeComHandoverItem, WelcomeMessage


class HandoverItemInline(admin.TabularInline):
    model = WeComHandoverItem
    fields = ["external_userid", "state", "errcode", "takeover_at", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = _("customer")
    verbose_name_plural = _("customers")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WeComHandover)
class WeComHandoverAdmin(RecordAdmin):
    list_display = ["id", "account", "kind", "handover_userid", "takeover_userid", "created_at", "finished_at"]
    list_filter = ["kind", "account"]
    search_fields = ["handover_userid", "takeover_userid", "items__external_userid"]
    readonly_fields = ["account", "kind", "handover_userid", "takeover_userid", "transfer_message", "created_by",
                       "created_at", "last_polled_at", "finished_at"]
    inlines = [HandoverItemInline]

    # Started through the console's own form (or the API); the rows stay read-only.
    def has_add_permission(self, request):
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def add_view(self, request, form_url="", extra_context=None):
        return handover_start_view(self, request)


@admin.register(WeComStaff)
class WeComStaffAdmin(RecordAdmin):
    list_display = ["userid", "name", "account", "status", "departed_at", "synced_at"]
    list_filter = ["account", ("departed_at", admin.EmptyFieldListFilter)]
    search_fields = ["userid", "name"]
    readonly_fields = ["account", "userid", "name", "status", "departments", "departed_at", "synced_at"]


@admin.register(WelcomeMessage)
class WelcomeMessageAdmin(RecordAdmin):
    list_display = ["id", "account", "channel_code", "staff_userid", "external_userid", "state", "error_code", "attempts",
                    "event_received_at", "sent_at"]
    list_filter = ["state", "account"]
    search_fields = ["external_userid", "staff_userid"]
    date_hierarchy = "event_received_at"
    readonly_fields = [f.name for f in WelcomeMessage._meta.fields if f.name != "welcome_code"]
    exclude = ["welcome_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "channel_code")
