"""What a mass send names must exist, and the preview API.

群发接口 (https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html):
- mpnews: `mpnews.media_id` of a draft (草稿箱); image: `images.media_ids`, image materials; voice:
  `voice.media_id`; mpvideo: `mpvideo.media_id`, one made by media/uploadvideo (materials.py) from
  a video — a video material's own media_id is refused with 40007 as WeChat does; wxcard: `wxcard.card_id`.
  An unknown media_id answers 40007.
- 预览接口 message/mass/preview: `touser` (an openid) or `towxname`, one msgtype body; 100 calls a day;
  not counted in the user's 4 mass messages a month.
"""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.content_store import content_store
from messaging.sandbox.handlers.materials import media_lookup
from messaging.sandbox.state import ApiError

# msgtype -> (the body's key, the field that must be set)
MASS_BODIES = {"text": ("text", "content"), "mpnews": ("mpnews", "media_id"), "image": ("images", "media_ids"),
               "voice": ("voice", "media_id"), "mpvideo": ("mpvideo", "media_id"), "wxcard": ("wxcard", "card_id")}
PREVIEWS_PER_DAY = 100


def mass_content_check(ctx: Ctx, body: dict) -> str:
    """The msgtype of a valid body; 40008 for an unknown msgtype, 47003 for a missing field, 40007 for
    a media_id that names nothing of the account."""
    msgtype = body.get("msgtype")
    if msgtype not in MASS_BODIES:
        raise ApiError(40008, "invalid message type")
    key, field = MASS_BODIES[msgtype]
    content = body.get(key)
    if not isinstance(content, dict) or not content.get(field):
        raise ApiError(47003, f"argument invalid! {key}.{field} missing")
    store = content_store(ctx.app)
    if msgtype == "mpnews" and content["media_id"] not in store.drafts:
        raise ApiError(40007, "invalid media_id")
    if msgtype == "image":
        ids = content["media_ids"]
        if not isinstance(ids, list):
            raise ApiError(47001, "data format error")
        for media_id in ids:
            media_lookup(ctx, media_id, kinds={"image"})
    if msgtype == "voice":
        media_lookup(ctx, content["media_id"], kinds={"voice"})
    if msgtype == "mpvideo":
        media_lookup(ctx, content["media_id"], kinds={"mpvideo"})
    return msgtype


def mass_preview(ctx: Ctx) -> dict:
    state, app, body = ctx.state, ctx.app, ctx.body
    openid = body.get("touser")
    if not openid and not body.get("towxname"):
        raise ApiError(40003, "invalid openid")
    mass_content_check(ctx, body)
    app.calls.take("mass-preview", state.today(), limit=PREVIEWS_PER_DAY, error=ApiError(45009, "reach max api daily quota limit"))
    if openid:
        user = app.users.get(openid)
        if user is None or not user.subscribe:
            raise ApiError(43004, "require subscribe")
    msg_id = state.next_msgid()
    state.record_send(app, "mass_preview", msgid=msg_id, touser=openid or body.get("towxname"), payload=body)
    return {"msg_id": msg_id}


ROUTES = {"/cgi-bin/message/mass/preview": mass_preview}
