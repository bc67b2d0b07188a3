"""Console pages of the channels feature: the WeCom welcome messages sent (read-only record)."""

from django.contrib import admin

from audit.admin import ModelAdmin
from messaging.channels.models import WelcomeMessage


@admin.register(WelcomeMessage)
class WelcomeMessageAdmin(ModelAdmin):
    list_display = ["id", "account", "channel_code", "staff_userid", "external_userid", "state", "error_code", "attempts",
                    "event_received_at", "sent_at"]
    list_filter = ["state", "account"]
    search_fields = ["external_userid", "staff_userid"]
    date_hierarchy = "event_received_at"
    readonly_fields = [f.name for f in WelcomeMessage._meta.fields if f.name != "welcome_code"]
    exclude = ["welcome_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "channel_code")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
