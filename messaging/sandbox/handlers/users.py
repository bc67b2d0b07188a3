"""Service-account users, tags and parametric QR codes."""

from __future__ import annotations

import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError, App, User

MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
PAGE = 10000


def user_json(user: User) -> dict:
    if not user.subscribe:
        data = {"subscribe": 0, "openid": user.openid}
        if user.unionid:
            data["unionid"] = user.unionid
        return data
    data = {
        "subscribe": 1, "openid": user.openid, "language": "zh_CN", "subscribe_time": user.subscribe_time,
        "remark": user.remark, "groupid": user.tags[0] if user.tags else 0, "tagid_list": list(user.tags),
        "subscribe_scene": user.subscribe_scene, "qr_scene": user.qr_scene, "qr_scene_str": user.qr_scene_str,
    }
    if user.unionid:
        data["unionid"] = user.unionid
    return data


def user_info(ctx: Ctx) -> dict:
    user = ctx.state.user(ctx.app, ctx.query.get("openid"))
    return user_json(user)


def user_batchget(ctx: Ctx) -> dict:
    items = ctx.body.get("user_list")
    if not isinstance(items, list) or not items:
        raise ApiError(47001, "data format error")
    if len(items) > 100:
        raise ApiError(45035, "user list size out of limit (100)")
    return {"user_info_list": [user_json(ctx.state.user(ctx.app, (i or {}).get("openid"))) for i in items]}


def _page(app: App, start_after: str, predicate) -> tuple[list[str], str]:
    start = 0
    if start_after:
        try:
            start = app.order.index(start_after) + 1
        except ValueError:
            raise ApiError(40003, "invalid next_openid") from None
    page = []
    for openid in app.order[start:]:
        if predicate(app.users[openid]):
            page.append(openid)
            if len(page) == PAGE:
                break
    return page, (page[-1] if page else "")


def user_get(ctx: Ctx) -> dict:
    app = ctx.app
    page, next_openid = _page(app, ctx.query.get("next_openid", ""), lambda u: u.subscribe)
    answer = {"total": sum(1 for u in app.users.values() if u.subscribe), "count": len(page), "next_openid": next_openid}
    if page:
        answer["data"] = {"openid": page}
    return answer


def _tag_id(ctx: Ctx, value) -> int:
    try:
        tag_id = int(value)
    except (TypeError, ValueError):
        raise ApiError(45159, "invalid tag id") from None
    if tag_id not in ctx.app.tags:
        raise ApiError(45159, "invalid tag id")
    return tag_id


def tags_create(ctx: Ctx) -> dict:
    app = ctx.app
    name = ((ctx.body.get("tag") or {}).get("name") or "").strip()
    if not name or len(name) > 30:
        raise ApiError(45158, "tag name too long" if name else "tag name empty")
    if name in app.tags.values():
        raise ApiError(45157, "invalid tag name")
    if len(app.tags) >= MAX_TAGS:
        raise ApiError(45056, "too many tags, max 100")
    tag_id = app.next_tag_id
    app.next_tag_id += 1
    app.tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}, "_no_errcode": True}


def tags_get(ctx: Ctx) -> dict:
    app = ctx.app
    counts: dict[int, int] = {}
    for user in app.users.values():
        for tag in user.tags:
            counts[tag] = counts.get(tag, 0) + 1
    return {"tags": [{"id": i, "name": n, "count": counts.get(i, 0)} for i, n in app.tags.items()], "_no_errcode": True}


def tags_update(ctx: Ctx) -> dict:
    tag = ctx.body.get("tag") or {}
    tag_id = _tag_id(ctx, tag.get("id"))
    name = (tag.get("name") or "").strip()
    if not name:
        raise ApiError(45158, "tag name empty")
    if any(n == name and i != tag_id for i, n in ctx.app.tags.items()):
        raise ApiError(45157, "invalid tag name")
    ctx.app.tags[tag_id] = name
    return {"errcode": 0, "errmsg": "ok"}


def tags_delete(ctx: Ctx) -> dict:
    tag_id = _tag_id(ctx, (ctx.body.get("tag") or {}).get("id"))
    del ctx.app.tags[tag_id]
    for user in ctx.app.users.values():
        if tag_id in user.tags:
            user.tags.remove(tag_id)
    return {"errcode": 0, "errmsg": "ok"}


def _members(ctx: Ctx) -> tuple[int, list[User]]:
    openids = ctx.body.get("openid_list")
    if not isinstance(openids, list) or not openids:
        raise ApiError(40032, "invalid openid list")
    if len(openids) > 50:
        raise ApiError(40032, "invalid openid list size, at most 50")
    tag_id = _tag_id(ctx, ctx.body.get("tagid"))
    return tag_id, [ctx.state.user(ctx.app, o) for o in openids]


def batch_tagging(ctx: Ctx) -> dict:
    tag_id, users = _members(ctx)
    if any(tag_id not in u.tags and len(u.tags) >= MAX_TAGS_PER_USER for u in users):
        raise ApiError(45059, "user has too many tags, max 20")
    for user in users:
        if tag_id not in user.tags:
            user.tags.append(tag_id)
    return {"errcode": 0, "errmsg": "ok"}


def batch_untagging(ctx: Ctx) -> dict:
    tag_id, users = _members(ctx)
    for user in users:
        if tag_id in user.tags:
            user.tags.remove(tag_id)
    return {"errcode": 0, "errmsg": "ok"}


def tags_getidlist(ctx: Ctx) -> dict:
    user = ctx.state.user(ctx.app, ctx.body.get("openid"))
    return {"tagid_list": list(user.tags), "_no_errcode": True}


def tag_users(ctx: Ctx) -> dict:
    tag_id = _tag_id(ctx, ctx.body.get("tagid"))
    page, next_openid = _page(ctx.app, ctx.body.get("next_openid", ""), lambda u: tag_id in u.tags)
    answer = {"count": len(page), "next_openid": next_openid, "_no_errcode": True}
    if page:
        answer["data"] = {"openid": page}
    return answer


def qrcode_create(ctx: Ctx) -> dict:
    body = ctx.body
    action = body.get("action_name")
    scene = ((body.get("action_info") or {}).get("scene")) or {}
    if action in ("QR_SCENE", "QR_LIMIT_SCENE"):
        value = scene.get("scene_id")
        if not isinstance(value, int) or value <= 0 or (action == "QR_LIMIT_SCENE" and value > 100000):
            raise ApiError(40053, "invalid action info")
    elif action in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE"):
        value = scene.get("scene_str")
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            raise ApiError(40053, "invalid action info")
    else:
        raise ApiError(40052, "invalid action name")
    ticket = "gQ" + secrets.token_urlsafe(30)
    temporary = "LIMIT" not in action
    expire = min(int(body.get("expire_seconds") or 60), 2592000) if temporary else None
    ctx.app.qrcodes[ticket] = {"scene": value, "action_name": action, "expire_seconds": expire, "at": ctx.state.now()}
    answer = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[2:24]}", "_no_errcode": True}
    if temporary:
        answer["expire_seconds"] = expire
    return answer


ROUTES = {
    "/cgi-bin/user/info": user_info,
    "/cgi-bin/user/info/batchget": user_batchget,
    "/cgi-bin/user/get": user_get,
    "/cgi-bin/tags/create": tags_create,
    "/cgi-bin/tags/get": tags_get,
    "/cgi-bin/tags/update": tags_update,
    "/cgi-bin/tags/delete": tags_delete,
    "/cgi-bin/tags/members/batchtagging": batch_tagging,
    "/cgi-bin/tags/members/batchuntagging": batch_untagging,
    "/cgi-bin/tags/getidlist": tags_getidlist,
    "/cgi-bin/user/tag/get": tag_users,
    "/cgi-bin/qrcode/create": qrcode_create,
}
