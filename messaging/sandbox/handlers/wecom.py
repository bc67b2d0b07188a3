"""WeCom external contacts: contacts, "contact me" ways, group-message tasks, corp tags, welcome message."""

from __future__ import annotations

import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.media import media_id_check
from messaging.sandbox.handlers.wecom_groups import group_task_add, group_task_confirm
from messaging.sandbox.state import WELCOME_CODE_SECONDS, ApiError, App

PAGE = 1000


def _staff(ctx: Ctx, userid) -> str:
    if not userid or userid not in ctx.app.staff:
        raise ApiError(60111, "invalid userid")
    return userid


def _contact_json(app: App, external_userid: str) -> dict:
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
        "errcode": 0, "errmsg": "ok", "external_contact": _contact_json(app, external),
        "follow_user": [_follow_json(i) for i in app.follows[external].values()],
    }


def contact_list(ctx: Ctx) -> dict:
    staff = _staff(ctx, ctx.query.get("userid"))
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
        _staff(ctx, staff)
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
    sender = _staff(ctx, body.get("sender"))
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


def confirm_task(state, app: App, msgid: str) -> dict:
    """The staff member confirms the task in WeCom: each customer gets it now, or status 2 / 3."""
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
        elif app.group_received.get((external, day), 0) >= 1:
            result["status"] = 3
        else:
            app.group_received[(external, day)] = app.group_received.get((external, day), 0) + 1
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


def _all_tags(app: App) -> dict[str, tuple[dict, dict]]:
    return {t["id"]: (g, t) for g in app.corp_tag_groups.values() for t in g["tag"]}


def get_corp_tag_list(ctx: Ctx) -> dict:
    app = ctx.app
    tag_ids, group_ids = set(ctx.body.get("tag_id") or []), set(ctx.body.get("group_id") or [])
    groups = []
    for group in app.corp_tag_groups.values():
        if group_ids and group["group_id"] not in group_ids:
            continue
        tags = [t for t in group["tag"] if not tag_ids or t["id"] in tag_ids]
        if tag_ids and not tags:
            continue
        groups.append({**group, "tag": [dict(t) for t in tags]})
    return {"tag_group": groups}


def add_corp_tag(ctx: Ctx) -> dict:
    app, body, now = ctx.app, ctx.body, int(ctx.state.now())
    tags = body.get("tag") or []
    if not tags or not all((t or {}).get("name") for t in tags):
        raise ApiError(40058, "tag must list names")
    group = app.corp_tag_groups.get(body.get("group_id") or "")
    if group is None:
        if body.get("group_id"):
            raise ApiError(40068, "invalid group_id")
        name = body.get("group_name") or ""
        group = next((g for g in app.corp_tag_groups.values() if g["group_name"] == name), None)
        if group is None:
            if not name:
                raise ApiError(40058, "group_name or group_id is required")
            group = {"group_id": "et" + secrets.token_hex(10), "group_name": name, "create_time": now,
                     "order": int(body.get("order") or 0), "deleted": False, "tag": []}
            app.corp_tag_groups[group["group_id"]] = group
    existing = {t["name"] for t in group["tag"]}
    added = []
    for item in tags:
        if item["name"] in existing:
            raise ApiError(40071, f"tag name {item['name']!r} already exists in the group")
        tag = {"id": "et" + secrets.token_hex(10), "name": item["name"], "create_time": now,
               "order": int(item.get("order") or 0), "deleted": False}
        group["tag"].append(tag)
        added.append(dict(tag))
    return {"tag_group": {**{k: v for k, v in group.items() if k != "tag"}, "tag": added}}


def edit_corp_tag(ctx: Ctx) -> dict:
    app, ident = ctx.app, ctx.body.get("id")
    if ident in app.corp_tag_groups:
        target = app.corp_tag_groups[ident]
        if ctx.body.get("name"):
            target["group_name"] = ctx.body["name"]
    else:
        found = _all_tags(app).get(ident)
        if found is None:
            raise ApiError(40068, "invalid tagid")
        if ctx.body.get("name"):
            found[1]["name"] = ctx.body["name"]
        target = found[1]
    if "order" in ctx.body:
        target["order"] = int(ctx.body["order"])
    return {}


def del_corp_tag(ctx: Ctx) -> dict:
    app = ctx.app
    tag_ids, group_ids = set(ctx.body.get("tag_id") or []), set(ctx.body.get("group_id") or [])
    if not tag_ids and not group_ids:
        raise ApiError(40058, "tag_id or group_id is required")
    known = _all_tags(app)
    if any(t not in known for t in tag_ids) or any(g not in app.corp_tag_groups for g in group_ids):
        raise ApiError(40068, "invalid tagid")
    for group_id in group_ids:
        removed = app.corp_tag_groups.pop(group_id)
        tag_ids |= {t["id"] for t in removed["tag"]}
    for group in list(app.corp_tag_groups.values()):
        group["tag"] = [t for t in group["tag"] if t["id"] not in tag_ids]
        if not group["tag"]:
            del app.corp_tag_groups[group["group_id"]]  # WeCom drops a group with no tags left
    for relations in app.follows.values():
        for info in relations.values():
            info["tags"] = [t for t in info["tags"] if t["tag_id"] not in tag_ids]
    return {}


def mark_tag(ctx: Ctx) -> dict:
    app, body = ctx.app, ctx.body
    staff = _staff(ctx, body.get("userid"))
    info = app.follows.get(body.get("external_userid") or "", {}).get(staff)
    if info is None:
        raise ApiError(84061, "not external contact")
    add, remove = body.get("add_tag") or [], body.get("remove_tag") or []
    if not add and not remove:
        raise ApiError(40058, "add_tag or remove_tag is required")
    known = _all_tags(app)
    if any(t not in known for t in [*add, *remove]):
        raise ApiError(40068, "invalid tagid")
    have = {t["tag_id"] for t in info["tags"]}
    for tag_id in add:
        if tag_id not in have:
            group, tag = known[tag_id]
            info["tags"].append({"group_name": group["group_name"], "tag_name": tag["name"], "type": 1, "tag_id": tag_id})
    info["tags"] = [t for t in info["tags"] if t["tag_id"] not in set(remove)]
    return {}


# 发送新客户欢迎语 (https://developer.work.weixin.qq.com/document/path/92599): the welcome_code of an
# add_external_contact event works once, within 20 s; used again, WeCom answers 41051 ("externaluser has
# started chatting"). The page names no code for an expired welcome_code: the sandbox answers 41051
# too. text.content is at most 4000 bytes; at most 9 attachments (image, link, miniprogram, video,
# file) in the documented shapes. Codes for malformed fields from the global list (page 90313):
# 40008 bad msgtype, 41006 missing media_id, 40007 bad media_id, 45002 content too long, 40058 bad
# parameter.
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
    "/cgi-bin/externalcontact/get_corp_tag_list": get_corp_tag_list,
    "/cgi-bin/externalcontact/add_corp_tag": add_corp_tag,
    "/cgi-bin/externalcontact/edit_corp_tag": edit_corp_tag,
    "/cgi-bin/externalcontact/del_corp_tag": del_corp_tag,
    "/cgi-bin/externalcontact/mark_tag": mark_tag,
    "/cgi-bin/externalcontact/send_welcome_msg": send_welcome_msg,
}
