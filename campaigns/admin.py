"""Admin for operators: campaigns with lifecycle actions and live progress, deliveries, the policy."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from campaigns import selectors, services
from campaigns.models import Campaign, ContactPolicy, Delivery, OperatorIdentity, Suppression
from scrm.errors import ApplicationError


def _run(modeladmin, request, queryset, action, label: str) -> None:
    done = 0
    for campaign in queryset:
        try:
            action(campaign)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{campaign}: {exc.message} {exc.detail or ''}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, _("%(label)s: %(n)d campaign(s).") % {"label": label, "n": done}, level=messages.SUCCESS)


@admin.action(description=_("Schedule (validate, then send now or at the scheduled time)"))
def schedule(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_schedule(campaign=c, user=request.user), "Scheduled")


@admin.action(description=_("Approve"), permissions=["approve"])
def approve(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_approve(campaign=c, user=request.user), "Approved")


@admin.action(description=_("Pause"))
def pause(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_pause(campaign=c), "Paused")


@admin.action(description=_("Resume"))
def resume(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_resume(campaign=c), "Resumed")


@admin.action(description=_("Cancel"))
def cancel(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_cancel(campaign=c), "Cancelled")


@admin.action(description=_("Test send to my own identities"))
def test_send(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, lambda c: services.campaign_test_send(campaign=c, user=request.user), "Test sent")


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    list_display = ("name", "account", "message_type", "priority_class", "state", "progress_bar", "scheduled_at", "created_at")
    list_filter = ("state", "message_type", "priority_class", "account")
    search_fields = ("name",)
    filter_horizontal = ("topics",)
    actions = [schedule, approve, pause, resume, cancel, test_send]
    readonly_fields = (
        "state", "progress_detail", "funnel", "parent", "periodic_task", "audience_count", "suppressed_count", "planned_count",
        "planned_at", "sending_started_at", "completed_at", "created_by", "approved_by", "approved_at",
    )
    raw_id_fields = ("account",)

    def has_approve_permission(self, request):
        return request.user.has_perm("campaigns.approve_campaign")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("progress"))
    def progress_bar(self, obj):
        if obj.state in ("draft", "pending_approval", "scheduled"):
            return "—"
        p = selectors.campaign_progress(campaign=obj)
        return format_html("{}% · {}/{} · {}/s", p["percent"], p["done"], p["total"], p["rate_per_second"])

    @admin.display(description=_("progress"))
    def progress_detail(self, obj):
        if not obj.pk:
            return "—"
        p = selectors.campaign_progress(campaign=obj)
        eta = f"{p['eta_seconds']} s" if p["eta_seconds"] is not None else "—"
        counts = ", ".join(f"{k}: {v}" for k, v in p["counts"].items() if v)
        return format_html("{}% done ({}/{}), {} sends/s, ETA {}<br>{}", p["percent"], p["done"], p["total"], p["rate_per_second"], eta, counts)

    @admin.display(description=_("funnel"))
    def funnel(self, obj):
        if not obj.pk:
            return "—"
        s = selectors.campaign_stats(campaign=obj)
        parts = [f"audience {s['audience']}"] + [f"{r['reason']} −{r['count']}" for r in s["suppressed"]]
        parts += [f"held out {s['held_out']}", f"planned {s['planned']}", f"sent {s['sent']}", f"delivered {s['delivered']}",
                  f"failed {s['failed']}", f"clicked {s['clicked']}"]
        if s["failed_by_reason"]:
            parts.append("failed: " + ", ".join(f"{k or '?'} {v}" for k, v in sorted(s["failed_by_reason"].items())))
        for b in s["batch_reports"]:
            parts.append(f"WeChat {b['msgid']}: {b['status']}, total {b['total']}, filtered {b['filtered']}, sent {b['sent']}, errors {b['errors']}")
        return " → ".join(parts)


@admin.register(Delivery)
class DeliveryAdmin(ModelAdmin):
    list_display = ("id", "campaign", "customer", "state", "attempts", "msgid", "error_code", "send_after", "sent_at", "delivered_at")
    list_filter = ("state", "error_code")
    search_fields = ("msgid", "=campaign__id", "=customer__id")
    raw_id_fields = ("campaign", "customer", "identity", "account")
    list_select_related = ("campaign", "customer")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Suppression)
class SuppressionAdmin(ModelAdmin):
    list_display = ("campaign", "customer", "reason", "created_at")
    list_filter = ("reason",)
    raw_id_fields = ("campaign", "customer")

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
