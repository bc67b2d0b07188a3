"""The segment builder's vocabulary for the console: every condition type, operator and field of the
rule language (customers/segments/language.py) with its operator-facing label, plus the choices the
builder offers (tags, groups, accounts, segments). Labels are translated here, in Python, and handed
to the builder's script as JSON, so the page is in the operator's language without a JS catalogue."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from unfold.widgets import BASE_INPUT_CLASSES, BUTTON_CLASSES, SELECT_CLASSES

from accounts.models import ChannelAccount
from customers.models import Gender, Tag, TagGroup
from customers.segments.language import (
    CHANNEL_OPS,
    CONDITION_KEYS,
    COUNT_OPS,
    ENGAGEMENT_OPS,
    FIELD_OPS,
    FIELD_TYPES,
    PUSH_OPS,
    TAG_OPS,
)
from customers.segments.models import Segment, SegmentCountHistory

# Order in the "add a condition" menu (every type of the language; a test keeps them in step).
CONDITION_TYPES = ["tag", "field", "channel", "engagement", "events", "pushes", "segment"]

TYPE_LABELS = {
    "tag": gettext_lazy("Tags"),
    "field": gettext_lazy("Profile field or attribute"),
    "channel": gettext_lazy("Channels and follow state"),
    "engagement": gettext_lazy("Engagement"),
    "events": gettext_lazy("Events (behaviour)"),
    "pushes": gettext_lazy("Pushes received"),
    "segment": gettext_lazy("Member of another segment"),
}

OP_LABELS = {
    # tag
    "has": gettext_lazy("has the tag"),
    "has_any": gettext_lazy("has any of the tags"),
    "has_all": gettext_lazy("has all of the tags"),
    "has_none": gettext_lazy("has none of the tags"),
    # field
    "eq": gettext_lazy("equals"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "gt": gettext_lazy("greater than"),
    "lt": gettext_lazy("less than"),
    "between": gettext_lazy("between"),
    "contains": gettext_lazy("contains"),
    "exists": gettext_lazy("is filled in"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "within_days": gettext_lazy("within the last N days"),
    # channel
    "follows": gettext_lazy("follows the account"),
    "has_wecom": gettext_lazy("is a WeCom contact"),
    "has_miniprogram": gettext_lazy("uses the mini-program"),
    "has_consent": gettext_lazy("has subscribe-message consent"),
    # events / pushes
    "at_least": gettext_lazy("at least"),
    "at_most": gettext_lazy("at most"),
    "ignored_last": gettext_lazy("ignored the last pushes in a row"),
    # engagement
    "last_engaged_before": gettext_lazy("last engaged before"),
    "last_engaged_after": gettext_lazy("last engaged after"),
    "last_engaged_within_days": gettext_lazy("engaged within the last N days"),
    "score_between": gettext_lazy("engagement score between"),
}

FIELD_LABELS = {
    "display_name": gettext_lazy("Display name"),
    "city": gettext_lazy("City"),
    "province": gettext_lazy("Province"),
    "country": gettext_lazy("Country"),
    "language": gettext_lazy("Language"),
    "source": gettext_lazy("Source channel"),
    "timezone": gettext_lazy("Time zone"),
    "gender": gettext_lazy("Gender"),
    "first_seen_at": gettext_lazy("First seen"),
    "last_engaged_at": gettext_lazy("Last engaged"),
    "created_at": gettext_lazy("Created"),
}

# Event types the engine records (customers' event store), offered in a list; any dotted name may be typed.
EVENT_TYPE_LABELS = {
    "link.click": gettext_lazy("Clicked a tracked link"),
    "conversion": gettext_lazy("Conversion"),
    "mp.purchase": gettext_lazy("Mini-program purchase"),
    "mp.page_view": gettext_lazy("Mini-program page view"),
    "mp.preferences": gettext_lazy("Saved their preference centre"),
    "wechat.message": gettext_lazy("Sent a message to the service account"),
    "wechat.subscribe": gettext_lazy("Followed the service account"),
    "wechat.unsubscribe": gettext_lazy("Unfollowed the service account"),
    "wechat.click": gettext_lazy("Clicked a menu"),
    "wechat.view": gettext_lazy("Opened a menu link"),
    "wechat.scan": gettext_lazy("Scanned a QR code"),
    "wecom.add_contact": gettext_lazy("Added a WeCom staff member"),
    "wecom.del_contact": gettext_lazy("Removed a WeCom staff member"),
    "wecom.add_staff": gettext_lazy("Added another WeCom staff member"),
    "wecom.del_staff": gettext_lazy("Removed one of several WeCom staff members"),
    "wecom.edit_contact": gettext_lazy("Edited by a WeCom staff member (remark, tags)"),
    "wecom.transfer_fail": gettext_lazy("WeCom hand-over failed"),
    "wecom.moment_comment": gettext_lazy("Commented on a WeCom moment"),
    "wecom.moment_like": gettext_lazy("Liked a WeCom moment"),
    "inbox.read": gettext_lazy("Read an inbox message"),
    "push.sent": gettext_lazy("Received a push"),
}

# The rule checker's messages are for integrators (English, with a JSON path); the console shows
# the operator this hint, chosen by the last key of the path, beside the condition.
ERROR_HINTS = {
    "tag": gettext_lazy("Choose a tag."),
    "tags": gettext_lazy("Choose at least one tag."),
    "group": gettext_lazy("Choose a tag group."),
    "field": gettext_lazy("Choose a field; an attribute key is 1-64 letters, digits, '_' or '-'."),
    "op": gettext_lazy("Choose an operator."),
    "value": gettext_lazy("Enter a valid value for this operator."),
    "count": gettext_lazy("Enter a whole number of times."),
    "days": gettext_lazy("Enter a whole number of days between 1 and 3660."),
    "account": gettext_lazy("Choose a channel account."),
    "staff": gettext_lazy("Enter a WeCom staff userid."),
    "template": gettext_lazy("Enter a subscribe-message template id."),
    "event_type": gettext_lazy("Enter an event type such as mp.purchase."),
    "properties": gettext_lazy("Event properties are a JSON object of key/value pairs."),
    "segment": gettext_lazy("Choose another existing segment (no cycles)."),
    "type": gettext_lazy("Unknown condition type."),
}
GENERIC_HINT = gettext_lazy("This part of the rule is not valid.")

UI_LABELS = {
    "all": gettext_lazy("Match ALL of these conditions"),
    "any": gettext_lazy("Match ANY of these conditions"),
    "not": gettext_lazy("Exclude (NOT)"),
    "add_condition": gettext_lazy("+ Add a condition…"),
    "add_group": gettext_lazy("+ Add a group (all / any)"),
    "remove": gettext_lazy("Remove"),
    "empty_all": gettext_lazy("No conditions yet: everyone matches. Add a condition to narrow the audience."),
    "empty_any": gettext_lazy("No conditions yet: no one matches."),
    "by_tags": gettext_lazy("Choose tags"),
    "multi_hint": gettext_lazy("Hold Ctrl (⌘ on a Mac) to choose several"),
    "by_group": gettext_lazy("Any tag of a group"),
    "tag_group": gettext_lazy("Tag group"),
    "attribute_key": gettext_lazy("Attribute key"),
    "custom_attribute": gettext_lazy("Custom attribute…"),
    "value": gettext_lazy("Value"),
    "values_hint": gettext_lazy("Separate values with commas"),
    "low": gettext_lazy("From"),
    "high": gettext_lazy("To"),
    "days": gettext_lazy("days"),
    "times": gettext_lazy("times"),
    "in_last_days": gettext_lazy("in the last (days; empty = ever)"),
    "properties": gettext_lazy("Properties (JSON, optional)"),
    "other_event": gettext_lazy("Other event type…"),
    "event_type": gettext_lazy("Event type"),
    "staff_optional": gettext_lazy("Staff userid (optional)"),
    "template": gettext_lazy("Template id"),
    "any_account": gettext_lazy("Any account"),
    "counting": gettext_lazy("Counting…"),
    "count": gettext_lazy("%(count)s customers match"),
    "took": gettext_lazy("(%(ms)s ms)"),
    "invalid": gettext_lazy("The rule is not complete yet:"),
    "failed": gettext_lazy("The count could not be loaded. Try again."),
    "sample": gettext_lazy("Sample members (newest first)"),
    "no_sample": gettext_lazy("No customer matches yet."),
    "last_engaged": gettext_lazy("last engaged"),
    "never": gettext_lazy("never"),
    "json_invalid": gettext_lazy("The JSON cannot be read; the builder shows the last valid rule."),
    "static_note": gettext_lazy("A static segment lists its members (upload a CSV after saving); it has no rule."),
    "none_available": gettext_lazy("(none available)"),
    "choose": gettext_lazy("Choose…"),
}


def _labels(mapping: dict[str, Any], keys) -> list[dict[str, str]]:
    return [{"value": key, "label": str(mapping.get(key, key))} for key in keys]


def customer_url_template() -> str:
    """The page a sample member links to, with 0 in place of the id (the 360 view when installed)."""
    try:
        return reverse("admin:customers_customer_360", args=[0])
    except NoReverseMatch:
        return reverse("admin:customers_customer_change", args=[0])


def error_hint(path: str) -> str:
    """The operator's hint for a rule error at this JSON path ($.all[0].tag -> "Choose a tag.")."""
    last = path.rsplit(".", 1)[-1].split("[", 1)[0] if "." in path else ""
    return str(ERROR_HINTS.get(last, GENERIC_HINT))


def builder_config(*, preview_url: str, segment_id: int | None, classes: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the builder's script needs, translated into the active language."""
    assert set(CONDITION_TYPES) == set(CONDITION_KEYS)
    ops = {
        "tag": sorted(TAG_OPS, key=["has", "has_any", "has_all", "has_none"].index),
        "channel": sorted(CHANNEL_OPS, key=["follows", "has_wecom", "has_miniprogram", "has_consent"].index),
        "events": sorted(COUNT_OPS),
        "engagement": sorted(
            ENGAGEMENT_OPS,
            key=["last_engaged_within_days", "last_engaged_before", "last_engaged_after", "score_between"].index,
        ),
        "pushes": sorted(PUSH_OPS, key=["at_most", "at_least", "ignored_last"].index),
    }
    op_order = ["eq", "in", "not_in", "contains", "gt", "lt", "between", "before", "after", "within_days", "exists"]
    return {
        "preview_url": preview_url,
        "locale": "en" if get_language().startswith("en") else "zh-CN",
        "time_zone": settings.TIME_ZONE,
        "segment_id": segment_id,
        "customer_url": customer_url_template(),
        "types": _labels(TYPE_LABELS, CONDITION_TYPES),
        "ops": {kind: _labels(OP_LABELS, values) for kind, values in ops.items()},
        "field_ops": {
            ftype: _labels(OP_LABELS, sorted(values, key=op_order.index)) for ftype, values in FIELD_OPS.items()
        },
        "fields": [{"value": name, "label": str(FIELD_LABELS[name]), "type": ftype} for name, ftype in FIELD_TYPES.items()],
        "genders": [{"value": value, "label": str(label)} for value, label in Gender.choices],
        "event_types": _labels(EVENT_TYPE_LABELS, EVENT_TYPE_LABELS),
        "labels": {key: str(value) for key, value in UI_LABELS.items()},
        "hints": {key: str(value) for key, value in ERROR_HINTS.items()},
        "generic_hint": str(GENERIC_HINT),
        "classes": classes or {
            "input": " ".join(c for c in BASE_INPUT_CLASSES if c != "w-full"),
            "select": " ".join(c for c in SELECT_CLASSES if c not in {"w-full", "max-w-2xl"}),
            "button": " ".join(BUTTON_CLASSES),
        },
        "options": {
            "tags": [{"id": t.pk, "label": str(t)} for t in Tag.objects.select_related("group")[:2000]],
            "groups": [{"id": g.pk, "label": g.name} for g in TagGroup.objects.all()[:500]],
            "accounts": [{"id": a.pk, "label": str(a)} for a in ChannelAccount.objects.for_choosing()[:200]],
            "segments": [
                {"id": s.pk, "label": s.name} for s in Segment.objects.exclude(pk=segment_id or 0).only("pk", "name")[:500]
            ],
        },
    }


def count_history_chart(*, segment_id: int, limit: int = 60) -> dict[str, Any] | None:
    """The segment's recent sizes as Chart.js line data (oldest first), or None without history."""
    from django.utils import timezone

    rows = list(
        SegmentCountHistory.objects.filter(segment_id=segment_id).order_by("-counted_at").values("counted_at", "member_count")[:limit]
    )
    if not rows:
        return None
    rows.reverse()
    return {
        "labels": [timezone.localtime(r["counted_at"]).strftime("%m-%d %H:%M") for r in rows],
        "datasets": [
            {
                "label": _("Members"),
                "data": [r["member_count"] for r in rows],
                "borderColor": "var(--color-primary-600)",
                "backgroundColor": "var(--color-primary-600)",
                "tension": 0.2,
            }
        ],
    }
