"""Reads for the Customer 360 page: the customer's profile sections from customers (identities,
tags, consent, preferences, engagement) and the labels of what the timeline shows from campaigns
and messaging. Each read is by the customer's id on an index, so the page costs the same at a
million customers."""

from __future__ import annotations

import json
import zoneinfo
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ChannelAccount
from campaigns.models import Campaign, SuppressionReason
from console.customer360.timeline import (
    CLICK_TYPES,
    CONVERSION_TYPES,
    EVENTS,
    FOLLOW_TYPES,
    MESSAGE_TYPES,
    PUSHES,
    Entry,
)
from customers.engagement.selectors import engagement_current_score
from customers.models import (
    ConsentCredit,
    Customer,
    CustomerPreference,
    CustomerTag,
    EngagementProfile,
    Tag,
    TopicSubscription,
)
from customers.segments.builder import EVENT_TYPE_LABELS
from customers.serializers import can_view_personal_data, mask_phone
from customers.wecom.selectors import relations_of_customer
from messaging.callbacks.models import InboundMessage
from messaging.template_library.models import MessageTemplate

TOP_TOPICS = 10


def customer_zone_name(customer: Customer, identities: list) -> str:
    """The customer's own time zone: theirs, else their first account's, else the default."""
    for name in [customer.timezone, *[i.account.timezone for i in identities]]:
        if name:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return settings.DEFAULT_CUSTOMER_TIMEZONE


def customer_profile(*, customer: Customer, user) -> dict[str, Any]:
    """Everything but the timeline, for the page's cards."""
    identities = list(customer.identities.select_related("account").order_by("account__name", "kind"))
    zone_name = customer_zone_name(customer, identities)
    tags = list(
        CustomerTag.objects.filter(customer_id=customer.pk).select_related("tag__group").order_by("tag__group__name", "tag__name")
    )
    credits = list(ConsentCredit.objects.filter(customer_id=customer.pk).select_related("account").order_by("account_id", "template_id"))
    titles = dict(
        MessageTemplate.objects.filter(template_id__in={c.template_id for c in credits}).values_list("template_id", "title")
    ) if credits else {}
    for credit in credits:
        credit.title = titles.get(credit.template_id, "")
    preference = CustomerPreference.objects.filter(customer_id=customer.pk).first()
    topics = list(TopicSubscription.objects.filter(customer_id=customer.pk).select_related("tag__group").order_by("tag__name"))
    return {
        "phone": customer.phone if can_view_personal_data(user) else mask_phone(customer.phone),
        "zone_name": zone_name,
        "local_now": timezone.now().astimezone(zoneinfo.ZoneInfo(zone_name)),
        "attributes": [f"{k}: {v}" for k, v in sorted((customer.attributes or {}).items())],
        "identities": identities,
        "tags": tags,
        "credits": credits,
        "preference": preference,
        "topics": topics,
        "engagement": engagement_profile(customer_id=customer.pk, zone_name=zone_name),
        "wecom_relations": wecom_relations(customer=customer, user=user),
    }


def wecom_relations(*, customer: Customer, user) -> list:
    """The customer's WeCom relationships (one per staff member), remark mobiles masked unless the
    operator may view personal data."""
    relations = list(relations_of_customer(customer_id=customer.pk))
    unmasked = can_view_personal_data(user)
    for relation in relations:
        relation.mobiles_shown = [m if unmasked else mask_phone(m) for m in relation.remark_mobiles or []]
    return relations


def engagement_profile(*, customer_id: int, zone_name: str) -> dict[str, Any] | None:
    """Score (decayed to now), best hour in the customer's zone, topic affinity by tag name, streak,
    and the activity by hour of day as chart data."""
    profile = EngagementProfile.objects.filter(customer_id=customer_id).first()
    if profile is None:
        return None
    affinity = sorted(((float(v), k) for k, v in (profile.topic_affinity or {}).items() if _is_number(v)), reverse=True)[:TOP_TOPICS]
    names = {str(t.pk): str(t) for t in Tag.objects.filter(pk__in=[int(k) for _, k in affinity if k.isdigit()]).select_related("group")}
    weights = profile.hour_of_week if isinstance(profile.hour_of_week, list) and len(profile.hour_of_week) == 168 else []
    by_hour = [round(sum(float(weights[day * 24 + hour]) for day in range(7)), 3) for hour in range(24)] if weights else []
    return {
        "profile": profile,
        "score": round(engagement_current_score(profile), 2),
        "best_hour": profile.best_hour,
        "best_hour_label": f"{profile.best_hour:02d}:00–{(profile.best_hour + 1) % 24:02d}:00" if profile.best_hour is not None else "",
        "zone_name": zone_name,
        "affinity": [{"topic": names.get(k, f"#{k}"), "value": round(v, 2)} for v, k in affinity],
        "streak": profile.ignored_push_streak,
        "hours_chart": json.dumps({
            "labels": [f"{h:02d}" for h in range(24)],
            "datasets": [{"label": _("Activity"), "data": by_hour, "backgroundColor": "var(--color-primary-600)"}],
        }, ensure_ascii=False) if any(by_hour) else "",
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _inbound_id(dedupe_key: str | None) -> int | None:
    # Events of inbound callbacks are keyed "inbound:<InboundMessage id>[:suffix]" (messaging.callbacks.processing).
    if dedupe_key and dedupe_key.startswith("inbound:"):
        head = dedupe_key.split(":")[1]
        if head.isdigit():
            return int(head)
    return None


def timeline_decorate(entries: list[Entry]) -> list[Entry]:
    """Labels and links for a page of entries: kind, title, account and campaign names, the inbound
    message behind a "message in", the suppression reason in the operator's language."""
    accounts = {a.pk: a.name for a in ChannelAccount.objects.only("pk", "name")}
    campaign_ids = {e.row.campaign_id for e in entries if e.source == EVENTS and e.row.campaign_id}
    campaigns = dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name")) if campaign_ids else {}
    inbound_ids = {i for e in entries if e.source == EVENTS and (i := _inbound_id(e.row.dedupe_key))}
    inbound = {m.pk: m for m in InboundMessage.objects.filter(pk__in=inbound_ids).only("pk", "msg_type", "event")} if inbound_ids else {}
    reasons = dict(SuppressionReason.choices)
    for entry in entries:
        row = entry.row
        if entry.source == EVENTS:
            entry.extra.update(_event_labels(row, campaigns, inbound, accounts))
        elif entry.source == PUSHES:
            entry.extra.update({
                "kind": "push",
                "title": _("Push sent") if row.sent_at else _("Push (not sent)"),
                "campaign": row.campaign,
                "state": row.get_state_display(),
                "state_code": row.state,
                "account": accounts.get(row.account_id, ""),
            })
        else:
            entry.extra.update({
                "kind": "suppression",
                "title": _("Left out of a campaign"),
                "campaign": row.campaign,
                "reason": str(reasons.get(row.reason, row.reason)),
                "reason_code": row.reason,
            })
    return entries


def _event_labels(row, campaigns: dict, inbound: dict, accounts: dict) -> dict[str, Any]:
    event_type = row.event_type
    props = row.properties if isinstance(row.properties, dict) else {}
    extra: dict[str, Any] = {
        "account": accounts.get(row.account_id, ""),
        "campaign_id": row.campaign_id,
        "campaign_name": campaigns.get(row.campaign_id, ""),
        "event_type": event_type,
    }
    if event_type in MESSAGE_TYPES:
        message = inbound.get(_inbound_id(row.dedupe_key))
        extra.update({
            "kind": "message_in",
            "title": _("Message received"),
            "detail": props.get("content") or _("(%(type)s message)") % {"type": props.get("msg_type") or "?"},
            "inbound": message,
        })
    elif event_type in CLICK_TYPES:
        extra.update({"kind": "click", "title": _("Clicked a link"), "detail": str(props.get("url") or "")})
    elif event_type in CONVERSION_TYPES:
        detail = ", ".join(f"{k}: {v}" for k, v in list(props.items())[:4] if _is_number(v) or isinstance(v, str))
        extra.update({"kind": "conversion", "title": str(EVENT_TYPE_LABELS.get(event_type, _("Conversion"))), "detail": detail})
    elif event_type in FOLLOW_TYPES:
        extra.update({"kind": "follow", "title": str(EVENT_TYPE_LABELS[event_type]),
                      "detail": str(props.get("scene") or props.get("state") or "")})
    else:
        extra.update({"kind": "event", "title": str(EVENT_TYPE_LABELS.get(event_type, event_type)), "detail": ""})
    return extra
