"""Admin for operators: campaigns (the wizard, in campaigns/wizard/), deliveries, suppressions, the policy."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from campaigns.models import Campaign, ContactPolicy, Delivery, OperatorIdentity, Suppression, SuppressionReason
from campaigns.wizard.admin import CampaignAdmin
from messaging.errors import SendErrorCode
from scrm.pagination import BoundedCountAdminMixin

# The campaign wizard, its buttons and the progress page (campaigns/wizard/).
admin.site.register(Campaign, CampaignAdmin)


class ErrorCodeFilter(admin.SimpleListFilter):
    # Not a field filter: that one lists the codes with a DISTINCT over every delivery.
    title = _("error code")
    parameter_name = "error_code"

    def lookups(self, request, model_admin):
        return [*((code.value, code.label) for code in SendErrorCode), *SuppressionReason.choices]

    def queryset(self, request, queryset):
        return queryset.filter(error_code=self.value()) if self.value() else queryset


@admin.register(Delivery)
class DeliveryAdmin(BoundedCountAdminMixin, ModelAdmin):
    list_display = ("id", "campaign", "customer", "state", "attempts", "msgid", "error_code", "send_after", "sent_at", "delivered_at")
    list_filter = ("state", ErrorCodeFilter)
    # Exact matches only (indexes); a msgid substring would read every delivery.
    search_fields = ("=msgid", "=campaign__id", "=customer__id")
    raw_id_fields = ("campaign", "customer", "identity", "account")
    list_select_related = ("campaign", "customer")
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Suppression)
class SuppressionAdmin(BoundedCountAdminMixin, ModelAdmin):
    list_display = ("campaign", "customer", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("=campaign__id", "=customer__id")
    raw_id_fields = ("campaign", "customer")
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ContactPolicy)
class ContactPolicyAdmin(ModelAdmin):
    list_display = ("__str__", "daily_cap", "weekly_cap", "min_gap_hours", "quiet_start", "quiet_end", "fatigue_ignored_pushes", "fatigue_cooldown_days")

    def has_add_permission(self, request):
        return not ContactPolicy.objects.exists()

    def save_model(self, request, obj, form, change):
        obj.pk = 1  # one global policy
        super().save_model(request, obj, form, change)


@admin.register(OperatorIdentity)
class OperatorIdentityAdmin(ModelAdmin):
    list_display = ("user", "identity")
    raw_id_fields = ("identity",)
