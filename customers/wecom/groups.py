"""Writes on WeCom customer groups (客户群) and their members.

Every change is applied as a snapshot of one group (groupchat/get): members listed are present
(joined at their join_time), members no longer listed have left (at the event's time); external
members are linked to customers by external_userid on the corp, else by unionid. Per-group daily
joins and leaves are read from the members (customers.wecom.selectors.group_daily_stats)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import ChannelIdentity, CustomerUnionId
from customers.wecom.models import WeComGroupChat, WeComGroupMember

STAFF_MEMBER = 1
EXTERNAL_MEMBER = 2


@dataclass(frozen=True)
class GroupMemberData:
    member_id: str
    member_type: int = EXTERNAL_MEMBER
    unionid: str = ""
    join_time: datetime | None = None
    join_scene: int = 0


@dataclass(frozen=True)
class GroupChatData:
    chat_id: str
    name: str = ""
    owner_userid: str = ""
    notice: str = ""
    status: int = 0
    created_at: datetime | None = None
    members: Sequence[GroupMemberData] = field(default_factory=tuple)


@transaction.atomic
def group_apply_snapshot(*, account_id: int, chat: GroupChatData, at: datetime | None = None) -> WeComGroupChat:
    """Make the stored group what WeCom lists now; members gone since the last snapshot left at `at`."""
    at = at or timezone.now()
    group, _ = WeComGroupChat.objects.select_for_update().get_or_create(account_id=account_id, chat_id=chat.chat_id[:128])
    group.name, group.owner_userid, group.notice = chat.name[:128], chat.owner_userid[:64], chat.notice
    group.status, group.created_at_wecom = chat.status, chat.created_at or group.created_at_wecom
    group.member_count, group.synced_at, group.dismissed_at = len(chat.members), timezone.now(), None
    group.save()
    members = {m.member_id: m for m in chat.members if m.member_id}
    customer_of = _customers_of(account_id=account_id, members=list(members.values()))
    rows = [
        WeComGroupMember(
            group=group, member_id=m.member_id[:128], member_type=m.member_type, unionid=m.unionid[:64],
            customer_id=customer_of.get(m.member_id), join_time=m.join_time or at, join_scene=m.join_scene, left_at=None,
        )
        for m in members.values()
    ]
    WeComGroupMember.objects.bulk_create(
        rows, batch_size=2000, update_conflicts=True, unique_fields=["group", "member_id"],
        update_fields=["member_type", "unionid", "customer", "join_time", "join_scene", "left_at"],
    )
    group.members.filter(left_at__isnull=True).exclude(member_id__in=list(members)).update(left_at=at)
    return group


def _customers_of(*, account_id: int, members: list[GroupMemberData]) -> dict[str, int]:
    external = [m for m in members if m.member_type == EXTERNAL_MEMBER]
    found = dict(
        ChannelIdentity.objects.filter(account_id=account_id, external_id__in=[m.member_id for m in external]).values_list(
            "external_id", "customer_id"
        )
    )
    by_unionid = dict(
        CustomerUnionId.objects.filter(unionid__in=[m.unionid for m in external if m.unionid and m.member_id not in found])
        .values_list("unionid", "customer_id")
    )
    for m in external:
        if m.member_id not in found and m.unionid in by_unionid:
            found[m.member_id] = by_unionid[m.unionid]
    return found


@transaction.atomic
def group_dismiss(*, account_id: int, chat_id: str, at: datetime) -> int:
    """change_external_chat dismiss: the group ends and every present member leaves."""
    group = WeComGroupChat.objects.filter(account_id=account_id, chat_id=chat_id).first()
    if group is None:
        return 0
    WeComGroupChat.objects.filter(pk=group.pk).update(dismissed_at=at, member_count=0)
    return group.members.filter(Q(left_at__isnull=True)).update(left_at=at)
