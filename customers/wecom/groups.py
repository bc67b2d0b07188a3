"""Writes on WeCom customer groups (客户群) and their members.

Every change is applied as a snapshot of one group (groupchat/get): members listed are present
(joined at their join_time), members no longer listed have left (at the event's time); external
members are linked to customers by external_userid on the corp, else by unionid. Per-group daily
joins and leaves are read from the members (customers.wecom.selectors.group_daily_stats)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from customers.models import ChannelIdentity, CustomerUnionId
from customers.wecom.models import WeComGroupChat, WeComGroupMember
from scrm.sqltools import render, table

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


# Set-based writes of a batch of snapshots (a sync applies ~100 groups a statement; an event one):
# the groups upserted, every member upserted, and the members no snapshot lists any more marked left.
_GROUPS_UPSERT = sql.SQL(
    """INSERT INTO {group} (account_id, chat_id, name, owner_userid, notice, status, created_at_wecom, member_count,
                            synced_at, dismissed_at)
       SELECT %(account)s, v.chat_id, v.name, v.owner, v.notice, v.status, v.created_at, v.n, %(now)s, NULL
       FROM unnest(%(chat_ids)s::varchar[], %(names)s::varchar[], %(owners)s::varchar[], %(notices)s::text[],
                   %(statuses)s::int[], %(created)s::timestamptz[], %(counts)s::int[])
            AS v(chat_id, name, owner, notice, status, created_at, n)
       ON CONFLICT (account_id, chat_id) DO UPDATE SET
           name = EXCLUDED.name, owner_userid = EXCLUDED.owner_userid, notice = EXCLUDED.notice, status = EXCLUDED.status,
           created_at_wecom = COALESCE(EXCLUDED.created_at_wecom, {group}.created_at_wecom), member_count = EXCLUDED.member_count,
           synced_at = EXCLUDED.synced_at, dismissed_at = NULL
       RETURNING id, chat_id"""
)
_MEMBERS_UPSERT = sql.SQL(
    """INSERT INTO {member} AS m (group_id, member_id, member_type, unionid, customer_id, join_time, join_scene, left_at)
       SELECT v.group_id, v.member_id, v.member_type, v.unionid, v.customer_id, v.join_time, v.join_scene, NULL
       FROM unnest(%(groups)s::bigint[], %(ids)s::varchar[], %(types)s::int[], %(unionids)s::varchar[], %(customers)s::bigint[],
                   %(joins)s::timestamptz[], %(scenes)s::int[])
            AS v(group_id, member_id, member_type, unionid, customer_id, join_time, join_scene)
       ON CONFLICT (group_id, member_id) DO UPDATE SET
           member_type = EXCLUDED.member_type, unionid = EXCLUDED.unionid, customer_id = EXCLUDED.customer_id,
           join_time = EXCLUDED.join_time, join_scene = EXCLUDED.join_scene, left_at = NULL
       WHERE (m.member_type, m.unionid, m.customer_id, m.join_time, m.join_scene, m.left_at)
             IS DISTINCT FROM (EXCLUDED.member_type, EXCLUDED.unionid, EXCLUDED.customer_id, EXCLUDED.join_time,
                               EXCLUDED.join_scene, NULL::timestamptz)"""
)
_LEAVERS = sql.SQL(
    """UPDATE {member} m SET left_at = %(at)s
       WHERE m.group_id = ANY(%(group_ids)s) AND m.left_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM unnest(%(groups)s::bigint[], %(ids)s::varchar[]) AS v(group_id, member_id)
                         WHERE v.group_id = m.group_id AND v.member_id = m.member_id)"""
)


def _tables() -> dict[str, sql.Identifier]:
    return {"group": table(WeComGroupChat), "member": table(WeComGroupMember), "identity": table(ChannelIdentity),
            "unionid": table(CustomerUnionId)}


@transaction.atomic
def groups_apply_snapshots(*, account_id: int, chats: Sequence[GroupChatData], at: datetime | None = None) -> dict[str, int]:
    """Make the stored groups what WeCom lists now (a batch of groupchat/get answers, set-based):
    members gone since the last snapshot left at `at`. Returns {chat_id: group id}."""
    at = at or timezone.now()
    chats = list({c.chat_id[:128]: c for c in chats if c.chat_id}.values())
    if not chats:
        return {}
    members_of = {c.chat_id: list({m.member_id[:128]: m for m in c.members if m.member_id}.values()) for c in chats}
    with connection.cursor() as cursor:
        cursor.execute(render(_GROUPS_UPSERT.format(**_tables())), {
            "account": account_id, "now": timezone.now(), "chat_ids": [c.chat_id[:128] for c in chats],
            "names": [c.name[:128] for c in chats], "owners": [c.owner_userid[:64] for c in chats], "notices": [c.notice for c in chats],
            "statuses": [c.status for c in chats], "created": [c.created_at for c in chats],
            "counts": [len(members_of[c.chat_id]) for c in chats],
        })
        ids = {chat_id: pk for pk, chat_id in cursor.fetchall()}
        customer_of = _customers_of(cursor, account_id=account_id, members=[m for ms in members_of.values() for m in ms])
        rows = [(ids[chat_id], m) for chat_id, ms in members_of.items() for m in ms]
        pairs = {"groups": [g for g, _m in rows], "ids": [m.member_id[:128] for _g, m in rows]}
        if rows:
            cursor.execute(render(_MEMBERS_UPSERT.format(**_tables())), {
                **pairs, "types": [m.member_type for _g, m in rows], "unionids": [m.unionid[:64] for _g, m in rows],
                "customers": [customer_of.get(m.member_id) for _g, m in rows], "joins": [m.join_time or at for _g, m in rows],
                "scenes": [m.join_scene for _g, m in rows],
            })
        cursor.execute(render(_LEAVERS.format(**_tables())), {**pairs, "at": at, "group_ids": list(ids.values())})
    return ids


# One array-bound statement each (a sync links ~20,000 members a batch): external_userid on the corp
# first, then unionid.
_BY_EXTERNAL_ID = sql.SQL("SELECT external_id, customer_id FROM {identity} WHERE account_id = %(account)s AND external_id = ANY(%(ids)s)")
_BY_UNIONID = sql.SQL("SELECT unionid, customer_id FROM {unionid} WHERE unionid = ANY(%(ids)s)")


def _customers_of(cursor, *, account_id: int, members: list[GroupMemberData]) -> dict[str, int]:
    """member_id → customer for the external members."""
    external = [m for m in members if m.member_type == EXTERNAL_MEMBER]
    if not external:
        return {}
    cursor.execute(render(_BY_EXTERNAL_ID.format(**_tables())), {"account": account_id, "ids": list({m.member_id for m in external})})
    found = dict(cursor.fetchall())
    wanted = list({m.unionid for m in external if m.unionid and m.member_id not in found})
    if wanted:
        cursor.execute(render(_BY_UNIONID.format(**_tables())), {"ids": wanted})
        by_unionid = dict(cursor.fetchall())
        found.update({m.member_id: by_unionid[m.unionid] for m in external if m.member_id not in found and m.unionid in by_unionid})
    return found


def group_apply_snapshot(*, account_id: int, chat: GroupChatData, at: datetime | None = None) -> WeComGroupChat:
    """One group's snapshot (a change_external_chat event's re-read)."""
    ids = groups_apply_snapshots(account_id=account_id, chats=[chat], at=at)
    return WeComGroupChat.objects.get(pk=ids[chat.chat_id[:128]])


@transaction.atomic
def group_dismiss(*, account_id: int, chat_id: str, at: datetime) -> int:
    """change_external_chat dismiss: the group ends and every present member leaves."""
    group = WeComGroupChat.objects.filter(account_id=account_id, chat_id=chat_id).first()
    if group is None:
        return 0
    WeComGroupChat.objects.filter(pk=group.pk).update(dismissed_at=at, member_count=0)
    return group.members.filter(Q(left_at__isnull=True)).update(left_at=at)
