"""WeCom external contacts: contacts, "contact me" ways, group-message tasks, welcome message (corp tags:
wecom_tags.py)."""

from __future__ import annotations

import calendar
import secrets
from datetime import date

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.media import media_id_check
from messaging.sandbox.handlers.wecom_groups import group_task_add, group_task_confirm
from messaging.sandbox.state import WELCOME_CODE_SECONDS, ApiError, App

PAGE = 1000


def known_staff(ctx: Ctx, userid) -> str:
    """The userid of a staff member of the corp, or WeCom's 60111 (shared by the WeCom handlers)."""
    if not userid or userid not in ctx.app.staff:
        raise ApiError(60111, "invalid userid")
    return userid


def contact_json(app: App, external_userid: str) -> dict:
    """An external contact as externalcontact/get and batch/get_by_user show it."""
    user = app.users[external_userid]
    data = {"external_userid": external_userid, "name": user.name or external_userid, "type": 1, "gender": 0}
    if user.unionid:
        data["unionid"] = user.unionid
    return data


def _follow_json(info: dict) -> dict:
    return {**info, "tags": list(info["tags"]), "tag_id": [t["tag_id"] for t in info["tags"]]}


def contact_get(ctx: Ctx) -> dict:
    app, external = ctx.app, ctx.query.get("external_userid")
    if not external or not app.follows.get(external):
        raise ApiError(84061, "not external contact")
    return {
        "errcode": 0, "errmsg": "ok", "external_contact": contact_json(app, external),
        "follow_user": [_follow_json(i) for i in app.follows[external].values()],
    }


def contact_list(ctx: Ctx) -> dict:
    staff = known_staff(ctx, ctx.query.get("userid"))
    return {"external_userid": [e for e, rel in ctx.app.follows.items() if staff in rel]}


def follow_user_list(ctx: Ctx) -> dict:
    return {"follow_user": list(ctx.app.staff)}


def add_contact_way(ctx: Ctx) -> dict:
    body = ctx.body
    if body.get("type") not in (1, 2) or body.get("scene") not in (1, 2):
        raise ApiError(40058, "type and scene must be 1 or 2")
    users = body.get("user") or []
    if not users or (body["type"] == 1 and len(users) != 1):
        raise ApiError(40058, "user must name one staff member (type 1) or several (type 2)")
    for staff in users:
        known_staff(ctx, staff)
    state_value = body.get("state") or ""
    if len(state_value) > 30:
        raise ApiError(40058, "state longer than 30 characters")
    config_id = secrets.token_hex(16)
    way = {"config_id": config_id, "type": body["type"], "scene": body["scene"], "user": list(users),
           "state": state_value, "remark": body.get("remark", ""), "skip_verify": body.get("skip_verify", True)}
    answer = {"errcode": 0, "errmsg": "ok", "config_id": config_id}
    if body["scene"] == 2:
        way["qr_code"] = answer["qr_code"] = f"https://wework.qpic.cn/wwpic/{config_id}/0"
    ctx.app.contact_ways[config_id] = way
    return answer


def get_contact_way(ctx: Ctx) -> dict:
    way = ctx.app.contact_ways.get(ctx.body.get("config_id"))
    if way is None:
        raise ApiError(41044, "invalid config_id")
    return {"contact_way": dict(way)}


def del_contact_way(ctx: Ctx) -> dict:
    if ctx.app.contact_ways.pop(ctx.body.get("config_id"), None) is None:
        raise ApiError(41044, "invalid config_id")
    return {}


def add_msg_template(ctx: Ctx) -> dict:
    state, app, body = ctx.state, ctx.app, ctx.body
    if body.get("chat_type", "single") == "group":
        return group_task_add(ctx)
    if body.get("chat_type", "single") != "single":
        raise ApiError(40058, "chat_type is single or group")
    sender = known_staff(ctx, body.get("sender"))
    externals = body.get("external_userid") or []
    if not isinstance(externals, list) or not 1 <= len(externals) <= 10000:
        raise ApiError(40058, "external_userid must hold 1 to 10000 ids")
    if not (body.get("text") or {}).get("content") and not body.get("attachments"):
        raise ApiError(41048, "text and attachments are both empty")
    if len(body.get("attachments") or []) > 9:
        raise ApiError(40058, "at most 9 attachments")
    state.count_send(app)
    externals = list(dict.fromkeys(externals))
    # 创建企业群发 (https://developer.work.weixin.qq.com/document/path/92135): a customer who is the
    # contact of several staff members receives the task only from the one who last chatted with them.
    fail_list = [
        e for e in externals if sender not in app.follows.get(e, {}) or app.last_chat.get(e, sender) != sender
    ]
    msgid = "msg" + secrets.token_hex(12)
    app.group_tasks[msgid] = {
        "sender": sender, "external_userid": externals, "fail_list": fail_list, "confirmed": False, "send_time": 0,
        "results": {e: {"status": 0, "send_time": 0} for e in externals},
    }
    state.record_send(app, "wecom_group", msgid=msgid, sender=sender, touser=externals, fail_list=fail_list, payload=body)
    return {"errcode": 0, "errmsg": "ok", "fail_list": fail_list, "msgid": msgid}


def _group_msg_room(app: App, external: str, day: str) -> bool:
    """Whether the customer may receive one more group message on `day` (Beijing) by the corp's rule.
    创建企业群发 (https://developer.work.weixin.qq.com/document/path/92135): "每位客户/每个客户群每月最多可接收
    条数为当月天数 … 可在企业微信-群发助手-设置群发规则中调整为每周接收七条或每天接收一条"; a customer beyond it is
    reported by 获取企业群发成员执行结果 (/93338) with status 3 (因客户已经收到其他群发消息导致发送失败)."""
    when = date.fromisoformat(day)
    period = app.group_msg_period if app.group_msg_period in ("month", "week", "day") else "month"
    if period == "day":
        same, default = (lambda d: d == when), 1
    elif period == "week":
        same, default = (lambda d: d.isocalendar()[:2] == when.isocalendar()[:2]), 7
    else:
        same, default = (lambda d: (d.year, d.month) == (when.year, when.month)), calendar.monthrange(when.year, when.month)[1]
    # A corp can only tighten WeCom's rule: a count above the period's default is the default.
    limit = min(app.group_msg_limit, default) if app.group_msg_limit else default
    received = sum(1 for d in app.group_received.get(external, ()) if same(date.fromisoformat(d)))
    return received < limit


def confirm_task(state, app: App, msgid: str) -> dict:
    """The staff member confirms the task in WeCom: each customer gets it now, or status 2 (not a
    contact of the sender) / 3 (over the corp's per-customer limit)."""
    task = app.group_tasks.get(msgid)
    if task is None:
        raise ValueError(f"unknown group message task {msgid!r}")
    if task["confirmed"]:
        return task
    if task.get("chat_type") == "group":
        return group_task_confirm(state, app, task)
    now, day = int(state.now()), state.today()
    for external, result in task["results"].items():
        if external in task["fail_list"] or task["sender"] not in app.follows.get(external, {}):
            result["status"] = 2
        elif not _group_msg_room(app, external, day):
            result["status"] = 3
        else:
            app.group_received.setdefault(external, []).append(day)
            result.update(status=1, send_time=now)
    task.update(confirmed=True, send_time=now)
    return task


def _task(ctx: Ctx) -> dict:
    task = ctx.app.group_tasks.get(ctx.body.get("msgid"))
    if task is None:
        raise ApiError(41063, "invalid msgid")
    return task


def _paged(ctx: Ctx, rows: list) -> tuple[list, str]:
    limit = min(int(ctx.body.get("limit") or PAGE), PAGE)
    start = int(ctx.body.get("cursor") or 0)
    return rows[start:start + limit], (str(start + limit) if start + limit < len(rows) else "")


def get_groupmsg_task(ctx: Ctx) -> dict:
    task = _task(ctx)
    rows = [{"userid": task["sender"], "status": 1 if task["confirmed"] else 0, "send_time": task["send_time"]}]
    page, cursor = _paged(ctx, rows)
    return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "task_list": page}


def get_groupmsg_send_result(ctx: Ctx) -> dict:
    task = _task(ctx)
    userid = ctx.body.get("userid") or task["sender"]
    rows = [] if userid != task["sender"] else [
        {"external_userid": "", "chat_id": e, "userid": userid, "status": r["status"], "send_time": r["send_time"]}
        if task.get("chat_type") == "group" else
        {"external_userid": e, "chat_id": "", "userid": userid, "status": r["status"], "send_time": r["send_time"]}
        for e, r in task["results"].items()
    ]
    page, cursor = _paged(ctx, rows)
    return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "send_list": page}


WELCOME_TEXT_MAX_BYTES = 4000
WELCOME_MAX_ATTACHMENTS = 9


def _bytes_field(body: dict, name: str, limit: int, *, required: bool) -> None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(40058, f"{name} is required")
        return
    if not isinstance(value, str) or len(value.encode()) > limit:
        raise ApiError(40058, f"invalid {name}")


def _welcome_attachment(ctx: Ctx, item) -> None:
    msgtype = item.get("msgtype") if isinstance(item, dict) else None
    body = item.get(msgtype) if msgtype else None
    if msgtype not in ("image", "link", "miniprogram", "video", "file") or not isinstance(body, dict):
        raise ApiError(40008, "invalid msgtype")
    if msgtype == "image":
        if body.get("media_id"):
            media_id_check(ctx, body["media_id"], media_type="image")
        elif not body.get("pic_url"):
            raise ApiError(41006, "media_id missing")
    elif msgtype == "link":
        _bytes_field(body, "title", 128, required=True)
        _bytes_field(body, "url", 2048, required=True)
        _bytes_field(body, "desc", 512, required=False)
    elif msgtype == "miniprogram":
        _bytes_field(body, "title", 64, required=True)
        _bytes_field(body, "appid", 64, required=True)
        _bytes_field(body, "page", 1024, required=True)
        if not body.get("pic_media_id"):
            raise ApiError(41006, "media_id missing")
        media_id_check(ctx, body["pic_media_id"], media_type="image")
    else:
        if not body.get("media_id"):
            raise ApiError(41006, "media_id missing")
        media_id_check(ctx, body["media_id"], media_type=msgtype)


def send_welcome_msg(ctx: Ctx) -> dict:
    state, app = ctx.state, ctx.app
    entry = app.welcome_codes.get(ctx.body.get("welcome_code") or "")
    if entry is None or entry["used"] or state.now() - entry["issued_at"] > WELCOME_CODE_SECONDS:
        raise ApiError(41051, "externaluser has started chatting")
    content = (ctx.body.get("text") or {}).get("content")
    attachments = ctx.body.get("attachments") or []
    if not content and not attachments:
        raise ApiError(41048, "text and attachments are both empty")
    if content and len(str(content).encode()) > WELCOME_TEXT_MAX_BYTES:
        raise ApiError(45002, "content size out of limit")
    if not isinstance(attachments, list) or len(attachments) > WELCOME_MAX_ATTACHMENTS:
        raise ApiError(40058, "at most 9 attachments")
    for item in attachments:
        _welcome_attachment(ctx, item)
    entry["used"] = True
    state.record_send(app, "welcome", touser=entry["external"], sender=entry["staff"], payload=ctx.body)
    return {}


ROUTES = {
    "/cgi-bin/externalcontact/get": contact_get,
    "/cgi-bin/externalcontact/list": contact_list,
    "/cgi-bin/externalcontact/get_follow_user_list": follow_user_list,
    "/cgi-bin/externalcontact/add_contact_way": add_contact_way,
    "/cgi-bin/externalcontact/get_contact_way": get_contact_way,
    "/cgi-bin/externalcontact/del_contact_way": del_contact_way,
    "/cgi-bin/externalcontact/add_msg_template": add_msg_template,
    "/cgi-bin/externalcontact/get_groupmsg_task": get_groupmsg_task,
    "/cgi-bin/externalcontact/get_groupmsg_send_result": get_groupmsg_send_result,
    "/cgi-bin/externalcontact/send_welcome_msg": send_welcome_msg,
}
