"""The wizard's previews: the message rendered for a sample customer, and the contact-policy funnel.

Reads only. The policy preview plans the campaign inside a transaction that is rolled back, so a
draft that was never saved gets its funnel too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from campaigns.models import Campaign, MessageType, SuppressionReason
from campaigns.rendering import MessageRenderer, variant_content
from campaigns.services import campaign_preview
from campaigns.variants.selectors import TITLE_PREVIEW_CHARS, variant_label, variant_title
from campaigns.wizard.checks import links_check, title_preview
from campaigns.wizard.content import TEMPLATE_TYPES, VALUE_LIMITS, key_rule
from customers.models import Customer
from customers.segments.models import Segment
from customers.segments.selectors import segment_customer_queryset
from scrm.errors import ApplicationError


class _PreviewRenderer(MessageRenderer):
    """Renders like dispatch, but leaves links as written: a preview must not create tracked links."""

    def link(self, url: str, row: Any) -> str:
        return url


@dataclass
class _Row:
    id: int
    customer_id: int
    customer: Any


class _ExampleCustomer:
    """Who the preview is rendered for when the campaign has no audience yet."""

    pk = 0
    city = "上海"
    province = "上海"
    country = "中国"
    gender = 1

    def __init__(self) -> None:
        self.display_name = gettext("Zhang San")


def sample_customer(*, segment: Segment | None, customer_id: int | None) -> Customer | _ExampleCustomer:
    """The chosen member of the segment, else its newest member, else an example customer."""
    if segment is None:
        return _ExampleCustomer()
    members = segment_customer_queryset(segment)
    chosen = members.filter(pk=customer_id).first() if customer_id else None
    return chosen or members.order_by("-pk").first() or _ExampleCustomer()


def content_preview(*, campaign: Campaign, customer: Any, template=None) -> dict[str, Any]:
    """The message as `customer` would read it: labelled parts, the title preview and the link check."""
    renderer = _PreviewRenderer(campaign)
    row = _Row(id=0, customer_id=getattr(customer, "pk", 0) or 0, customer=customer)
    content = campaign.content or {}
    mtype = campaign.message_type
    parts: list[dict[str, Any]] = []
    warnings: list[str] = []
    if mtype in TEMPLATE_TYPES:
        payload = renderer.payload(row)
        labels = {k["key"]: k for k in (template.keys if template else []) or []}
        for key, item in payload.get("data", {}).items():
            value = item.get("value", "")
            parts.append({"label": (labels.get(key) or {}).get("label") or key, "key": key, "value": value})
            limit = VALUE_LIMITS.get(key_rule(labels.get(key) or {"key": key}))
            if mtype != MessageType.TEMPLATE and limit and len(value) > limit:
                warnings.append(gettext("“%(key)s” has %(n)d characters; WeChat allows %(limit)d for this key.") % {"key": key, "n": len(value), "limit": limit})
        first_line = parts[0]["value"] if parts else ""
    elif mtype == MessageType.MASS and (content.get("msgtype") or "text") != "text":
        payload = renderer.batch_payload(staff="")
        body = payload.get(payload["msgtype"]) or payload.get("images") or {}
        named = body.get("media_id") or ", ".join(body.get("media_ids") or []) or body.get("card_id") or ""
        parts.append({"label": gettext("Mass message type"), "key": "msgtype", "value": payload["msgtype"]})
        parts.append({"label": gettext("media ID"), "key": "media_id", "value": named})
        first_line = str(content.get("title") or "")
    elif mtype in (MessageType.MASS, MessageType.WECOM_GROUP):
        payload = renderer.batch_payload(staff="")
        text = payload["text"]["content"]
        parts.append({"label": gettext("Text"), "key": "text", "value": text})
        for item in payload.get("attachments") or []:
            body = item.get(item.get("msgtype"), {}) if isinstance(item, dict) else {}
            value = " ".join(str(v) for v in (body.get("title"), body.get("url") or body.get("pic_url")) if v)
            parts.append({"label": gettext("Attachment"), "key": "attachment", "value": value})
        first_line = text.split("\n", 1)[0]
    elif mtype == MessageType.CUSTOMER_SERVICE:
        payload = renderer.payload(row)
        text = payload["text"]["content"]
        parts.append({"label": gettext("Text"), "key": "text", "value": text})
        first_line = text.split("\n", 1)[0]
    else:
        title = renderer.text(content.get("title", ""), row, links=False)
        body = renderer.text(content.get("body", ""), row)
        payload = {"title": title, "body": body, "url": content.get("url", ""), "mp_page": content.get("mp_page", "")}
        parts += [{"label": gettext("Title"), "key": "title", "value": title}, {"label": gettext("Body"), "key": "body", "value": body}]
        first_line = title
    return {
        "customer": {"id": getattr(customer, "pk", 0) or None, "name": getattr(customer, "display_name", "") or ""},
        "parts": parts,
        "payload": payload,
        "title": title_preview(message_type=mtype, content=content, rendered_first_line=first_line, template_title=template.title if template else ""),
        "links": links_check(content),
        "warnings": warnings,
        "variants": variant_previews(content),
    }


def variant_previews(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Each variant's first 16 characters, as the chat list would show them."""
    out = []
    for index, _variant in enumerate(content.get("variants") or []):
        title = variant_title(variant_content(content, index))
        out.append({"label": variant_label(index), "preview": title[:TITLE_PREVIEW_CHARS], "truncated": len(title) > TITLE_PREVIEW_CHARS})
    return out


class _Rollback(Exception):
    pass


def policy_preview(*, save) -> dict[str, Any]:
    """Predicted reach and the suppression funnel of the campaign `save()` writes (then rolled back)."""
    started = time.perf_counter()
    holder: dict[str, Any] = {}
    try:
        with transaction.atomic():
            campaign = save()
            holder["result"] = campaign_preview(campaign=campaign)
            raise _Rollback
    except _Rollback:
        pass
    result = holder["result"]
    labels = dict(SuppressionReason.choices)
    suppressed = [{**row, "label": str(labels.get(row["reason"], row["reason"]))} for row in result["suppressed"] if row["reason"] != "holdout"]
    reach = result["predicted_reach"]
    warning = ""
    if reach == 0:
        top = max(suppressed, key=lambda r: r["count"], default=None)
        warning = (
            gettext("Nobody would receive this campaign: all %(n)d customers of the audience are left out, most for “%(reason)s”.")
            % {"n": result["audience"], "reason": top["label"]}
            if top
            else gettext("Nobody would receive this campaign: the audience is empty.")
        )
    return {
        "audience": result["audience"],
        "suppressed": suppressed,
        "held_out": result["held_out"],
        "predicted_reach": reach,
        "zero_reach": reach == 0,
        "warning": warning,
        "duration_ms": round((time.perf_counter() - started) * 1000),
    }


def preview_error(exc: ApplicationError) -> dict[str, Any]:
    return {"message": str(exc.message), "code": exc.code}
