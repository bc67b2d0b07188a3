"""A menu checked against WeChat's limits and the product's routing rules before it is saved.

WeChat's limits (创建自定义菜单, https://developers.weixin.qq.com/doc/service/api/custommenu/api_createcustommenu):
1–3 top items; an item with sub-items has 1–5 of them; a top item's name ≤ 16 bytes, a sub-item's ≤ 60
bytes (UTF-8: a Chinese character is 3 bytes, so 5 and 20 characters); key ≤ 128 bytes; url ≤ 1024
bytes; the item types below with their required fields. Conditional menus (创建个性化菜单,
https://developers.weixin.qq.com/doc/service/api/custommenu/api_addconditionalmenu) link to at most 3
domains across all of them. Every problem names the limit broken; the sandbox enforces the same
limits with WeChat's error codes (messaging/sandbox/handlers/menus.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext

from campaigns.rendering import compile_template
from scrm.errors import ApplicationError

MAX_TOP_ITEMS = 3
MAX_SUB_ITEMS = 5
TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128
URL_BYTES = 1024
CONDITIONAL_DOMAINS = 3
REPLY_TEXT_CHARS = 600
TOPICS_PER_ITEM = 10

KEY_TYPES = ("click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select")
ITEM_TYPES = (*KEY_TYPES, "view", "miniprogram", "media_id", "article_id")
ACTION_TYPES = ("reply_text", "reply_image", "reply_article", "reply_miniprogram", "open_conversation", "tag_customer", "record_topics")
# The fields each action needs, and the field an item type must carry.
_ACTION_FIELDS = {
    "reply_text": ("text",),
    "reply_image": ("media_id",),
    "reply_article": ("title", "url"),
    "reply_miniprogram": ("title", "appid", "pagepath", "thumb_media_id"),
    "open_conversation": (),
    "tag_customer": ("tag_ids",),
    "record_topics": ("topic_ids",),
}
_TYPE_FIELDS = {"view": ("url",), "miniprogram": ("url", "appid", "pagepath"), "media_id": ("media_id",), "article_id": ("article_id",)}


def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, path: str, limit: str, message: str) -> None:
        self.items.append({"path": path, "limit": limit, "message": message})


def _ids(value: Any) -> list[int] | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in value):
        return None
    return value


def _check_action(path: str, action: Any, problems: _Problems) -> None:
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        problems.add(path, "action_type", gettext("Choose what this click does: %(types)s.") % {"types": ", ".join(ACTION_TYPES)})
        return
    kind = action["type"]
    for field in _ACTION_FIELDS[kind]:
        value = action.get(field)
        if field.endswith("_ids"):
            if _ids(value) is None:
                problems.add(f"{path}.{field}", "action_field", gettext("%(field)s must be a non-empty list of ids.") % {"field": field})
        elif not isinstance(value, str) or not value.strip():
            problems.add(f"{path}.{field}", "action_field", gettext("%(field)s is required for this action.") % {"field": field})
    for field in ("text", "greeting"):
        value = action.get(field)
        if isinstance(value, str) and value:
            if len(value) > REPLY_TEXT_CHARS:
                problems.add(f"{path}.{field}", "reply_text_chars", gettext("At most %(limit)s characters.") % {"limit": REPLY_TEXT_CHARS})
            try:
                compile_template(value)
            except ApplicationError as exc:
                problems.add(f"{path}.{field}", "template", str(exc.message))
    for field in ("url",):
        value = action.get(field)
        if isinstance(value, str) and value and not value.startswith(("https://", "http://")):
            problems.add(f"{path}.{field}", "url_scheme", gettext("Links start with https:// or http://."))


def _check_item(path: str, item: Any, *, sub: bool, problems: _Problems, keys: dict[str, str]) -> None:
    if not isinstance(item, dict):
        problems.add(path, "item", gettext("Each menu item is an object."))
        return
    name = item.get("name")
    name_limit = SUB_NAME_BYTES if sub else TOP_NAME_BYTES
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{path}.name", "name_required", gettext("Every menu item needs a name."))
    elif _bytes(name) > name_limit:
        problems.add(
            f"{path}.name",
            "sub_item_name_bytes" if sub else "top_item_name_bytes",
            gettext("“%(name)s” is %(size)s bytes; WeChat allows at most %(limit)s bytes for a %(level)s name (a Chinese character is 3 bytes).")
            % {"name": name, "size": _bytes(name), "limit": name_limit, "level": gettext("sub-item") if sub else gettext("top item")},
        )
    children = item.get("sub_button")
    if not sub and isinstance(children, list) and children:
        if len(children) > MAX_SUB_ITEMS:
            problems.add(
                f"{path}.sub_button",
                "sub_items_count",
                gettext("%(count)s sub-items; WeChat allows at most %(limit)s under one top item.") % {"count": len(children), "limit": MAX_SUB_ITEMS},
            )
        for index, child in enumerate(children[:MAX_SUB_ITEMS]):
            _check_item(f"{path}.sub_button[{index}]", child, sub=True, problems=problems, keys=keys)
        return
    kind = item.get("type")
    if kind not in ITEM_TYPES:
        problems.add(f"{path}.type", "item_type", gettext("Unknown item type; one of %(types)s, or sub-items.") % {"types": ", ".join(ITEM_TYPES)})
        return
    if kind in KEY_TYPES:
        key = item.get("key")
        if not isinstance(key, str) or not key:
            problems.add(f"{path}.key", "key_required", gettext("A %(type)s item needs a key.") % {"type": kind})
        elif _bytes(key) > KEY_BYTES:
            problems.add(f"{path}.key", "key_bytes", gettext("The key is %(size)s bytes; WeChat allows at most %(limit)s.") % {"size": _bytes(key), "limit": KEY_BYTES})
        elif key in keys:
            problems.add(f"{path}.key", "key_unique", gettext("The key “%(key)s” is already used by %(other)s.") % {"key": key, "other": keys[key]})
        else:
            keys[key] = path
        if kind == "click" and "action" not in item:
            problems.add(f"{path}.action", "action_required", gettext("Every click item routes to an action."))
        if "action" in item:
            _check_action(f"{path}.action", item["action"], problems)
    elif "action" in item:
        problems.add(f"{path}.action", "action_on_link", gettext("Only key items (click, scan, photo, location) route to an action."))
    for field in _TYPE_FIELDS.get(kind, ()):
        value = item.get(field)
        if not isinstance(value, str) or not value.strip():
            problems.add(f"{path}.{field}", "field_required", gettext("A %(type)s item needs %(field)s.") % {"type": kind, "field": field})
        elif field == "url" and _bytes(value) > URL_BYTES:
            problems.add(f"{path}.url", "url_bytes", gettext("The link is %(size)s bytes; WeChat allows at most %(limit)s.") % {"size": _bytes(value), "limit": URL_BYTES})
        elif field == "url" and not value.startswith(("https://", "http://")):
            problems.add(f"{path}.url", "url_scheme", gettext("Links start with https:// or http://."))
    topics = item.get("topics")
    if topics is not None and (_ids(topics) is None or len(topics) > TOPICS_PER_ITEM):
        problems.add(f"{path}.topics", "topics", gettext("topics is a list of up to %(limit)s topic tag ids.") % {"limit": TOPICS_PER_ITEM})


def link_domains(buttons: list[dict]) -> set[str]:
    hosts: set[str] = set()
    for item in buttons:
        if isinstance(item, dict):
            if isinstance(item.get("url"), str) and item["url"]:
                try:
                    hosts.add((urlsplit(item["url"]).hostname or "").lower())
                except ValueError:  # not a URL at all: the url checks report it
                    continue
            hosts |= link_domains(item.get("sub_button") or [])
    return hosts - {""}


def menu_problems(buttons: Any, *, conditional: bool = False, other_conditional_domains: set[str] | None = None) -> list[dict[str, Any]]:
    """Every limit the menu breaks, as {"path", "limit", "message"}; empty when it can be published."""
    problems = _Problems()
    if not isinstance(buttons, list) or not buttons:
        problems.add("button", "top_items_count", gettext("A menu has 1 to %(limit)s top items.") % {"limit": MAX_TOP_ITEMS})
        return problems.items
    if len(buttons) > MAX_TOP_ITEMS:
        problems.add(
            "button", "top_items_count", gettext("%(count)s top items; WeChat allows at most %(limit)s.") % {"count": len(buttons), "limit": MAX_TOP_ITEMS}
        )
    keys: dict[str, str] = {}
    for index, item in enumerate(buttons[:MAX_TOP_ITEMS]):
        _check_item(f"button[{index}]", item, sub=False, problems=problems, keys=keys)
    if conditional:
        domains = link_domains(buttons) | (other_conditional_domains or set())
        if len(domains) > CONDITIONAL_DOMAINS:
            problems.add(
                "button",
                "conditional_domains",
                gettext("Conditional menus together may link to at most %(limit)s domains; these would link to %(domains)s.")
                % {"limit": CONDITIONAL_DOMAINS, "domains": ", ".join(sorted(domains))},
            )
    return problems.items


def wechat_buttons(buttons: list[dict]) -> list[dict]:
    """The `button` array WeChat takes: the product's own fields (action, topics) left out."""
    out = []
    for item in buttons:
        clean = {k: v for k, v in item.items() if k not in ("action", "topics", "sub_button")}
        if item.get("sub_button"):
            clean = {"name": item["name"], "sub_button": wechat_buttons(item["sub_button"])}
        out.append(clean)
    return out


def menu_items(buttons: list[dict]) -> list[tuple[str, dict]]:
    """Every leaf item with its position ("1", "2-3": top item, sub-item, counted from 1)."""
    found = []
    for index, item in enumerate(buttons, start=1):
        if item.get("sub_button"):
            found.extend((f"{index}-{sub}", child) for sub, child in enumerate(item["sub_button"], start=1))
        else:
            found.append((str(index), item))
    return found
