"""WeCom group welcome templates (入群欢迎语素材管理, https://developer.work.weixin.qq.com/document/path/92366).

group_welcome_template/add, edit, get, del. The page's rules: the corp's library holds at most 100
templates; text.content at most 3000 bytes (`%NICKNAME%` is replaced by the joining customer's name);
link.title ≤ 128 bytes, link.desc ≤ 512 bytes, link.title and link.url required; miniprogram.title
≤ 64 bytes with pic_media_id, appid and page required; file and video need their media_id; text,
image, link, miniprogram, file and video may not all be empty; text goes with at most one other kind
and, when several are given, only the first of image > link > miniprogram > file > video is kept;
`notify` (default 1) tells the staff members to apply the template; only templates the caller created
can be edited or deleted. Codes [unverified: the page names none]: 40058 for a malformed field or a
full library, 41048 for an empty template, 40007 for an unknown media_id (global error codes, page
90313), 40058 for an unknown template_id.
"""

from __future__ import annotations

import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.media import media_id_check
from messaging.sandbox.state import ApiError

MAX_TEMPLATES = 100
TEXT_MAX_BYTES = 3000
KINDS = ("image", "link", "miniprogram", "file", "video")  # WeCom's order of precedence


def _text(body: dict, name: str, limit: int, *, required: bool) -> str:
    value = body.get(name)
    if value in (None, ""):
        if required:
            raise ApiError(40058, f"{name} is required")
        return ""
    if not isinstance(value, str) or len(value.encode()) > limit:
        raise ApiError(40058, f"invalid {name}: at most {limit} bytes")
    return value


def _template(ctx: Ctx) -> dict:
    body = ctx.body
    template: dict = {}
    text = body.get("text") or {}
    if not isinstance(text, dict):
        raise ApiError(40058, "invalid text")
    if text.get("content"):
        template["text"] = {"content": _text(text, "content", TEXT_MAX_BYTES, required=True)}
    kind = next((k for k in KINDS if isinstance(body.get(k), dict) and body[k]), None)
    if kind is None and not template:
        raise ApiError(41048, "text, image, link, miniprogram, file and video are all empty")
    if kind == "image":
        image = body["image"]
        if image.get("media_id"):
            media_id_check(ctx, image["media_id"], media_type="image")
            template["image"] = {"media_id": image["media_id"], "pic_url": ""}
        elif image.get("pic_url"):
            template["image"] = {"pic_url": _text(image, "pic_url", 2048, required=True)}
        else:
            raise ApiError(41006, "media_id missing")
    elif kind == "link":
        link = body["link"]
        template["link"] = {"title": _text(link, "title", 128, required=True), "url": _text(link, "url", 2048, required=True),
                            "desc": _text(link, "desc", 512, required=False), "picurl": _text(link, "picurl", 2048, required=False)}
    elif kind == "miniprogram":
        mini = body["miniprogram"]
        template["miniprogram"] = {"title": _text(mini, "title", 64, required=True), "appid": _text(mini, "appid", 64, required=True),
                                   "page": _text(mini, "page", 1024, required=True)}
        if not mini.get("pic_media_id"):
            raise ApiError(41006, "media_id missing")
        media_id_check(ctx, mini["pic_media_id"], media_type="image")
        template["miniprogram"]["pic_media_id"] = mini["pic_media_id"]
    elif kind in ("file", "video"):
        media_id = body[kind].get("media_id")
        if not media_id:
            raise ApiError(41006, "media_id missing")
        media_id_check(ctx, media_id, media_type=kind)
        template[kind] = {"media_id": media_id}
    return template


def _known(ctx: Ctx) -> tuple[str, dict]:
    template_id = ctx.body.get("template_id") or ""
    entry = ctx.app.group_welcome_templates.get(template_id)
    if entry is None:
        raise ApiError(40058, "invalid template_id")
    return template_id, entry


def template_add(ctx: Ctx) -> dict:
    library = ctx.app.group_welcome_templates
    if len(library) >= MAX_TEMPLATES:
        raise ApiError(40058, f"the group welcome library holds at most {MAX_TEMPLATES} templates")
    template = _template(ctx)
    template_id = "msg" + secrets.token_hex(10)
    library[template_id] = {"template": template, "notify": int(ctx.body.get("notify", 1) or 0)}
    return {"errcode": 0, "errmsg": "ok", "template_id": template_id}


def template_edit(ctx: Ctx) -> dict:
    _template_id, entry = _known(ctx)
    entry["template"] = _template(ctx)
    return {"errcode": 0, "errmsg": "ok"}


def template_get(ctx: Ctx) -> dict:
    _template_id, entry = _known(ctx)
    return {"errcode": 0, "errmsg": "ok", **entry["template"]}


def template_del(ctx: Ctx) -> dict:
    template_id, _entry = _known(ctx)
    del ctx.app.group_welcome_templates[template_id]
    return {"errcode": 0, "errmsg": "ok"}


ROUTES = {
    "/cgi-bin/externalcontact/group_welcome_template/add": template_add,
    "/cgi-bin/externalcontact/group_welcome_template/edit": template_edit,
    "/cgi-bin/externalcontact/group_welcome_template/get": template_get,
    "/cgi-bin/externalcontact/group_welcome_template/del": template_del,
}
