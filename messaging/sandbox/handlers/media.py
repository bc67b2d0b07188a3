"""WeCom media: temporary media (`media/upload`), lasting image URLs (`media/uploadimg`) and
attachment resources (`media/upload_attachment`, what moments take).

- 上传临时素材 (https://developer.work.weixin.qq.com/document/path/90253): multipart/form-data, the
  file in the part named "media"; `type` image | voice | video | file (else 40005); every file more
  than 5 bytes; image ≤10 MB JPG/PNG, voice ≤2 MB AMR, video ≤10 MB MP4, file ≤20 MB. Answers
  `{"type", "media_id", "created_at"}` (created_at a string of seconds); the media_id is valid 3 days,
  after which WeCom answers 40007 (不合法的media_id参数) wherever it is used.
- 上传图片 (https://developer.work.weixin.qq.com/document/path/90256): JPG/PNG of 5 B to 2 MB; the URL
  is lasting; at most 100 images a day per corp.
- 上传附件资源 (https://developer.work.weixin.qq.com/document/path/95098; the service providers' copy
  /96347 read 2026-12): `media/upload_attachment?media_type=image|video|file&attachment_type=1|2`
  (1 朋友圈, 2 商品图册), multipart "media" as above; "朋友圈附件类型,仅支持图片与视频"; the media_id
  lasts 3 days; answers `{"errcode", "errmsg", "type", "media_id", "created_at"}` (created_at a
  number here). Limits: image ≤10 MB JPG/PNG, video ≤10 MB MP4, file ≤20 MB, every file more than
  5 bytes (those of 上传临时素材), refused with the same codes (40009 / 40011 / 40006 size, 40004
  format, 44001 no file; no access_token 41001, answered before any handler). A bad or missing
  media_type is 40005 (不合法的type参数); a file for attachment_type 1 is 40005 too and a bad or
  missing attachment_type 40058 — the page names no code for either [unverified].
  The entry remembers its attachment_type: add_moment_task takes only attachment_type 1 media_ids
  (wecom_moments.py).
Error codes from the global list (全局错误码, https://developer.work.weixin.qq.com/document/path/90313):
40004 bad media file type, 40005 bad type, 40006 bad file size, 40009 bad image size, 40011 bad video
size, 44001 empty media, 45009 over the daily limit.
"""

from __future__ import annotations

import hashlib
import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError

MEDIA_ID_SECONDS = 3 * 24 * 3600
MIN_BYTES = 5
LIMITS = {
    # type: (max bytes, errcode for a bad size)
    "image": (10 * 1024 * 1024, 40009),
    "voice": (2 * 1024 * 1024, 40006),
    "video": (10 * 1024 * 1024, 40011),
    "file": (20 * 1024 * 1024, 40006),
}
UPLOADIMG_MAX_BYTES = 2 * 1024 * 1024
UPLOADIMG_PER_DAY = 100
# Uploads whose handler judges a missing or unreadable file itself (44001), rather than the server
# answering a body that is not multipart/JSON.
UPLOAD_PATHS = frozenset({"/cgi-bin/media/upload", "/cgi-bin/media/uploadimg", "/cgi-bin/media/upload_attachment"})
ATTACHMENT_TYPES = {1: ("image", "video"), 2: ("image", "video", "file")}  # 1 朋友圈, 2 商品图册


def _format_ok(media_type: str, content: bytes) -> bool:
    if media_type == "image":
        return content.startswith(b"\xff\xd8\xff") or content.startswith(b"\x89PNG\r\n\x1a\n")
    if media_type == "voice":
        return content.startswith(b"#!AMR")
    if media_type == "video":
        return content[4:8] == b"ftyp"
    return True


def _media_part(ctx: Ctx) -> tuple[str, bytes]:
    """(filename, bytes) of the multipart file named "media" (parsed by the server, multipart.py);
    44001 when there is none."""
    media = (ctx.extra.get("files") or {}).get("media")
    if media is None:
        raise ApiError(44001, "empty media data")
    return media.filename, media.data


def media_id_check(ctx: Ctx, media_id, *, media_type: str | None = None, attachment_type: int | None = None) -> dict:
    """The uploaded media of this corp, valid now (3 days from upload); 40007 otherwise. With
    `attachment_type`, only a media_id of media/upload_attachment with that attachment_type (a
    moment's attachments). Other APIs are not narrowed: no page says whether they refuse an
    attachment resource's media_id."""
    entry = ctx.app.media.get(media_id) if isinstance(media_id, str) else None
    if entry is None or ctx.state.now() - entry["created_at"] > MEDIA_ID_SECONDS:
        raise ApiError(40007, "invalid media_id")
    if attachment_type is not None and entry.get("attachment_type") != attachment_type:
        raise ApiError(40007, f"invalid media_id: not uploaded with upload_attachment attachment_type={attachment_type}")
    if media_type is not None and entry["type"] != media_type:
        raise ApiError(40007, f"media_id is not of type {media_type}")
    return entry


def upload(ctx: Ctx) -> dict:
    media_type = ctx.query.get("type", "")
    if media_type not in LIMITS:
        raise ApiError(40005, "invalid media type")
    media_id, created_at = _store(ctx, media_type, prefix="3")
    return {"errmsg": "", "type": media_type, "media_id": media_id, "created_at": str(created_at)}


def upload_attachment(ctx: Ctx) -> dict:
    media_type = ctx.query.get("media_type", "")
    if media_type not in ("image", "video", "file"):
        raise ApiError(40005, "invalid media_type")
    try:
        attachment_type = int(ctx.query.get("attachment_type", ""))
    except ValueError:
        attachment_type = 0
    if attachment_type not in ATTACHMENT_TYPES:
        raise ApiError(40058, "invalid attachment_type")
    if media_type not in ATTACHMENT_TYPES[attachment_type]:
        raise ApiError(40005, "invalid media_type: moments' attachments are images and videos")
    media_id, created_at = _store(ctx, media_type, prefix="3a", attachment_type=attachment_type)
    return {"errmsg": "", "type": media_type, "media_id": media_id, "created_at": created_at}


def _store(ctx: Ctx, media_type: str, *, prefix: str, **recorded) -> tuple[str, int]:
    """The uploaded file checked against its type's size and format (page 90253's limits, shared by
    upload_attachment) and kept; its new media_id and created_at."""
    filename, content = _media_part(ctx)
    limit, size_errcode = LIMITS[media_type]
    if not MIN_BYTES < len(content) <= limit:
        raise ApiError(size_errcode, "invalid media size")
    if not _format_ok(media_type, content):
        raise ApiError(40004, "invalid media file type")
    created_at = int(ctx.state.now())
    media_id = prefix + secrets.token_urlsafe(40)
    ctx.app.media[media_id] = {
        "type": media_type, "created_at": created_at, "size": len(content), "filename": filename,
        "sha256": hashlib.sha256(content).hexdigest(), **recorded,
    }
    return media_id, created_at


def uploadimg(ctx: Ctx) -> dict:
    filename, content = _media_part(ctx)
    if not MIN_BYTES <= len(content) <= UPLOADIMG_MAX_BYTES:
        raise ApiError(40009, "invalid image size")
    if not _format_ok("image", content):
        raise ApiError(40004, "invalid media file type")
    day = ctx.state.today()
    used = ctx.app.uploadimg_per_day.get(day, 0)
    if used >= UPLOADIMG_PER_DAY:
        raise ApiError(45009, "reach max api daily quota limit")
    ctx.app.uploadimg_per_day[day] = used + 1
    digest = hashlib.sha256(content).hexdigest()
    return {"url": f"https://wework.qpic.cn/wwpic/sandbox/{digest[:32]}/0"}


ROUTES = {
    "/cgi-bin/media/upload": upload,
    "/cgi-bin/media/uploadimg": uploadimg,
    "/cgi-bin/media/upload_attachment": upload_attachment,
}
