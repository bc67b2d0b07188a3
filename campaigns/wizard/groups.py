"""The wizard's group audience: a WeCom group message to customer groups rather than a segment —
all groups of chosen owners, chosen groups, or groups whose name contains words (any combination:
a group must match every choice). Saved as content["group_audience"] (campaigns/groups/audience.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminRadioSelectWidget, UnfoldAdminSelect2MultipleWidget, UnfoldAdminTextInputWidget

from campaigns.models import MessageType
from customers.wecom.models import WeComGroupChat, WeComStaff

SEGMENT, GROUPS = "segment", "groups"


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: WeComStaff) -> str:
        return f"{obj.name or obj.userid} ({obj.userid}) · {obj.account}"


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: WeComGroupChat) -> str:
        return f"{obj.name or obj.chat_id} · {obj.member_count} · {obj.account}"


class GroupAudienceFields(forms.Form):
    audience_kind = forms.ChoiceField(
        choices=[(SEGMENT, _("Customers of a segment")), (GROUPS, _("WeCom customer groups"))], initial=SEGMENT, required=False,
        label=_("Send to"), widget=UnfoldAdminRadioSelectWidget,
        help_text=_("Customer groups receive a WeCom group message through each group's owner (one task per owner)."),
    )
    group_owners = StaffChoiceField(
        queryset=WeComStaff.objects.filter(departed_at__isnull=True).select_related("account").order_by("name", "userid"),
        required=False, label=_("All groups of these owners"), widget=UnfoldAdminSelect2MultipleWidget,
    )
    group_chats = GroupChoiceField(
        queryset=WeComGroupChat.objects.filter(dismissed_at__isnull=True).select_related("account").order_by("name", "chat_id"),
        required=False, label=_("These groups"), widget=UnfoldAdminSelect2MultipleWidget,
    )
    group_name_contains = forms.CharField(
        required=False, max_length=128, label=_("Groups whose name contains"), widget=UnfoldAdminTextInputWidget,
        help_text=_("A group must match every choice above. Each group receives at most one group message a day, and WeCom allows as many a month as the month has days."),
    )


def group_audience_initial(instance) -> dict[str, Any]:
    """The wizard's inputs for a saved campaign's group audience."""
    audience = (instance.content or {}).get("group_audience") if instance.pk else None
    if not isinstance(audience, dict):
        return {}
    return {
        "audience_kind": GROUPS,
        "group_owners": list(WeComStaff.objects.filter(account_id=instance.account_id, userid__in=audience.get("owners") or [])),
        "group_chats": list(WeComGroupChat.objects.filter(account_id=instance.account_id, chat_id__in=audience.get("chat_ids") or [])),
        "group_name_contains": audience.get("name_contains", ""),
    }


def group_audience_clean(form, cleaned: dict[str, Any]) -> dict[str, Any] | None:
    """content["group_audience"] from the inputs (None for a segment audience); errors on the form."""
    if cleaned.get("audience_kind") != GROUPS:
        if not cleaned.get("segment") and "segment" not in form.errors:
            form.add_error("segment", form.fields["segment"].error_messages["required"])
        return None
    account = cleaned.get("account")
    if cleaned.get("message_type") != MessageType.WECOM_GROUP:
        form.add_error("audience_kind", gettext("Customer groups receive WeCom group messages only."))
        return None
    owners, chats = list(cleaned.get("group_owners") or []), list(cleaned.get("group_chats") or [])
    name = (cleaned.get("group_name_contains") or "").strip()
    if any(o.account_id != account.pk for o in owners) or any(c.account_id != account.pk for c in chats):
        form.add_error("group_chats", gettext("Choose owners and groups of the chosen WeCom corp."))
    if not owners and not chats and not name:
        form.add_error("group_owners", gettext("Choose owners, groups or a name."))
    audience: dict[str, Any] = {}
    if owners:
        audience["owners"] = [o.userid for o in owners]
    if chats:
        audience["chat_ids"] = [c.chat_id for c in chats]
    if name:
        audience["name_contains"] = name
    return audience
