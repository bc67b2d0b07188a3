"""Menu events → the menu item they came from, and a click → the action the operator chose.

Registered with messaging.menu_events at start-up; runs inside the transaction that processes the
callback, so every database effect happens once (the reply row and the conversation request are keyed
by the callback's dedupe key) and WeChat is called only after commit.

Actions of a key item (`action.type`):
- reply_text / reply_image / reply_article / reply_miniprogram: a customer-service message rendered
  for this customer (`{{ customer.display_name }}` …) — a click opens 3 messages within a minute
  (客服消息下发规则, WECHAT.md §11); passive replies cannot carry a mini-program card, so every reply
  goes through message/custom/send (menus.replies);
- open_conversation: the service hook messaging.conversation_requests (the inbox implements it);
- tag_customer: the customer gets the tags;
- record_topics: the event carries `topics`, which feeds topic affinity (customers.engagement).
Any item may also carry `topics` (a view item's interest counts too).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from campaigns.rendering import customer_context, render
from customers.models import Customer, CustomerTag, TagSource
from customers.services import event_record, tags_assign_bulk
from menus.models import Menu, MenuReply, MenuVersion
from menus.selectors import published_versions
from menus.tasks import menu_reply_send_task
from menus.validation import menu_items
from messaging.conversation_requests import (
    CONVERSATION_REQUESTED_EVENT,
    ConversationRequest,
    conversation_request_dispatch,
)
from messaging.menu_events import MenuInteraction

REPLY_ACTIONS = ("reply_text", "reply_image", "reply_article", "reply_miniprogram")


def _matches(event: str, key: str, item: dict) -> bool:
    if event == "VIEW":
        return item.get("type") == "view" and item.get("url") == key
    if event == "view_miniprogram":
        return item.get("type") == "miniprogram" and item.get("pagepath") == key
    return bool(key) and item.get("key") == key


def _find(buttons: list[dict], event: str, key: str) -> tuple[str, dict] | None:
    return next(((position, item) for position, item in menu_items(buttons) if _matches(event, key, item)), None)


def menu_item_resolve(interaction: MenuInteraction) -> tuple[Menu, MenuVersion, str, dict] | None:
    """Which published menu, version and item the interaction came from.

    The same key may sit in several menus (the default and a segment's): WeChat's MenuId names the
    conditional menu when it sends one; otherwise the customer's segment tags decide, newest
    conditional menu first (as WeChat matches), then the default menu. A click from a menu the
    follower's client still shows after a new version was published is found in older versions."""
    found = []
    for menu, version in published_versions(account_id=interaction.account_id):
        hit = _find(version.buttons, interaction.event, interaction.key)
        if hit:
            found.append((menu, version, *hit))
    if not found:
        older = MenuVersion.objects.filter(menu__account_id=interaction.account_id, published_at__isnull=False).select_related("menu")
        for version in older.order_by("-published_at"):
            hit = _find(version.buttons, interaction.event, interaction.key)
            if hit:
                return (version.menu, version, *hit)
        return None
    if len(found) == 1:
        return found[0]
    if interaction.menu_id:
        named = [f for f in found if f[0].wechat_menuid == interaction.menu_id]
        if named:
            return named[0]
    held = set(
        CustomerTag.objects.filter(customer_id=interaction.customer_id, tag_id__in=[f[0].segment_tag_id for f in found if f[0].segment_tag_id])
        .values_list("tag_id", flat=True)
    )
    for candidate in found:
        if candidate[0].segment_tag_id in held:
            return candidate
    return next((f for f in found if f[0].is_default), found[0])


def reply_payload(action: dict[str, Any], customer: Customer) -> dict[str, Any]:
    """The message/custom/send body (without touser) of a reply action, rendered for the customer."""
    context = customer_context(customer)
    kind = action["type"]
    if kind == "reply_text":
        return {"msgtype": "text", "text": {"content": render(action["text"], context)}}
    if kind == "reply_image":
        return {"msgtype": "image", "image": {"media_id": action["media_id"]}}
    if kind == "reply_article":
        article = {
            "title": render(action["title"], context),
            "description": render(action.get("description") or "", context),
            "url": action["url"],
            "picurl": action.get("picurl") or "",
        }
        return {"msgtype": "news", "news": {"articles": [article]}}
    return {
        "msgtype": "miniprogrampage",
        "miniprogrampage": {
            "title": render(action["title"], context),
            "appid": action["appid"],
            "pagepath": action["pagepath"],
            "thumb_media_id": action["thumb_media_id"],
        },
    }


def _run_action(interaction: MenuInteraction, menu: Menu, version: MenuVersion, item: dict, properties: dict[str, Any]) -> None:
    action = item["action"]
    kind = action["type"]
    if kind in REPLY_ACTIONS:
        customer = Customer.objects.get(pk=interaction.customer_id)
        reply, created = MenuReply.objects.get_or_create(
            dedupe_key=f"{interaction.dedupe_key}:reply"[:200],
            defaults={
                "account_id": interaction.account_id,
                "customer_id": interaction.customer_id,
                "openid": interaction.openid,
                "version": version,
                "item_key": interaction.key[:128],
                "payload": reply_payload(action, customer),
            },
        )
        if created:
            # On `callbacks`, with the other latency-critical work: the click's window is one minute.
            transaction.on_commit(lambda: menu_reply_send_task.apply_async((reply.pk,), queue="callbacks"))
    elif kind == "open_conversation":
        context = {key: value for key, value in properties.items() if key.startswith("menu_")}
        if action.get("greeting"):
            context["greeting"] = action["greeting"]
        dedupe_key = f"{interaction.dedupe_key}:conversation"[:160]
        recorded = event_record(
            customer_id=interaction.customer_id,
            event_type=CONVERSATION_REQUESTED_EVENT,
            occurred_at=interaction.occurred_at,
            properties={"source": "menu", **context},
            account_id=interaction.account_id,
            dedupe_key=dedupe_key,
        )
        if recorded is not None:
            conversation_request_dispatch(
                ConversationRequest(
                    account_id=interaction.account_id,
                    customer_id=interaction.customer_id,
                    openid=interaction.openid,
                    occurred_at=interaction.occurred_at,
                    dedupe_key=dedupe_key,
                    source="menu",
                    context=context,
                )
            )
    elif kind == "tag_customer":
        tags_assign_bulk(tag_ids=action["tag_ids"], customers=[interaction.customer_id], source=TagSource.RULE)
    elif kind == "record_topics":
        properties["topics"] = sorted(set(properties.get("topics", [])) | set(action["topic_ids"]))


def menu_interaction_route(interaction: MenuInteraction) -> dict[str, Any]:
    """The messaging.menu_events handler: name the item on the event, run a key item's action."""
    resolved = menu_item_resolve(interaction)
    if resolved is None:
        return {}
    menu, version, position, item = resolved
    properties: dict[str, Any] = {
        "menu_id": menu.pk,
        "menu_version_id": version.pk,
        "menu_version": version.number,
        "menu_segment_id": menu.segment_id,
        "menu_item": position,
        "menu_item_name": item.get("name", ""),
    }
    if item.get("topics"):
        properties["topics"] = list(item["topics"])
    if isinstance(item.get("action"), dict) and interaction.event not in ("VIEW", "view_miniprogram"):
        properties["menu_action"] = item["action"]["type"]
        _run_action(interaction, menu, version, item, properties)
    return properties
