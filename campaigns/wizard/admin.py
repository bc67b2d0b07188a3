"""CampaignAdmin: the campaign wizard on the admin's add/change pages, the campaign's buttons, and
the progress page (/admin/campaigns/campaign/<id>/progress/)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin import ModelAdmin
from campaigns import selectors, services
from campaigns.models import Campaign, CampaignState, SuppressionReason
from campaigns.rendering import ALLOWED_VARIABLES
from campaigns.wizard import views
from campaigns.wizard.actions import ACTIONS, LOG_MESSAGES, action_allowed, action_run
from campaigns.wizard.forms import EDITABLE_STATES, CampaignWizardForm
from campaigns.wizard.preview import policy_preview
from scrm.errors import ApplicationError

TEMPLATE_TYPES = "['template', 'oa_subscribe', 'mp_subscribe']"
TEXT_TYPES = "['mass', 'customer_service', 'wecom_group']"


class _Titled:
    """A list filter titled in the operator's words (the model field has no translated verbose name)."""

    label = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = self.label


class StateFilter(_Titled, admin.ChoicesFieldListFilter):
    label = _("State")


class PriorityFilter(_Titled, admin.ChoicesFieldListFilter):
    label = _("Priority class")


class AccountFilter(_Titled, admin.RelatedFieldListFilter):
    label = _("Account")


def _bulk_action(name: str):
    """The campaign page's button as a changelist action (several campaigns at once), through the
    same service call and log; a campaign nobody would receive is not scheduled in bulk."""
    button = ACTIONS[name]

    def run(modeladmin, request, queryset):
        done = 0
        can_change = modeladmin.has_change_permission(request)
        for campaign in queryset:
            if not action_allowed(button, campaign=campaign, user=request.user, can_change=can_change):
                messages.error(request, gettext("“%(action)s” is not possible while “%(name)s” is “%(state)s”.") % {
                    "action": button.label, "name": campaign.name, "state": campaign.get_state_display()})
                continue
            before = campaign.state
            try:
                if name == "schedule" and policy_preview(save=lambda c=campaign: c)["zero_reach"]:
                    messages.error(request, gettext("“%(name)s” would reach nobody: schedule it from its page, which asks you to confirm.") % {"name": campaign.name})
                    continue
                action_run(name, campaign=campaign, user=request.user)
            except ApplicationError as exc:
                messages.error(request, f"{campaign.name}: {exc.message}")
                continue
            campaign.refresh_from_db()
            modeladmin.log_change(request, campaign, f"{LOG_MESSAGES[name]}: {before} → {campaign.state}")
            done += 1
        if done:
            messages.success(request, gettext("%(action)s: %(n)d campaign(s).") % {"action": button.label, "n": done})

    run.__name__ = name
    return admin.action(description=button.label, permissions=["approve" if button.permission == "approve" else "change"])(run)


class CampaignAdmin(ModelAdmin):
    form = CampaignWizardForm
    actions = [_bulk_action(name) for name in ACTIONS]
    change_form_template = "campaigns/wizard/change_form.html"
    list_display = ("name", "account_name", "message_type", "state_label", "progress_bar", "scheduled", "created")
    list_filter = (("state", StateFilter), "message_type", ("priority_class", PriorityFilter), ("account", AccountFilter))
    search_fields = ("name",)
    list_select_related = ("account",)
    fieldsets = (
        (_("Basics"), {"fields": ("name", "account", "message_type", "priority_class")}),
        (_("Content"), {"fields": (
            "message_template", "mass_msgtype", "mass_article", "mass_material", "mass_card_id", "text", "inbox_title", "inbox_body",
            "url", "page", "mp_appid", "mp_pagepath", "mp_page", "key_words",
        )}),
        (_("Variant test"), {"fields": (
            "variant_mode", "variant_texts", ("variant_cell_percent", "variant_wait_hours", "variant_min_sample"),
        )}),
        (_("Audience"), {"fields": ("audience_kind", "segment", "group_owners", "group_chats", "group_name_contains", "topics", "wecom_sender_rule")}),
        (_("Schedule and targeting"), {"fields": (
            "scheduled_at", ("send_window_start", "send_window_end"), "send_time_optimization", "holdout_percent",
            ("min_predicted_engagement", "top_percent"), "recurrence",
        )}),
    )
    # The editor shows what the chosen message type uses (unfold's Alpine-bound conditional rows).
    conditional_fields = {
        "priority_class": "message_type != 'template'",
        "message_template": f"{TEMPLATE_TYPES}.includes(message_type)",
        "text": f"{TEXT_TYPES}.includes(message_type)",
        "inbox_title": "message_type == 'inbox'",
        "inbox_body": "message_type == 'inbox'",
        "url": "['template', 'inbox'].includes(message_type)",
        "page": "['oa_subscribe', 'mp_subscribe'].includes(message_type)",
        "mp_appid": "['template', 'oa_subscribe'].includes(message_type)",
        "mp_pagepath": "['template', 'oa_subscribe'].includes(message_type)",
        "mp_page": "message_type == 'inbox'",
        "mass_msgtype": "message_type == 'mass'",
        "wecom_sender_rule": "message_type == 'wecom_group'",
        "mass_article": "message_type == 'mass' && mass_msgtype == 'mpnews'",
        "mass_material": "message_type == 'mass' && ['image', 'voice', 'mpvideo'].includes(mass_msgtype)",
        "mass_card_id": "message_type == 'mass' && mass_msgtype == 'wxcard'",
        "variant_texts": "variant_mode != ''",
        "variant_cell_percent": "variant_mode == 'cells'",
        "variant_wait_hours": "variant_mode == 'cells'",
        "variant_min_sample": "variant_mode == 'cells'",
    }

    def get_queryset(self, request):
        return selectors.campaign_list_with_progress(super().get_queryset(request))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("wizard/preview/", wrap(lambda r: views.preview_view(self, r)), name="campaigns_campaign_wizard_preview"),
            path("wizard/title-prediction/", wrap(lambda r: views.title_prediction_view(self, r)), name="campaigns_campaign_wizard_titles"),
            path("wizard/audience/", wrap(lambda r: views.audience_view(self, r)), name="campaigns_campaign_wizard_audience"),
            path("wizard/policy-preview/", wrap(lambda r: views.policy_preview_view(self, r)), name="campaigns_campaign_wizard_policy"),
            path("<int:object_id>/progress/", wrap(lambda r, object_id: views.progress_view(self, r, object_id)), name="campaigns_campaign_progress"),
            path("<int:object_id>/progress.json", wrap(lambda r, object_id: views.progress_json_view(self, r, object_id)),
                 name="campaigns_campaign_progress_json"),
            path("<int:object_id>/do/<str:action_name>/", wrap(lambda r, object_id, action_name: views.action_view(self, r, object_id, action_name)),
                 name="campaigns_campaign_action"),
        ] + super().get_urls()

    def has_approve_permission(self, request):
        return request.user.has_perm("campaigns.approve_campaign")

    def campaign_buttons(self, request, campaign: Campaign) -> list[dict]:
        can_change = self.has_change_permission(request, campaign)
        return [
            {"name": a.name, "label": a.label, "icon": a.icon, "variant": a.variant,
             "url": reverse("admin:campaigns_campaign_action", args=[campaign.pk, a.name])}
            for a in ACTIONS.values()
            if action_allowed(a, campaign=campaign, user=request.user, can_change=can_change)
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        context.update(
            {
                "wizard_form": form,
                "type_rules": form.type_rules(),
                "editor_state": form.editor_state(),
                "variables": wizard_variables(),
                "buttons": self.campaign_buttons(request, obj) if obj else [],
                "editable": obj is None or obj.state in EDITABLE_STATES,
                "progress_url": reverse("admin:campaigns_campaign_progress", args=[obj.pk]) if obj else "",
                "report_url": reverse("admin-campaign-reports") + f"?campaign={obj.pk}" if obj else "",
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.state not in EDITABLE_STATES:
            # Past approval the content is what was (or is being) sent: shown, not offered for editing.
            extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        # Only what never sent can be deleted (services.campaign_delete); the rest is cancelled.
        if obj is not None and obj.state not in EDITABLE_STATES and not (obj.state == CampaignState.CANCELLED and not obj.planned_at):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            obj.save()
            return
        # An edit goes through the service: it refuses campaigns past approval and withdraws an approval.
        data = {field: getattr(obj, field) for field in services.CAMPAIGN_FIELDS}
        services.campaign_update(campaign=obj, data=data)
        obj.refresh_from_db()

    @admin.display(description=_("Account"), ordering="account__name")
    def account_name(self, obj):
        return obj.account.name

    @admin.display(description=_("State"), ordering="state")
    def state_label(self, obj):
        return obj.get_state_display()

    @admin.display(description=_("Send at"), ordering="scheduled_at")
    def scheduled(self, obj):
        return date_format(timezone.localtime(obj.scheduled_at), "SHORT_DATETIME_FORMAT") if obj.scheduled_at else "—"

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, obj):
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("progress"))
    def progress_bar(self, obj):
        if obj.state in (CampaignState.DRAFT, CampaignState.PENDING_APPROVAL, CampaignState.SCHEDULED) and not obj.planned_at:
            return "—"
        url = reverse("admin:campaigns_campaign_progress", args=[obj.pk])
        if obj.planned_at and not obj.planned_count:
            return format_html('<a href="{}" class="text-red-600 font-medium">{}</a>', url, nobody_reached_text(obj))
        # From the list's annotations (selectors.campaign_list_with_progress): no count per campaign.
        total, sent = obj.planned_count, obj.progress_sent
        percent = round(100.0 * (total - obj.progress_remaining) / total, 1) if total else 0.0
        return format_html(
            '<a href="{}">{}</a>', url, gettext("%(percent)s%% · %(sent)d of %(total)d sent") % {"percent": percent, "sent": sent, "total": total}
        )


def nobody_reached_text(campaign: Campaign) -> str:
    """The list's line for a campaign the contact policy left without recipients."""
    top = (
        campaign.suppressions.values("reason").annotate(n=Count("id")).order_by("-n").values_list("reason", "n").first()
    )
    if not campaign.audience_count:
        return gettext("Nobody reached: the audience was empty")
    label = dict(SuppressionReason.choices).get(top[0], top[0]) if top else ""
    return gettext("Nobody reached: all %(n)d left out (mostly “%(reason)s”)") % {"n": campaign.audience_count, "reason": label}


def wizard_variables() -> list[dict[str, str]]:
    """What an operator can insert into texts (campaigns.rendering.ALLOWED_VARIABLES), labelled."""
    labels = {
        "customer.display_name": _("Customer name"),
        "customer.first_name": _("First name"),
        "customer.city": _("City"),
        "customer.province": _("Province"),
        "customer.country": _("Country"),
        "customer.gender": _("Form of address (先生/女士)"),
        "campaign.name": _("Campaign name"),
    }
    return [
        {"name": name, "slug": name.replace(".", "-"), "label": str(labels.get(name, name)), "code": "{{ " + name + " }}"}
        for name in sorted(ALLOWED_VARIABLES)
    ]

