"""WeCom customer groups (客户群).

获取客户群列表 groupchat/list (https://developer.work.weixin.qq.com/document/path/92120): limit 1 to
1000 (40058 otherwise), status_filter 0 all / 1 owner departed / 2 being handed over / 3 handed over,
owner_filter.userid_list ≤ 100. 获取客户群详情 groupchat/get (/92122): the group with member_list
(type 1 staff, 2 external; unionid of external WeChat users when the corp is bound); an unknown
chat_id answers 40050 [unverified: the global error code page names 40050 "chatid不存在"].
`add_group_chats` (control API) and change_external_chat events (events.py) change the groups.

Group messages to customer groups (创建企业群发 with chat_type=group,
https://developer.work.weixin.qq.com/document/path/92135): `sender` required (the groups' owner);
`chat_id_list` at most 2000 chats (empty: the owner chooses among all their groups — the sandbox
takes them all); text or attachments (≤ 9). When the owner confirms (control `confirm_group_task`),
each group receives it unless it is over WeCom's limit — as many group messages a month as the month
has days, per group, whoever sends them (status 3) — or it is not a group of the sender or is gone
(status 2 [unverified: the page documents status 2 for customers who are not contacts]).
get_groupmsg_send_result lists one row per chat_id (external_userid empty).
"""

from __future__ import annotations

import calendar
import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError, App

MAX_LIMIT = 1000
CHAT_ID_LIST_MAX = 2000


def groupchat_list(ctx: Ctx) -> dict:
    body = ctx.body
    limit = body.get("limit")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ApiError(40058, f"limit must be 1 to {MAX_LIMIT}")
    owners = ((body.get("owner_filter") or {}).get("userid_list")) or []
    if len(owners) > 100:
        raise ApiError(40058, "owner_filter.userid_list holds at most 100 userids")
    status = int(body.get("status_filter") or 0)
    rows = [
        {"chat_id": chat_id, "status": group.get("status", 0)}
        for chat_id, group in ctx.app.group_chats.items()
        if (not owners or group["owner"] in owners) and (status == 0 or group.get("status", 0) == status)
    ]
    start = int(body.get("cursor") or 0)
    page = rows[start:start + limit]
    return {"group_chat_list": page, "next_cursor": str(start + limit) if start + limit < len(rows) else ""}


def groupchat_get(ctx: Ctx) -> dict:
    group = ctx.app.group_chats.get(ctx.body.get("chat_id") or "")
    if group is None:
        raise ApiError(40050, "chatid not found")
    public = {k: v for k, v in group.items() if k not in ("status", "received")}
    return {"group_chat": {**public, "member_list": [dict(m) for m in group["member_list"]], "member_version": str(group.get("version", 1))}}


def group_task_add(ctx: Ctx) -> dict:
    state, app, body = ctx.state, ctx.app, ctx.body
    sender = body.get("sender") or ""
    if not sender:
        raise ApiError(40058, "sender is required when chat_type is group")
    if sender not in app.staff:
        raise ApiError(60111, "userid not found")
    chats = body.get("chat_id_list") or []
    if not isinstance(chats, list) or len(chats) > CHAT_ID_LIST_MAX:
        raise ApiError(40058, f"chat_id_list holds at most {CHAT_ID_LIST_MAX} chat ids")
    if not (body.get("text") or {}).get("content") and not body.get("attachments"):
        raise ApiError(41048, "text and attachments are both empty")
    if len(body.get("attachments") or []) > 9:
        raise ApiError(40058, "at most 9 attachments")
    state.count_send(app)
    chats = list(dict.fromkeys(chats)) or [c for c, g in app.group_chats.items() if g["owner"] == sender]
    msgid = "msg" + secrets.token_hex(12)
    app.group_tasks[msgid] = {
        "chat_type": "group", "sender": sender, "external_userid": [], "fail_list": [], "confirmed": False, "send_time": 0,
        "results": {c: {"status": 0, "send_time": 0} for c in chats},
    }
    state.record_send(app, "wecom_group", msgid=msgid, sender=sender, touser=[], chat_ids=chats, payload=body)
    return {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid}


def group_task_confirm(state, app: App, task: dict) -> dict:
    """The owner confirms: each group gets the message, or status 2 (not the sender's group) / 3 (limit)."""
    now, month = int(state.now()), state.month()
    year, number = (int(p) for p in month.split("-"))
    limit = calendar.monthrange(year, number)[1]
    for chat_id, result in task["results"].items():
        group = app.group_chats.get(chat_id)
        if group is None or group["owner"] != task["sender"]:
            result["status"] = 2
            continue
        received = group.setdefault("received", {})
        if received.get(month, 0) >= limit:
            result["status"] = 3
            continue
        received[month] = received.get(month, 0) + 1
        result.update(status=1, send_time=now)
    task.update(confirmed=True, send_time=now)
    return task


ROUTES = {
    "/cgi-bin/externalcontact/groupchat/list": groupchat_list,
    "/cgi-bin/externalcontact/groupchat/get": groupchat_get,
}
