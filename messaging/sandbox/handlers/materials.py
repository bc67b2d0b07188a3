"""Materials (素材管理): permanent materials, temporary media and article body images.

Pages (limits and codes as documented there):
- 新增永久素材 https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Adding_Permanent_Assets.html
  image ≤10 MB (bmp/png/jpeg/jpg/gif), voice ≤2 MB (mp3/wma/wav/amr, ≤60 s), video ≤10 MB (mp4,
  title and introduction required), thumb ≤64 KB (jpg); at most 100,000 images and 1,000 of each
  other type; `media/uploadimg`: jpg/png under 1 MB, an URL for article bodies, not counted.
- 新增临时素材 https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/New_temporary_materials.html
  the same sizes (voice amr/mp3, video mp4); a media_id lives 3 days.
- 获取素材总数 https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Get_the_total_of_all_materials.html
- 获取素材列表 https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Get_materials_list.html
  type image|video|voice|news, offset, count 1–20.
- 删除永久素材 https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Deleting_Permanent_Assets.html
- 群发接口 https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html
  an mpvideo mass send names a media_id made by `media/uploadvideo` (POST JSON media_id, title,
  description) from a video's media_id; the answer is {"type": "video", "media_id", "created_at"}.
  The new media_id is a temporary one (3 days, like media/upload) [unverified: the page does not
  state its lifetime]; an unknown or non-video media_id answers 40007, a body that is not a JSON
  object 47001.
- 全局返回码 https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html:
  40004 invalid media type, 40005 invalid file type, 40007 invalid media_id, 40009–40012 invalid
  image / voice / video / thumb size, 41005 media data missing, 45001 media size over the limit.
"""

from __future__ import annotations

import json
import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.content_store import StoredMedia, content_store
from messaging.sandbox.state import ApiError, App

TEMPORARY_SECONDS = 3 * 24 * 3600
MB = 1024 * 1024
# kind -> (max bytes, permanent extensions, temporary extensions, errcode for a bad size)
MEDIA_RULES = {
    "image": (10 * MB, {"bmp", "png", "jpeg", "jpg", "gif"}, {"png", "jpeg", "jpg", "gif"}, 40009),
    "voice": (2 * MB, {"mp3", "wma", "wav", "amr"}, {"amr", "mp3"}, 40010),
    "video": (10 * MB, {"mp4"}, {"mp4"}, 40011),
    "thumb": (64 * 1024, {"jpg"}, {"jpg"}, 40012),
}
PERMANENT_LIMITS = {"image": 100_000, "voice": 1_000, "video": 1_000, "thumb": 1_000}
BODY_IMAGE_MAX = 1 * MB
BODY_IMAGE_TYPES = {"jpg", "jpeg", "png"}
LIST_TYPES = {"image", "video", "voice", "news"}


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def oa_only(ctx: Ctx) -> None:
    if ctx.app.kind != "oa":
        raise ApiError(48001, "api unauthorized")


def _upload(ctx: Ctx, *, permanent: bool):
    oa_only(ctx)
    kind = ctx.query.get("type", "")
    if kind not in MEDIA_RULES:
        raise ApiError(40004, "invalid media type")
    upload = ctx.extra.get("files", {}).get("media")
    if upload is None or not upload.data:
        raise ApiError(41005, "media data missing")
    max_bytes, permanent_types, temporary_types, size_errcode = MEDIA_RULES[kind]
    if _extension(upload.filename) not in (permanent_types if permanent else temporary_types):
        raise ApiError(40005, "invalid file type")
    if len(upload.data) > max_bytes:
        raise ApiError(size_errcode if kind != "image" else 45001, "media size out of limit")
    return kind, upload


def _public_url(app: App, media_id: str, filename: str) -> str:
    # WeChat answers an mmbiz.qpic.cn URL; the product never loads it in the console.
    return f"http://mmbiz.qpic.cn/sandbox/{app.app_id}/{media_id}/{_extension(filename) or 'bin'}"


def add_material(ctx: Ctx) -> dict:
    kind, upload = _upload(ctx, permanent=True)
    store = content_store(ctx.app)
    title = introduction = ""
    if kind == "video":
        try:
            description = json.loads(ctx.extra.get("fields", {}).get("description") or ctx.query.get("description") or "{}")
        except ValueError:
            raise ApiError(47001, "data format error") from None
        title, introduction = str(description.get("title") or ""), str(description.get("introduction") or "")
        if not title or not introduction:
            raise ApiError(47003, "argument invalid! description.title or introduction missing")
    used = sum(1 for m in store.media.values() if m.permanent and m.kind == kind)
    if used >= PERMANENT_LIMITS[kind]:
        # The documented totals; the errcode WeChat answers beyond them is [unverified].
        raise ApiError(45001, "material count out of limit")
    media_id = secrets.token_urlsafe(32)
    url = _public_url(ctx.app, media_id, upload.filename) if kind in ("image", "thumb") else ""
    store.media[media_id] = StoredMedia(media_id=media_id, kind=kind, filename=upload.filename, size=len(upload.data),
                                        created_at=ctx.state.now(), permanent=True, url=url, title=title,
                                        introduction=introduction)
    return {"media_id": media_id, **({"url": url} if url else {})}


def upload_media(ctx: Ctx) -> dict:
    kind, upload = _upload(ctx, permanent=False)
    now = ctx.state.now()
    media_id = secrets.token_urlsafe(48)
    content_store(ctx.app).media[media_id] = StoredMedia(media_id=media_id, kind=kind, filename=upload.filename,
                                                         size=len(upload.data), created_at=now, permanent=False)
    key = "thumb_media_id" if kind == "thumb" else "media_id"
    return {"type": kind, key: media_id, "created_at": int(now), "_no_errcode": True}


def upload_body_image(ctx: Ctx) -> dict:
    oa_only(ctx)
    upload = ctx.extra.get("files", {}).get("media")
    if upload is None or not upload.data:
        raise ApiError(41005, "media data missing")
    if _extension(upload.filename) not in BODY_IMAGE_TYPES:
        raise ApiError(40005, "invalid file type")
    if len(upload.data) >= BODY_IMAGE_MAX:
        raise ApiError(40009, "invalid image size")
    url = _public_url(ctx.app, secrets.token_hex(16), upload.filename)
    content_store(ctx.app).body_images[url] = upload.filename
    return {"url": url, "_no_errcode": True}


def upload_mass_video(ctx: Ctx) -> dict:
    """media/uploadvideo: a video material (or unexpired temporary video) → the media_id an mpvideo
    mass send takes. Title and description are optional (wechatpy sends them empty)."""
    oa_only(ctx)
    if not isinstance(ctx.body, dict):
        raise ApiError(47001, "data format error")
    source = media_lookup(ctx, str(ctx.body.get("media_id") or ""), kinds={"video"})
    title, description = ctx.body.get("title"), ctx.body.get("description")
    if not isinstance(title, str | type(None)) or not isinstance(description, str | type(None)):
        raise ApiError(47001, "data format error")
    now = ctx.state.now()
    media_id = secrets.token_urlsafe(48)
    content_store(ctx.app).media[media_id] = StoredMedia(
        media_id=media_id, kind="mpvideo", filename=source.filename, size=source.size, created_at=now, permanent=False,
        title=title if title is not None else source.title, introduction=description if description is not None else source.introduction)
    return {"type": "video", "media_id": media_id, "created_at": int(now), "_no_errcode": True}


def media_lookup(ctx: Ctx, media_id: str, *, kinds: set[str]) -> StoredMedia:
    """A usable material or unexpired temporary media of one of `kinds` (40007 otherwise)."""
    media = content_store(ctx.app).media.get(media_id or "")
    if media is None or media.kind not in kinds:
        raise ApiError(40007, "invalid media_id")
    if not media.permanent and ctx.state.now() - media.created_at > TEMPORARY_SECONDS:
        raise ApiError(40007, "invalid media_id")
    return media


def get_materialcount(ctx: Ctx) -> dict:
    store = content_store(ctx.app)
    counts = {f"{kind}_count": 0 for kind in ("voice", "video", "image")}
    for media in store.media.values():
        if media.permanent and media.kind in ("voice", "video", "image"):
            counts[f"{media.kind}_count"] += 1
    return {**counts, "news_count": len(store.drafts), "_no_errcode": True}


def batchget_material(ctx: Ctx) -> dict:
    kind = ctx.arg("type")
    offset, count = ctx.arg("offset", 0), ctx.arg("count", 20)
    if kind not in LIST_TYPES:
        raise ApiError(40004, "invalid media type")
    if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 20:
        raise ApiError(47003, "argument invalid! offset or count")
    store = content_store(ctx.app)
    if kind == "news":
        # Permanent news materials are no longer created (drafts replaced them): the list is empty.
        return {"total_count": 0, "item_count": 0, "item": [], "_no_errcode": True}
    rows = [m for m in store.media.values() if m.permanent and m.kind == kind]
    page = rows[offset : offset + count]
    items = [{"media_id": m.media_id, "name": m.filename, "update_time": int(m.created_at),
              **({"url": m.url} if m.url else {})} for m in page]
    return {"total_count": len(rows), "item_count": len(items), "item": items, "_no_errcode": True}


def del_material(ctx: Ctx) -> dict:
    store = content_store(ctx.app)
    media = store.media.get(ctx.arg("media_id") or "")
    if media is None or not media.permanent:
        raise ApiError(40007, "invalid media_id")
    del store.media[media.media_id]
    return {}


ROUTES = {
    "/cgi-bin/material/add_material": add_material,
    "/cgi-bin/media/upload": upload_media,
    "/cgi-bin/media/uploadimg": upload_body_image,
    "/cgi-bin/media/uploadvideo": upload_mass_video,
    "/cgi-bin/material/get_materialcount": get_materialcount,
    "/cgi-bin/material/batchget_material": batchget_material,
    "/cgi-bin/material/del_material": del_material,
}
