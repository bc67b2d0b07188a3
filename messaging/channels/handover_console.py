"""The console's form to start a WeCom hand-over (消息通道 → 企业微信客户转接 → 新增): the same
service as `POST /api/v1/wecom/handovers/` (messaging.channels.handover.handover_create), which
checks the directory and the relationships and writes the audit entry."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountKind, ChannelAccount
from customers.segments.models import Segment
from customers.wecom.models import WeComStaff
from messaging.channels.handover import NOTICE_MAX, handover_create, handover_segment_customers
from messaging.channels.models import HandoverKind
from scrm.errors import ApplicationError

MAX_PASTED = 100_000
_SEPARATORS = re.compile(r"[\s,;，；]+")


class CustomerChoice:
    ALL = "all"
    SEGMENT = "segment"
    LIST = "list"
    CHOICES = [
        (ALL, _("All their active customers")),
        (SEGMENT, _("Their customers in a segment")),
        (LIST, _("A pasted list of external_userids")),
    ]


class HandoverStartForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ChannelAccount.objects.for_choosing().filter(kind=AccountKind.WECOM), label=_("WeCom corp"),
        empty_label=_("Choose a corp…"),
    )
    kind = forms.ChoiceField(
        label=_("Hand-over kind"), choices=HandoverKind.choices, initial=HandoverKind.ON_JOB, widget=forms.RadioSelect,
        help_text=_("A serving staff member's customers (在职继承) get the notice below and may refuse within 24 hours; a departed staff member's (离职继承) get no notice."),
    )
    handover_userid = forms.CharField(label=_("From staff member (userid)"), max_length=64)
    takeover_userid = forms.CharField(label=_("To staff member (userid)"), max_length=64)
    customers = forms.ChoiceField(label=_("Which customers"), choices=CustomerChoice.CHOICES, initial=CustomerChoice.ALL, widget=forms.RadioSelect)
    segment = forms.ModelChoiceField(queryset=Segment.objects.order_by("name"), required=False, label=_("Segment"))
    external_userids = forms.CharField(
        label=_("external_userids"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One per line (commas or spaces also separate them)."),
    )
    transfer_message = forms.CharField(
        label=_("Notice to the customer"), required=False, max_length=NOTICE_MAX, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("At most 200 characters; WeCom's default notice when empty. Serving staff members only."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        account = cleaned.get("account")
        handover, takeover = cleaned.get("handover_userid", "").strip(), cleaned.get("takeover_userid", "").strip()
        cleaned["handover_userid"], cleaned["takeover_userid"] = handover, takeover
        if handover and takeover and handover == takeover:
            self.add_error("takeover_userid", gettext("Choose a different staff member to take the customers over."))
        if account is not None and takeover:
            directory = WeComStaff.objects.filter(account=account)
            if directory.exists() and not directory.filter(userid=takeover).exists():
                self.add_error("takeover_userid", gettext("%(userid)s is not in the corp's staff directory.") % {"userid": takeover})
        if cleaned.get("kind") == HandoverKind.RESIGNED and (cleaned.get("transfer_message") or "").strip():
            self.add_error("transfer_message", gettext("WeCom sends no notice for a departed staff member's customers: leave it empty."))
        choice = cleaned.get("customers")
        if choice == CustomerChoice.SEGMENT and cleaned.get("segment") is None:
            self.add_error("segment", gettext("Choose the segment."))
        if choice == CustomerChoice.LIST:
            pasted = [e for e in _SEPARATORS.split(cleaned.get("external_userids") or "") if e]
            if not pasted:
                self.add_error("external_userids", gettext("Paste at least one external_userid."))
            elif len(pasted) > MAX_PASTED:
                self.add_error("external_userids", gettext("At most %(n)s customers at a time.") % {"n": MAX_PASTED})
            elif any(len(e) > 128 for e in pasted):
                self.add_error("external_userids", gettext("An external_userid has at most 128 characters."))
            cleaned["pasted"] = list(dict.fromkeys(pasted))
        return cleaned

    def chosen_customers(self) -> list[str] | None:
        """The external_userids to hand over; None: all the handover staff member's active customers."""
        data = self.cleaned_data
        if data["customers"] == CustomerChoice.LIST:
            return data["pasted"]
        if data["customers"] == CustomerChoice.SEGMENT:
            return handover_segment_customers(account=data["account"], handover_userid=data["handover_userid"], segment=data["segment"])
        return None


def _error_text(exc: ApplicationError) -> str:
    unknown = (exc.detail or {}).get("external_userids") if isinstance(exc.detail, dict) else None
    if unknown:
        return f"{exc.message} {', '.join(unknown[:20])}{' …' if len(unknown) > 20 else ''}"
    return exc.message


def handover_start_view(model_admin, request):
    """GET the form; POST starts the hand-over and opens its page (submission follows on commit)."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = HandoverStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = form.chosen_customers()
        if data["customers"] == CustomerChoice.SEGMENT and not chosen:
            form.add_error("segment", gettext("No customer of this segment is an active contact of %(userid)s.") % {"userid": data["handover_userid"]})
        else:
            try:
                handover = handover_create(
                    account=data["account"], handover_userid=data["handover_userid"], takeover_userid=data["takeover_userid"],
                    external_userids=chosen, transfer_message=(data.get("transfer_message") or "").strip(),
                    kind=data["kind"], user=request.user, ip=request.META.get("REMOTE_ADDR"),
                )
            except ApplicationError as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, gettext("Hand-over of %(n)s customers from %(from)s to %(to)s started.") % {
                    "n": handover.items.count(), "from": handover.handover_userid, "to": handover.takeover_userid})
                return HttpResponseRedirect(reverse("admin:messaging_wecomhandover_change", args=[handover.pk]))
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request), "opts": opts, "form": form, "title": gettext("Start a WeCom hand-over"),
        "changelist_url": reverse("admin:messaging_wecomhandover_changelist"),
    }
    return TemplateResponse(request, "channels/handover_start.html", context)
