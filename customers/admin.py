"""Django admin for customers, identities, tags and merge history. Phones are masked unless the
operator has `customers.view_personal_data`; search also finds ids and exact phones."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminURLFieldWidget
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.forms import AutocompleteDropdownForm

from audit.admin import ModelAdmin, RecordAdmin, TabularInline
from audit.filters import SelectFilter
from customers.models import (
    ChannelIdentity,
    ConsentCredit,
    Customer,
    CustomerMerge,
    CustomerTag,
    EngagementEvent,
    FollowState,
    Tag,
    TagGroup,
)
from customers.search import customer_search_q
from customers.selectors import event_type_list
from customers.serializers import PERSONAL_DATA_PERMISSION, mask_phone
from customers.services import customer_set_phone
from scrm.pagination import BoundedCountAdminMixin


class FollowStateFilter(SelectFilter):
    title = _("follow state")
    parameter_name = "follow_state"

    def lookups(self, request, model_admin):
        return FollowState.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(pk__in=ChannelIdentity.objects.filter(follow_state=self.value()).values("customer_id"))
        return queryset


class AccountFilter(SelectFilter):
    title = _("channel account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        account_model = ChannelIdentity._meta.get_field("account").related_model
        return account_model.objects.filter_choices()

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(pk__in=ChannelIdentity.objects.filter(account_id=int(self.value())).values("customer_id"))
        return queryset


class GenderFilter(SelectFilter):
    title = _("gender")
    parameter_name = "gender"

    def lookups(self, request, model_admin):
        return Customer._meta.get_field("gender").choices

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(gender=int(value)) if value and value.isdigit() else queryset


class TagFilter(admin.SimpleListFilter):
    """A brand has hundreds of tags: one is chosen by typing (the tag admin's autocomplete), not from a
    list of every tag rendered into every page of the customer list."""

    title = _("tag")
    parameter_name = "tag"
    template = "unfold/filters/filters_field.html"
    form_class = AutocompleteDropdownForm  # unfold's ModelAdmin.media adds the form's scripts

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.request, self.model_admin = request, model_admin

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        value = self.value()
        yield {
            "form": self.form_class(
                request=self.request,
                label=_(" By %(filter_title)s ") % {"filter_title": self.title},
                name=self.parameter_name,
                choices=(),
                field=CustomerTag._meta.get_field("tag"),
                model_admin=self.model_admin,
                data={self.parameter_name: value if value and value.isdigit() else None},
            )
        }

    def fragment_fingerprint(self):
        """What the filter shows (console_fragments): the chosen tag as it is named now."""
        value = self.value()
        if not (value and value.isdigit()):
            return None
        return (value, Tag.objects.filter(pk=int(value)).values_list("name", flat=True).first())

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(pk__in=CustomerTag.objects.filter(tag_id=int(value)).values("customer_id"))
        return queryset


class ChannelIdentityInline(TabularInline):
    model = ChannelIdentity
    extra = 0
    fields = ["account", "kind", "external_id", "unionid", "follow_state", "followed_at", "last_interaction_at", "do_not_disturb"]
    readonly_fields = ["account", "kind", "external_id", "unionid", "follow_state", "followed_at", "last_interaction_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        # Identities come from WeChat (callbacks, sync, import), not from typing.
        return False


class CustomerTagInline(TabularInline):
    model = CustomerTag
    extra = 0
    autocomplete_fields = ["tag"]
    fields = ["tag", "source", "assigned_at"]
    readonly_fields = ["assigned_at"]
    verbose_name = _("tag")
    verbose_name_plural = _("tags")


class CustomerAdminForm(forms.ModelForm):
    phone = forms.CharField(label=_("phone"), required=False, max_length=32)
    # Declared so the scheme is explicit: a generated URL field warns that Django 6 changes its default.
    avatar_url = forms.URLField(
        label=_("avatar URL"), max_length=512, required=False, assume_scheme="https", widget=AdminURLFieldWidget
    )

    class Meta:
        model = Customer
        fields = [
            "display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone",
            "phone", "attributes", "source",
        ]


@admin.register(Customer)
class CustomerAdmin(BoundedCountAdminMixin, ModelAdmin):
    form = CustomerAdminForm
    list_display = ["id", "display_name", "phone_display", "city", "first_seen_at", "last_engaged_at"]
    list_filter = [FollowStateFilter, AccountFilter, TagFilter, GenderFilter]
    list_filter_submit = True  # dropdowns and the tag autocomplete are applied together
    search_fields = ["display_name"]
    search_help_text = _("Name, openid / external_userid, unionid, exact phone or customer id")
    inlines = [ChannelIdentityInline, CustomerTagInline]
    readonly_fields = ["phone_display", "first_seen_at", "last_engaged_at", "created_at", "updated_at", "erased_at"]
    list_per_page = 50

    def _may_view_personal_data(self, request) -> bool:
        return request.user.has_perm(PERSONAL_DATA_PERMISSION)

    def get_fields(self, request, obj=None):
        fields = [
            "display_name",
            "avatar_url",
            "gender",
            "city",
            "province",
            "country",
            "language",
            "timezone",
            "phone" if self._may_view_personal_data(request) else "phone_display",
            "attributes",
            "source",
            "first_seen_at",
            "last_engaged_at",
            "erased_at",
            "created_at",
            "updated_at",
        ]
        return fields

    def get_form(self, request, obj=None, **kwargs):
        kwargs["fields"] = [f for f in self.get_fields(request, obj) if f not in self.get_readonly_fields(request, obj)]
        return super().get_form(request, obj, **kwargs)

    @admin.display(description=_("phone"))
    def phone_display(self, obj: Customer) -> str:
        return mask_phone(obj.phone)

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if self._may_view_personal_data(request):
            display[display.index("phone_display")] = "phone"
        return display

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # An exact identifier is an index probe; only a name is matched by substring (customers.search).
        return queryset.filter(customer_search_q(term)), False

    def save_model(self, request, obj, form, change):
        if "phone" in form.changed_data:
            customer_set_phone(customer=obj, phone=form.cleaned_data["phone"])
        super().save_model(request, obj, form, change)


@admin.register(ChannelIdentity)
class ChannelIdentityAdmin(BoundedCountAdminMixin, ModelAdmin):
    list_display = ["external_id", "kind", "account", "customer", "unionid", "follow_state", "followed_at", "last_interaction_at"]
    list_filter = ["kind", "follow_state", "account", "do_not_disturb"]
    search_fields = ["=external_id", "=unionid"]
    raw_id_fields = ["customer"]
    list_select_related = ["account", "customer"]
    list_per_page = 50
    readonly_fields = ["created_at", "updated_at"]


class TagInline(TabularInline):
    model = Tag
    extra = 1
    fields = ["name", "description"]


@admin.register(TagGroup)
class TagGroupAdmin(ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]
    inlines = [TagInline]


@admin.register(Tag)
class TagAdmin(ModelAdmin):
    list_display = ["name", "group", "description", "created_at"]
    list_filter = ["group"]
    search_fields = ["name", "group__name"]
    list_select_related = ["group"]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(RecordAdmin):
    """The merge history: read-only, it is an audit trail."""

    list_display = ["created_at", "survivor", "merged_customer_id", "reason"]
    search_fields = ["=merged_customer_id", "=survivor__id", "reason"]
    readonly_fields = ["survivor", "merged_customer_id", "merged_snapshot", "moved", "reason", "created_at"]
    list_select_related = ["survivor"]
    date_hierarchy = "created_at"



@admin.register(ConsentCredit)
class ConsentCreditAdmin(ModelAdmin):
    list_display = ["customer", "account", "template_id", "remaining", "updated_at"]
    list_filter = ["account"]
    search_fields = ["=template_id", "=customer__id"]
    raw_id_fields = ["customer"]


class EventTypeFilter(admin.SimpleListFilter):
    # Not a field filter: that one lists the types with a DISTINCT over every stored event.
    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(t, t) for t in event_type_list()]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class OccurredFilter(admin.SimpleListFilter):
    # Instead of a date hierarchy, whose year list is a DISTINCT over every stored event.
    title = _("occurred")
    parameter_name = "occurred_within"
    DAYS = {"1": 1, "7": 7, "30": 30}

    def lookups(self, request, model_admin):
        return [("1", _("Last 24 hours")), ("7", _("Last 7 days")), ("30", _("Last 30 days"))]

    def queryset(self, request, queryset):
        days = self.DAYS.get(self.value() or "")
        return queryset.filter(occurred_at__gte=timezone.now() - timedelta(days=days)) if days else queryset


@admin.register(EngagementEvent)
class EngagementEventAdmin(BoundedCountAdminMixin, ModelAdmin):
    list_display = ["occurred_at", "event_type", "customer", "account", "campaign_id"]
    list_filter = [EventTypeFilter, OccurredFilter, "account"]
    list_select_related = ["customer", "account"]
    search_fields = ["=customer__id", "=event_type"]
    raw_id_fields = ["customer"]
    list_per_page = 50

    def has_change_permission(self, request, obj=None):
        return False


# Each feature registers its models in its own admin module.
from customers.segments import admin as segments_admin  # noqa: E402,F401
