"""Console pages of the channels feature, read-only records: WeCom hand-overs (started through the
API or the console's form, messaging/channels/handover_console.py, which audit them), the corp's
staff directory (written by the sync and change_contact events), customer groups (sync and
change_external_chat), the welcome messages sent and the customer moments (made through the API or
the console's form, messaging/channels/moment_console.py, which audit them; polled from WeCom)."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from audit.admin import RecordAdmin
from customers.wecom.models import WeComGroupChat, WeComGroupMember, WeComStaff
from customers.wecom.selectors import group_daily_stats, group_member_counts, groups_list
from messaging.channels.handover_console import handover_start_view
from messaging.channels.models import GroupWelcomeTemplate, WeComHandover, WeComHandoverItem, WelcomeMessage
from messaging.channels.moment_console import moment_create_view
from messaging.channels.moment_models import WeComMoment


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


class GroupMemberInline(admin.TabularInline):
    model = WeComGroupMember
    fields = ["member_id", "member_type", "customer", "join_time", "join_scene", "left_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer").order_by("-left_at", "join_time")


@admin.register(WeComGroupChat)
class WeComGroupChatAdmin(RecordAdmin):
    list_display = ["name_or_id", "account", "owner_display", "member_count", "status", "created_at_wecom", "dismissed_at", "synced_at"]
    list_filter = ["account", ("dismissed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=chat_id", "=owner_userid"]
    readonly_fields = ["account", "chat_id", "name", "owner_display", "notice", "status", "member_count", "member_summary",
                       "created_at_wecom", "dismissed_at", "synced_at", "joins_and_leaves"]
    exclude = ["owner_userid"]
    inlines = [GroupMemberInline]

    def get_queryset(self, request):
        return groups_list(include_dismissed=True).select_related("account")

    @admin.display(description=_("name"), ordering="name")
    def name_or_id(self, obj) -> str:
        return obj.name or obj.chat_id

    @admin.display(description=_("owner"), ordering="owner_userid")
    def owner_display(self, obj) -> str:
        name = getattr(obj, "owner_name", None)
        return f"{name} ({obj.owner_userid})" if name else obj.owner_userid

    @admin.display(description=_("present members"))
    def member_summary(self, obj) -> str:
        counts = group_member_counts(group_id=obj.pk)
        return _("%(staff)d staff, %(external)d external contacts (%(linked)d linked to customers)") % counts

    @admin.display(description=_("joins and leaves per day (last 30 days)"))
    def joins_and_leaves(self, obj) -> str:
        days = group_daily_stats(group_id=obj.pk, days=30)
        if not days:
            return _("No joins or leaves in the last 30 days")
        top = max(max(d["joins"], d["leaves"]) for d in days) or 1
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td><span style='display:inline-block;height:8px;width:{}px;background:#16a34a'></span></td>"
            "<td>{}</td><td><span style='display:inline-block;height:8px;width:{}px;background:#dc2626'></span></td></tr>",
            ((d["day"].isoformat(), d["joins"], round(120 * d["joins"] / top), d["leaves"], round(120 * d["leaves"] / top)) for d in days),
        )
        return format_html("<table><thead><tr><th>{}</th><th colspan='2'>{}</th><th colspan='2'>{}</th></tr></thead><tbody>{}</tbody></table>",
                           _("day"), _("joins"), _("leaves"), rows)


@admin.register(GroupWelcomeTemplate)
class GroupWelcomeTemplateAdmin(RecordAdmin):
    """Written through the API (which keeps WeCom's library the same); read here."""

    list_display = ["name", "account", "template_id", "notify", "created_at", "updated_at"]
    list_filter = ["account"]
    search_fields = ["name", "text", "=template_id"]
    readonly_fields = ["account", "name", "text", "attachment", "notify", "template_id", "created_by", "created_at", "updated_at"]


@admin.register(WeComMoment)
class WeComMomentAdmin(RecordAdmin):
    list_display = ["id", "account", "short_text", "state", "comments", "likes", "created_at", "last_polled_at"]
    list_filter = ["state", "account"]
    search_fields = ["text", "moment_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["account", "text", "attachments", "sender_userids", "tag_ids", "state", "moment_id", "errcode", "error",
                       "invalid_senders", "invalid_tags", "publishers", "comments", "likes", "created_by", "created_at",
                       "submitted_at", "last_polled_at"]
    exclude = ["jobid", "remote_tag_ids", "idempotency_key"]

    # Created through the console's own form (or the API); the rows stay read-only.
    def has_add_permission(self, request):
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def add_view(self, request, form_url="", extra_context=None):
        return moment_create_view(self, request)

    @admin.display(description=_("text"))
    def short_text(self, obj) -> str:
        return (obj.text[:40] + "…") if len(obj.text) > 40 else obj.text
