"""WeCom customer groups: groupchat/list then groupchat/get per group (客户群,
https://developer.work.weixin.qq.com/document/path/92120 and /92122), each applied as a snapshot by
customers' group service; change_external_chat events re-read the one group they name."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from wechatpy.exceptions import WeChatClientException

from customers.wecom.groups import (
    GroupChatData,
    GroupMemberData,
    group_apply_snapshot,
    group_dismiss,
    groups_apply_snapshots,
)
from messaging.channels.clients import wecom_client

LIST_LIMIT = 1000
# Groups read (groupchat/get) before they are written together: one set-based write per batch.
APPLY_BATCH = 100
_DONE = object()
ERR_NO_CHAT = 40050


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def group_chat_data(group: dict[str, Any]) -> GroupChatData:
    """GroupChatData from groupchat/get's `group_chat`."""
    return GroupChatData(
        chat_id=str(group["chat_id"]),
        name=str(group.get("name") or ""),
        owner_userid=str(group.get("owner") or ""),
        notice=str(group.get("notice") or ""),
        status=int(group.get("status") or 0),
        created_at=_ts(group.get("create_time")),
        members=tuple(
            GroupMemberData(
                member_id=str(m["userid"]),
                member_type=int(m.get("type") or 2),
                unionid=str(m.get("unionid") or ""),
                join_time=_ts(m.get("join_time")),
                join_scene=int(m.get("join_scene") or 0),
            )
            for m in group.get("member_list") or []
            if m.get("userid")
        ),
    )


def group_refresh(account, chat_id: str, *, at: datetime | None = None) -> bool:
    """Re-read one group and apply it; False when WeCom no longer knows it (dismissed)."""
    try:
        answer = wecom_client(account).post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 0})
    except WeChatClientException as exc:
        if exc.errcode == ERR_NO_CHAT:
            return False
        raise
    group_apply_snapshot(account_id=account.pk, chat=group_chat_data(answer["group_chat"]), at=at)
    return True


def _group_read(client, chat_id: str) -> GroupChatData | None:
    try:
        answer = client.post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 0})
    except WeChatClientException as exc:
        if exc.errcode == ERR_NO_CHAT:
            return None  # dismissed between the list and the read
        raise
    return group_chat_data(answer["group_chat"])


def _groups_read(account, out: queue.Queue, stop: threading.Event) -> None:
    """Producer: every group of the corp read (groupchat/list, then groupchat/get), put on `out` in
    batches of APPLY_BATCH; then _DONE, or the exception that ended the reading."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    try:
        client = wecom_client(account)
        cursor, batch = "", []
        while True:
            page = client.post("externalcontact/groupchat/list", data={"status_filter": 0, "cursor": cursor, "limit": LIST_LIMIT})
            for row in page.get("group_chat_list") or []:
                chat = _group_read(client, row["chat_id"])
                if chat is not None:
                    batch.append(chat)
                if len(batch) >= APPLY_BATCH:
                    if not put(batch):
                        return
                    batch = []
            cursor = page.get("next_cursor") or ""
            if not cursor:
                put(batch)
                put(_DONE)
                return
    except Exception as exc:  # handed to the writing thread, which raises it
        put(exc)
    finally:
        connection.close()  # this thread's own connection, if anything opened one


def groups_sync(account) -> int:
    """Every customer group of the corp; returns how many were applied. One thread reads WeCom while
    this one writes the batches read so far (the writes and the HTTP round trips overlap)."""
    batches: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    reader = threading.Thread(target=_groups_read, args=(account, batches, stop), name=f"groups-read-{account.pk}", daemon=True)
    reader.start()
    applied = 0
    try:
        while True:
            item = batches.get()
            if item is _DONE:
                return applied
            if isinstance(item, Exception):
                raise item
            applied += len(groups_apply_snapshots(account_id=account.pk, chats=item))
    finally:
        stop.set()
        reader.join(timeout=30)


def group_event_apply(account, *, chat_id: str, change: str, at: datetime) -> None:
    """change_external_chat: dismiss ends the group; create and update re-read it."""
    if change == "dismiss" or not group_refresh(account, chat_id, at=at):
        group_dismiss(account_id=account.pk, chat_id=chat_id, at=at)
