"""The wizard's content editor ↔ the campaign's `content` JSON (the same shape the API takes).

One function builds `content` from the editor's inputs, one reads inputs back from `content`, so a
campaign created through the API opens in the wizard and a wizard campaign reads like an API one.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from campaigns.models import MessageType

TEMPLATE_TYPES = {MessageType.TEMPLATE, MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE}
TEXT_TYPES = {MessageType.MASS, MessageType.CUSTOMER_SERVICE, MessageType.WECOM_GROUP}
# The template library's kind each template-based message type picks from.
LIBRARY_KIND = {MessageType.TEMPLATE: "template", MessageType.OA_SUBSCRIBE: "subscribe", MessageType.MP_SUBSCRIBE: "subscribe"}
MAX_ATTACHMENTS = 9
KEY_PREFIX = "key__"
ATTACHMENT_KINDS = ("link", "image")

# What the platform allows for each message type (WECHAT.md §3, §6, §11), shown beside the choice.
TYPE_RULES = {
    MessageType.TEMPLATE: _(
        "Service notifications only (orders, bookings, account changes): WeChat forbids marketing in "
        "template messages. At most 100,000 a day per account. Pick a template of the account's library "
        "and fill each of its keys; always sent as transactional."
    ),
    MessageType.MASS: _(
        "The marketing channel of a service account: each follower receives at most 4 mass messages a "
        "month (console and API together); WeChat silently filters the rest. One text for everyone: no "
        "per-customer variables."
    ),
    MessageType.CUSTOMER_SERVICE: _(
        "Only to customers who wrote to the account in the last 48 hours, at most 5 messages in that "
        "window (3 within a minute after a follow, a QR scan or a menu click). Everyone else is left "
        "out as outside the window."
    ),
    MessageType.OA_SUBSCRIBE: _(
        "Needs the customer's consent: each accepted subscription allows exactly one send (a consent "
        "credit). Customers without a credit are left out. Template IDs differ from template-message IDs."
    ),
    MessageType.WECOM_GROUP: _(
        "A group-message task that each customer's staff member confirms in WeCom: a text and up to 9 "
        "attachments. By default a customer receives at most one group message a day. One text for "
        "everyone: no per-customer variables."
    ),
    MessageType.MP_SUBSCRIBE: _(
        "Mini-program subscribe message: needs a consent credit per send, like service-account "
        "subscribe messages. Values are limited by key type (thing ≤ 20 characters, number and "
        "character_string ≤ 32, symbol ≤ 5)."
    ),
    MessageType.INBOX: _(
        "Only into the mini-program's message centre: nothing is pushed, so no platform limit applies; "
        "customers see it the next time they open the mini-program."
    ),
}

# WeChat's per-key value limits for subscribe messages (WECHAT.md §7), by the key's rule prefix.
VALUE_LIMITS = {"thing": 20, "number": 32, "character_string": 32, "letter": 32, "symbol": 5, "phrase": 5, "name": 10}


def key_rule(key: dict[str, Any]) -> str:
    """The key's type prefix: "thing" for thing1, or the library's recorded rule."""
    if key.get("rule"):
        return str(key["rule"])
    name = str(key.get("key", ""))
    return name.rstrip("0123456789")


# The variants editor: one block per variant, blocks separated by a line of three dashes.
VARIANT_SEPARATOR = "---"
VARIANT_TYPES = TEXT_TYPES | {MessageType.INBOX}
MASS_MEDIA_TYPES = ("image", "voice", "mpvideo")


def variant_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if line.strip() == VARIANT_SEPARATOR:
            blocks.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    blocks.append("\n".join(current).strip())
    return [b for b in blocks if b]


def variants_build(*, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """`variants` and `variant_test` of the editor's variant inputs ({} without a test)."""
    mode = data.get("variant_mode") or ""
    if not mode or message_type not in VARIANT_TYPES:
        return {}
    key = "title" if message_type == MessageType.INBOX else "text"
    settings: dict[str, Any] = {"mode": mode}
    if mode == "cells":
        settings.update(
            cell_percent=int(data.get("variant_cell_percent") or 10),
            wait_minutes=int(round(float(data.get("variant_wait_hours") or 24) * 60)),
            min_sample=int(data.get("variant_min_sample") or 100),
        )
    return {"variants": [{key: block} for block in variant_blocks(data.get("variant_texts") or "")], "variant_test": settings}


def mass_build(data: dict[str, Any]) -> dict[str, Any]:
    """A mass send's msgtype and what it names (text needs nothing more than the text)."""
    msgtype = data.get("mass_msgtype") or "text"
    if msgtype == "text":
        return {}
    content: dict[str, Any] = {"msgtype": msgtype}
    if msgtype == "mpnews":
        article = data.get("mass_article")
        content["media_id"] = article.media_id if article else ""
        if article:
            content["title"] = article.title
    elif msgtype == "image":
        material = data.get("mass_material")
        content["media_ids"] = [material.media_id] if material else []
    elif msgtype in MASS_MEDIA_TYPES:
        material = data.get("mass_material")
        content["media_id"] = material.media_id if material else ""
    elif msgtype == "wxcard":
        content["card_id"] = data.get("mass_card_id") or ""
    return content


def content_build(*, message_type: str, data: dict[str, Any], template=None) -> dict[str, Any]:
    """The `content` JSON of the editor's inputs (`data`: cleaned fields plus template key values)."""
    content: dict[str, Any] = {}
    if message_type in TEMPLATE_TYPES:
        if template is not None:
            keys = [k["key"] for k in template.keys or [] if k.get("key")]
            content["template_id"] = template.template_id
            content["template_keys"] = keys
            content["fields"] = {key: data.get(f"{KEY_PREFIX}{key}", "") for key in keys}
        if message_type == MessageType.TEMPLATE and data.get("url"):
            content["url"] = data["url"]
        if message_type in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE) and data.get("page"):
            content["page"] = data["page"]
        if message_type != MessageType.MP_SUBSCRIBE and (data.get("mp_appid") or data.get("mp_pagepath")):
            content["miniprogram"] = {"appid": data.get("mp_appid", ""), "pagepath": data.get("mp_pagepath", "")}
    elif message_type in TEXT_TYPES:
        content["text"] = data.get("text", "")
        if message_type == MessageType.WECOM_GROUP:
            content["attachments"] = data.get("attachments") or []
    elif message_type == MessageType.INBOX:
        content["title"] = data.get("inbox_title", "")
        if data.get("inbox_body"):
            content["body"] = data["inbox_body"]
        if data.get("url"):
            content["url"] = data["url"]
        if data.get("mp_page"):
            content["mp_page"] = data["mp_page"]
    if message_type == MessageType.MASS:
        content.update(mass_build(data))
        if content.get("msgtype") not in (None, "text"):
            content.pop("text", None)
    variants = variants_build(message_type=message_type, data=data)
    if variants:
        content.update(variants)
        first = variants["variants"][0] if variants["variants"] else {}
        content.update(first)  # variant A is also the campaign's own content (test sends, previews)
    if data.get("key_words"):
        content["key_words"] = [w.strip() for w in str(data["key_words"]).replace("，", ",").split(",") if w.strip()]
    return content


def content_initial(content: dict[str, Any]) -> dict[str, Any]:
    """The editor's inputs for an existing `content` (template key values under `key__<key>`)."""
    content = content or {}
    initial: dict[str, Any] = {
        "text": content.get("text", ""),
        "url": content.get("url", ""),
        "page": content.get("page", ""),
        "inbox_title": content.get("title", ""),
        "inbox_body": content.get("body", ""),
        "mp_page": content.get("mp_page", ""),
        "key_words": ", ".join(content.get("key_words") or []),
    }
    variants = content.get("variants") or []
    if variants:
        key = "title" if "title" in variants[0] else "text"
        initial["variant_texts"] = f"\n{VARIANT_SEPARATOR}\n".join(str(v.get(key, "")) for v in variants)
        settings = content.get("variant_test") or {}
        initial["variant_mode"] = settings.get("mode", "split")
        initial["variant_cell_percent"] = settings.get("cell_percent", 10)
        initial["variant_wait_hours"] = round(settings.get("wait_minutes", 24 * 60) / 60, 2)
        initial["variant_min_sample"] = settings.get("min_sample", 100)
    initial["mass_msgtype"] = content.get("msgtype", "text")
    initial["mass_card_id"] = content.get("card_id", "")
    mini = content.get("miniprogram") or {}
    if isinstance(mini, dict):
        initial["mp_appid"] = mini.get("appid", "")
        initial["mp_pagepath"] = mini.get("pagepath", "")
    for key, value in (content.get("fields") or {}).items():
        initial[f"{KEY_PREFIX}{key}"] = value.get("value", "") if isinstance(value, dict) else str(value)
    return initial


def attachments_from_post(data) -> list[dict[str, Any]]:
    """WeCom attachments from the editor's rows (attachment_kind_N, attachment_title_N, attachment_url_N)."""
    out = []
    for index in range(MAX_ATTACHMENTS):
        kind = (data.get(f"attachment_kind_{index}") or "").strip()
        url = (data.get(f"attachment_url_{index}") or "").strip()
        title = (data.get(f"attachment_title_{index}") or "").strip()
        if not url and not title:
            continue
        if kind == "image":
            out.append({"msgtype": "image", "image": {"pic_url": url}})
        else:
            out.append({"msgtype": "link", "link": {"title": title, "url": url}})
    return out


def attachment_rows(attachments: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The editor's rows of stored attachments (link and image; others are kept as they are)."""
    rows = []
    for item in attachments or []:
        if item.get("msgtype") == "image":
            rows.append({"kind": "image", "title": "", "url": (item.get("image") or {}).get("pic_url", "")})
        elif item.get("msgtype") == "link":
            link = item.get("link") or {}
            rows.append({"kind": "link", "title": link.get("title", ""), "url": link.get("url", "")})
    return rows
