"""A campaign's group audience: content["group_audience"] = {"owners": [staff userids], "chat_ids":
[chat ids], "name_contains": "…"} — the corp's customer groups (not dismissed) matching every
criterion given: all groups of these owners, these groups, groups whose name contains the words."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from campaigns.models import Campaign, MessageType
from customers.wecom.models import WeComGroupChat
from customers.wecom.selectors import groups_list

MAX_OWNERS = 1000
MAX_CHATS = 20_000
KEYS = ("owners", "chat_ids", "name_contains")


def group_audience_of(campaign: Campaign) -> dict[str, Any] | None:
    """The campaign's group audience, or None when it targets a segment."""
    audience = (campaign.content or {}).get("group_audience") if campaign.message_type == MessageType.WECOM_GROUP else None
    return audience if isinstance(audience, dict) else None


def group_audience_problem(audience: Any, *, message_type: str) -> str:
    """What is wrong with a group audience ("" when nothing)."""
    if message_type != MessageType.WECOM_GROUP:
        return "customer groups are an audience of WeCom group messages only"
    if not isinstance(audience, dict) or set(audience) - set(KEYS):
        return f"an object with {', '.join(KEYS)}"
    owners, chats, name = audience.get("owners") or [], audience.get("chat_ids") or [], audience.get("name_contains") or ""
    if not isinstance(owners, list) or not all(isinstance(o, str) and o for o in owners) or len(owners) > MAX_OWNERS:
        return f"owners: a list of up to {MAX_OWNERS} staff userids"
    if not isinstance(chats, list) or not all(isinstance(c, str) and c for c in chats) or len(chats) > MAX_CHATS:
        return f"chat_ids: a list of up to {MAX_CHATS} chat ids"
    if not isinstance(name, str) or len(name) > 128:
        return "name_contains: text of up to 128 characters"
    if not owners and not chats and not name.strip():
        return "choose owners, groups or a name"
    return ""


def group_audience_groups(campaign: Campaign) -> QuerySet[WeComGroupChat]:
    """The groups the campaign targets now, with their present external members (`externals`)."""
    audience = group_audience_of(campaign) or {}
    groups = groups_list(account_id=campaign.account_id, name_contains=(audience.get("name_contains") or "").strip(),
                         chat_ids=audience.get("chat_ids") or None)
    if audience.get("owners"):
        groups = groups.filter(owner_userid__in=audience["owners"])
    return groups.annotate(externals=Count("members", filter=Q(members__member_type=2, members__left_at__isnull=True)))


def group_audience_size(campaign: Campaign) -> int:
    """The external members the campaign's groups hold now (the approval threshold reads this)."""
    return sum(g.externals for g in group_audience_groups(campaign).order_by())
