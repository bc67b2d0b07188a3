"""WeCom corp tags (企业客户标签): the tag library and marking customers."""

from __future__ import annotations

import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.wecom import known_staff
from messaging.sandbox.state import ApiError, App


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
    staff = known_staff(ctx, body.get("userid"))
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


ROUTES = {
    "/cgi-bin/externalcontact/get_corp_tag_list": get_corp_tag_list,
    "/cgi-bin/externalcontact/add_corp_tag": add_corp_tag,
    "/cgi-bin/externalcontact/edit_corp_tag": edit_corp_tag,
    "/cgi-bin/externalcontact/del_corp_tag": del_corp_tag,
    "/cgi-bin/externalcontact/mark_tag": mark_tag,
}
