from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from messaging.callbacks import selectors, services
from messaging.callbacks.models import AutoReplyRule, InboundMessage


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(ModelAdmin):
    list_display = ["keyword", "match", "account", "hand_over", "priority", "is_active", "updated_at"]
    list_filter = ["account", "match", "hand_over", "is_active"]
    search_fields = ["keyword", "reply_text"]
    ordering = ["account", "priority", "id"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # This process sees the change at once; other web processes within CALLBACK_ACCOUNT_CACHE_SECONDS.
        selectors.account_cache_clear()


@admin.register(InboundMessage)
class InboundMessageAdmin(ModelAdmin):
    list_display = ["id", "account", "msg_type", "event", "state", "attempts", "received_at", "processed_at"]
    list_filter = ["state", "msg_type", "account"]
    search_fields = ["dedupe_key", "from_user"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundMessage._meta.fields]
    actions = ["requeue"]

    @admin.action(description=_("Process the selected failed messages again"), permissions=["view"])
    def requeue(self, request, queryset):
        count = services.inbound_requeue_failed(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(count)d messages handed over for processing.") % {"count": count})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
