"""WeCom customer groups (客户群).

获取客户群列表 groupchat/list (https://developer.work.weixin.qq.com/document/path/92120): limit 1 to
1000 (40058 otherwise), status_filter 0 all / 1 owner departed / 2 being handed over / 3 handed over,
owner_filter.userid_list ≤ 100. 获取客户群详情 groupchat/get (/92122): the group with member_list
(type 1 staff, 2 external; unionid of external WeChat users when the corp is bound); an unknown
chat_id answers 40050 [unverified: the global error code page names 40050 "chatid不存在"].
`add_group` (control API) and change_external_chat events (events.py) change the groups.
"""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError

MAX_LIMIT = 1000


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
    public = {k: v for k, v in group.items() if k != "status"}
    return {"group_chat": {**public, "member_list": [dict(m) for m in group["member_list"]], "member_version": str(group.get("version", 1))}}


ROUTES = {
    "/cgi-bin/externalcontact/groupchat/list": groupchat_list,
    "/cgi-bin/externalcontact/groupchat/get": groupchat_get,
}
