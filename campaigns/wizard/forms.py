"""The campaign wizard's form: account by name, message type, a content editor per type, audience
by segment, topics and schedule — no ids and no JSON to type. It builds the same `content` JSON the
API takes and checks it with campaigns.validation, reporting problems as form errors."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelect2MultipleWidget,
    UnfoldAdminSelect2Widget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from accounts.models import ChannelAccount
from campaigns.models import Campaign, CampaignState, MessageType, PriorityClass, WeComSenderRule
from campaigns.validation import ACCOUNT_KINDS, campaign_validate
from campaigns.wizard.content import (
    ATTACHMENT_KINDS,
    KEY_PREFIX,
    LIBRARY_KIND,
    TEMPLATE_TYPES,
    TEXT_TYPES,
    TYPE_RULES,
    attachment_rows,
    attachments_from_post,
    content_build,
    content_initial,
    variant_blocks,
)
from campaigns.wizard.groups import GroupAudienceFields, group_audience_clean, group_audience_initial
from customers.models import Tag
from customers.segments.models import Segment
from messaging.content.models import Article, Material
from messaging.template_library.models import MessageTemplate
from scrm.errors import ApplicationError

EDITABLE_STATES = {CampaignState.DRAFT, CampaignState.PENDING_APPROVAL}


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ChannelAccount) -> str:
        return f"{obj.name} · {obj.get_kind_display()}"


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        return f"{obj.name} · {obj.get_kind_display()}"


class TopicChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Tag) -> str:
        return f"{obj.group.name} · {obj.name}" if obj.group_id else obj.name


class OptionDataSelect(UnfoldAdminSelectWidget):
    """A select whose options carry data attributes (an account's kind, a template's keys) for the editor."""

    def __init__(self, *args, option_data=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_data = option_data or (lambda value: {})

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        raw = getattr(value, "value", value)
        if raw not in (None, ""):
            option["attrs"].update(self.option_data(raw))
        return option


class CampaignWizardForm(GroupAudienceFields, forms.ModelForm):
    """Add/change a campaign as an operator: every field labelled, content per message type."""

    account = AccountChoiceField(
        queryset=ChannelAccount.objects.for_choosing(), label=_("Account"), empty_label=_("Choose an account…"),
        help_text=_("The service account, WeCom corp or mini-program the message goes out from."),
    )
    message_type = forms.ChoiceField(
        choices=MessageType.choices, label=_("Message type"), widget=UnfoldAdminRadioSelectWidget,
        help_text=_("Each type has its own platform rules; they are explained beside the choice."),
    )
    priority_class = forms.ChoiceField(
        choices=PriorityClass.choices, label=_("Priority class"), initial=PriorityClass.MARKETING, widget=UnfoldAdminSelectWidget,
        help_text=_("Marketing pushes count toward the daily and weekly caps; transactional ones (service notifications) do not."),
    )
    message_template = forms.ModelChoiceField(
        queryset=MessageTemplate.objects.filter(removed_at__isnull=True).select_related("account").order_by("title"),
        required=False, label=_("Template"), empty_label=_("Choose a template…"),
        help_text=_("From the account's template library, kept in sync with WeChat."),
    )
    text = forms.CharField(
        required=False, label=_("Text"), widget=UnfoldAdminTextareaWidget(attrs={"rows": 5}),
        help_text=_("The first line shows in the chat list; links become tracked short links."),
    )
    url = forms.CharField(required=False, label=_("Link"), max_length=1024, widget=UnfoldAdminTextInputWidget, help_text=_("An https address the message opens."))
    mp_appid = forms.CharField(required=False, label=_("Mini-program app ID"), max_length=64, widget=UnfoldAdminTextInputWidget,
                               help_text=_("Open a mini-program page instead of the link (optional)."))
    mp_pagepath = forms.CharField(required=False, label=_("Mini-program page"), max_length=256, widget=UnfoldAdminTextInputWidget, help_text=_("For example pages/index/index"))
    page = forms.CharField(required=False, label=_("Page opened on tap"), max_length=256, widget=UnfoldAdminTextInputWidget, help_text=_("A mini-program page, for example pages/order/detail"))
    inbox_title = forms.CharField(required=False, label=_("Title"), max_length=128, widget=UnfoldAdminTextInputWidget)
    inbox_body = forms.CharField(required=False, label=_("Body"), widget=UnfoldAdminTextareaWidget(attrs={"rows": 4}))
    mp_page = forms.CharField(required=False, label=_("Mini-program page"), max_length=256, widget=UnfoldAdminTextInputWidget)
    key_words = forms.CharField(
        required=False, label=_("Key words"), max_length=256, widget=UnfoldAdminTextInputWidget,
        help_text=_("Comma-separated words that must show within the first 16 characters of the title."),
    )
    mass_msgtype = forms.ChoiceField(
        required=False, label=_("Mass message type"), initial="text", widget=UnfoldAdminSelectWidget,
        choices=[("text", _("Text")), ("mpnews", _("Article (mpnews)")), ("image", _("Image")), ("voice", _("Voice")),
                 ("mpvideo", _("Video")), ("wxcard", _("Card"))],
        help_text=_("Articles come from the account's drafts; images, voice and video from its material library."),
    )
    mass_article = forms.ModelChoiceField(
        required=False, label=_("Article"), queryset=Article.objects.exclude(media_id="").order_by("-created_at"),
        empty_label=_("Choose an article…"), widget=UnfoldAdminSelectWidget,
    )
    mass_material = forms.ModelChoiceField(
        required=False, label=_("Material"), widget=UnfoldAdminSelectWidget, empty_label=_("Choose a material…"),
        queryset=Material.objects.defer("data").filter(permanent=True, removed_at__isnull=True).exclude(media_id="").order_by("-uploaded_at"),
    )
    mass_card_id = forms.CharField(required=False, label=_("Card ID"), max_length=64, widget=UnfoldAdminTextInputWidget)
    variant_mode = forms.ChoiceField(
        required=False, label=_("Variant test"), widget=UnfoldAdminSelectWidget,
        choices=[("", _("No variant test")), ("split", _("Split the whole audience")), ("cells", _("Test cells first, then the winner to the rest"))],
        help_text=_("Test 2 to 8 versions of the text. Each customer gets one version, always the same one."),
    )
    variant_texts = forms.CharField(
        required=False, label=_("Variants"), widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
        help_text=_("One version per block; separate the blocks with a line of three dashes (---). The first version is A."),
    )
    variant_cell_percent = forms.IntegerField(required=False, min_value=1, max_value=50, initial=10, label=_("Test cell size (% per variant)"))
    variant_wait_hours = forms.FloatField(required=False, min_value=0.1, initial=24, label=_("Wait before choosing (hours)"))
    variant_min_sample = forms.IntegerField(required=False, min_value=1, initial=100, label=_("Minimum messages per variant"),
                                            help_text=_("Below this, or without a significant difference, variant A goes to the rest."))
    segment = SegmentChoiceField(
        queryset=Segment.objects.order_by("name"), label=_("Audience (segment)"), empty_label=_("Choose a segment…"),
        widget=UnfoldAdminSelect2Widget,
        help_text=_("Who receives the campaign; the count is live. The contact policy then leaves some out."),
    )
    topics = TopicChoiceField(
        queryset=Tag.objects.select_related("group").order_by("group__name", "name"), required=False, label=_("Topics"),
        widget=UnfoldAdminSelect2MultipleWidget,
        help_text=_("Customers who opted out of a topic in the preference centre are left out."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name", "account", "message_type", "priority_class", "topics", "scheduled_at", "holdout_percent",
            "send_window_start", "send_window_end", "send_time_optimization", "min_predicted_engagement", "top_percent", "recurrence",
            "wecom_sender_rule",
        ]
        labels = {
            "name": _("Campaign name"),
            "scheduled_at": _("Send at"),
            "holdout_percent": _("Holdout (%)"),
            "min_predicted_engagement": _("Minimum predicted engagement"),
            "top_percent": _("Only the top % by predicted engagement"),
        }
        help_texts = {
            "scheduled_at": _("Leave empty to send as soon as it is scheduled (times are Asia/Shanghai)."),
            "holdout_percent": _("A random share of the audience that receives nothing, to measure lift (0–90)."),
            "send_window_start": _("Daily send window in each customer's local time; empty means any time outside quiet hours."),
            "send_time_optimization": _("Deliver at each customer's best hour inside the window."),
            "recurrence": _("Repeat on a crontab schedule, e.g. “0 10 * * 1” for Mondays 10:00; empty for once."),
            "wecom_sender_rule": _(
                "A customer who is the contact of several staff members gets the message once, through this one. WeCom delivers a task"
                " only through the staff member who last chatted with the customer: with “Owner”, customers who last chatted with"
                " someone else are reported as not sent."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = dict(ChannelAccount.objects.values_list("pk", "kind"))
        self.fields["account"].widget = OptionDataSelect(
            choices=self.fields["account"].choices,
            option_data=lambda pk: {"data-kind": kinds.get(int(pk), "")} if str(pk).isdigit() else {},
        )
        templates = {t.pk: t for t in self.fields["message_template"].queryset}
        self.fields["message_template"].widget = OptionDataSelect(
            choices=self.fields["message_template"].choices,
            option_data=lambda pk: _template_data(templates.get(int(pk))) if str(pk).isdigit() else {},
        )
        if "wecom_sender_rule" in self.fields:  # (absent from a viewer's read-only form)
            self.fields["wecom_sender_rule"].required = False
        self.built_content: dict[str, Any] = {}
        self.chosen_template: MessageTemplate | None = None
        instance = self.instance
        self.fields["segment"].required = False  # unless the audience is a segment (group_audience_clean)
        if instance.pk and not self.is_bound:
            content = instance.content or {}
            self.initial.update(content_initial(content))
            self.initial.update(group_audience_initial(instance))
            self.initial["segment"] = instance.segment_id
            if content.get("template_id"):
                self.initial["message_template"] = (
                    MessageTemplate.objects.filter(account_id=instance.account_id, template_id=content["template_id"])
                    .values_list("pk", flat=True).first()
                )
        if instance.pk and instance.state not in EDITABLE_STATES:
            for field in self.fields.values():
                field.disabled = True
        self.key_values = {k: v for k, v in (self.data if self.is_bound else self.initial).items() if str(k).startswith(KEY_PREFIX)}
        source = self.data if self.is_bound else None
        self.attachments = attachments_from_post(source) if source is not None else (instance.content or {}).get("attachments", [])

    # --- what the template needs -------------------------------------------------------------

    def type_rules(self) -> dict[str, str]:
        return {value: str(text) for value, text in TYPE_RULES.items()}

    def editor_state(self) -> str:
        """The editor's initial state for the page's script (template key values, attachment rows)."""
        return json.dumps(
            {
                "keys": {k[len(KEY_PREFIX):]: v for k, v in self.key_values.items()},
                "attachments": attachment_rows(self.attachments),
                "attachment_kinds": list(ATTACHMENT_KINDS),
                "account_kinds": dict(ACCOUNT_KINDS),
                "library_kinds": {str(k): v for k, v in LIBRARY_KIND.items()},
            },
            ensure_ascii=False,
        )

    # --- cleaning ----------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk and self.instance.state not in EDITABLE_STATES:
            raise forms.ValidationError(
                gettext("A campaign in state “%(state)s” cannot be edited.") % {"state": self.instance.get_state_display()}
            )
        mtype = cleaned.get("message_type")
        account = cleaned.get("account")
        if not mtype or not account:
            return cleaned
        if account.kind != ACCOUNT_KINDS[mtype]:
            self.add_error("message_type", gettext("This message type cannot be sent from a %(kind)s.") % {"kind": account.get_kind_display()})
            return cleaned
        if mtype == MessageType.TEMPLATE:
            cleaned["priority_class"] = PriorityClass.TRANSACTIONAL
        if mtype != MessageType.WECOM_GROUP or not cleaned.get("wecom_sender_rule"):
            # Hidden for other types: a choice left from an earlier type means nothing there.
            cleaned["wecom_sender_rule"] = WeComSenderRule.LAST_INTERACTION
        template = cleaned.get("message_template")
        if mtype in TEMPLATE_TYPES:
            self._clean_template(mtype, account, template)
        attachments = self._attachments() if mtype == MessageType.WECOM_GROUP else []
        data = {**cleaned, **{k: str(v).strip() for k, v in self.key_values.items()}, "attachments": attachments}
        variant_texts = variant_blocks(cleaned.get("variant_texts") or "") if cleaned.get("variant_mode") else []
        if cleaned.get("variant_mode") and not 2 <= len(variant_texts) <= 8:
            self.add_error("variant_texts", gettext("Write 2 to 8 versions, separated by a line of three dashes (---)."))
        media_mass = mtype == MessageType.MASS and (cleaned.get("mass_msgtype") or "text") != "text"
        if mtype in TEXT_TYPES and not media_mass and not variant_texts and not (cleaned.get("text") or "").strip():
            self.add_error("text", gettext("Write the message text."))
        if mtype == MessageType.INBOX and not (cleaned.get("inbox_title") or "").strip():
            self.add_error("inbox_title", gettext("Give the message a title."))
        self.built_content = content_build(message_type=mtype, data=data, template=self.chosen_template)
        group_audience = group_audience_clean(self, cleaned)
        if group_audience is not None:
            self.built_content["group_audience"] = group_audience
        if not self.errors:
            self._validate(cleaned)
        return cleaned

    def _clean_template(self, mtype: str, account: ChannelAccount, template: MessageTemplate | None) -> None:
        if template is None:
            self.add_error("message_template", gettext("Choose a template from the account's library."))
            return
        if template.account_id != account.pk or template.kind != LIBRARY_KIND[mtype]:
            self.add_error("message_template", gettext("This template does not belong to the chosen account and message type."))
            return
        self.chosen_template = template
        missing = [k.get("label") or k["key"] for k in template.keys or [] if not str(self.key_values.get(f"{KEY_PREFIX}{k['key']}", "")).strip()]
        if missing:
            self.add_error("message_template", gettext("Fill in every key of the template: %(keys)s.") % {"keys": ", ".join(missing)})

    def _attachments(self) -> list[dict[str, Any]]:
        # Attachments the editor does not show (mini-program cards set through the API) are kept.
        kept = [a for a in (self.instance.content or {}).get("attachments", []) if a.get("msgtype") not in ATTACHMENT_KINDS]
        edited = attachments_from_post(self.data)
        for item in edited:
            url = (item.get("link") or item.get("image") or {}).get("url") or (item.get("image") or {}).get("pic_url")
            if not url or not str(url).startswith("https://"):
                self.add_error(None, gettext("Every attachment needs an https address."))
                break
        return edited + kept

    def _validate(self, cleaned: dict[str, Any]) -> None:
        """The same checks the API's schedule runs, answered as form errors instead of a JSON detail."""
        segment = cleaned.get("segment")
        campaign = Campaign(
            name=cleaned.get("name") or "", account=cleaned["account"], message_type=cleaned["message_type"],
            priority_class=cleaned.get("priority_class") or PriorityClass.MARKETING, content=self.built_content,
            segment_id=segment.pk if segment else None, send_window_start=cleaned.get("send_window_start"),
            send_window_end=cleaned.get("send_window_end"), min_predicted_engagement=cleaned.get("min_predicted_engagement"),
            top_percent=cleaned.get("top_percent"), recurrence=cleaned.get("recurrence") or "",
            policy_overrides=self.instance.policy_overrides or {},
            wecom_sender_rule=cleaned.get("wecom_sender_rule") or WeComSenderRule.LAST_INTERACTION,
        )
        # Which input a rejected template string came from, so its error shows beside it.
        sources = {str(cleaned.get(name) or ""): name for name in ("text", "inbox_title", "inbox_body")}
        sources.update({str(value): "message_template" for value in (self.built_content.get("fields") or {}).values()})
        try:
            campaign_validate(campaign=campaign)
        except ApplicationError as exc:
            for field, message in validation_messages(exc.detail if isinstance(exc.detail, dict) else {}, exc.message, sources=sources):
                self.add_error(field if field in self.fields else None, message)

    def save(self, commit: bool = True) -> Campaign:
        campaign = super().save(commit=False)
        segment = self.cleaned_data.get("segment")
        campaign.segment_id = segment.pk if segment else None
        campaign.content = self.built_content
        campaign.priority_class = self.cleaned_data.get("priority_class") or campaign.priority_class
        campaign.wecom_sender_rule = self.cleaned_data.get("wecom_sender_rule") or WeComSenderRule.LAST_INTERACTION
        if commit:
            campaign.save()
            self.save_m2m()
        return campaign


def _template_data(template: MessageTemplate | None) -> dict[str, str]:
    if template is None:
        return {}
    return {
        "data-account": str(template.account_id),
        "data-kind": template.kind,
        "data-title": template.title,
        "data-keys": json.dumps(template.keys or [], ensure_ascii=False),
        "data-content": template.content,
    }


def validation_messages(detail: dict[str, Any], fallback: str, *, sources: dict[str, str] | None = None) -> list[tuple[str | None, str]]:
    """campaigns.validation's problems (English, for the API's detail) as translated form errors."""
    fields = {
        "segment": ("segment", gettext("Choose the audience segment.")),
        "priority_class": ("priority_class", gettext("Template messages are for service notifications only: they are sent as transactional.")),
        "url": ("url", gettext("Links must be http(s) addresses.")),
        "miniprogram": ("mp_appid", gettext("A mini-program link needs both the app ID and the page.")),
        "send_window": ("send_window_end", gettext("The send window's start and end must differ.")),
        "targeting": ("top_percent", gettext("Choose a minimum predicted engagement or a top percentage, not both.")),
        "recurrence": ("recurrence", gettext("A crontab needs 5 fields: minute hour day month weekday.")),
        "fields": ("message_template", gettext("The template's keys changed: choose the template again.")),
        "account": ("account", gettext("This message type cannot be sent from this account.")),
        "message_type": ("message_type", gettext("Unknown message type.")),
        "variants": ("variant_texts", gettext("The variant test's settings are invalid: 2 to 8 versions, test cells of 1–50% that leave a rest.")),
        "msgtype": ("mass_msgtype", gettext("Unknown mass message type.")),
        "wecom_sender_rule": ("wecom_sender_rule", gettext("Only WeCom group messages have a sender rule.")),
        "policy_overrides": (None, gettext("The campaign's contact-policy overrides are invalid (edit them through the API).")),
    }
    out: list[tuple[str | None, str]] = []
    for key, problem in detail.items():
        if key in fields:
            out.append(fields[key])
        elif key == "content":
            out.append((None, gettext("Content is missing: %(keys)s.") % {"keys": ", ".join((problem or {}).get("missing", []))}))
        elif key == "templates":
            for item in problem or []:
                reasons = "; ".join(template_problem(p) for p in item.get("problems") or [item.get("error", "")])
                field = (sources or {}).get(item.get("template", ""))
                out.append((field, gettext("“%(text)s” cannot be used: %(reasons)s") % {"text": item.get("template", ""), "reasons": reasons}))
        else:
            out.append((None, f"{key}: {problem}"))
    return out or [(None, fallback)]


def template_problem(problem: str) -> str:
    """One of rendering's problems (English, for the API) in the operator's language."""
    if "one list call" in problem:
        return gettext("this message type carries one text for everyone, so it cannot contain variables")
    for prefix, message in (
        ("unknown variable: ", gettext("unknown variable %(name)s")),
        ("filter not allowed: ", gettext("filter %(name)s is not allowed")),
        ("tag not allowed: ", gettext("tag %(name)s is not allowed")),
    ):
        if problem.startswith(prefix):
            return message % {"name": problem[len(prefix):]}
    return gettext("template syntax error (%(error)s)") % {"error": problem}
