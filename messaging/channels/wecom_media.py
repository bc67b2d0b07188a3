"""WeCom media: the files sent as attachments (welcome messages, group messages, moments).

WeCom takes an attachment as a `media_id` from `media/upload`, valid for 3 days from its `created_at`
(上传临时素材, https://developer.work.weixin.qq.com/document/path/90253), or — for the pictures of
links — as a lasting URL from `media/uploadimg` (上传图片,
https://developer.work.weixin.qq.com/document/path/90256). So the product keeps the file itself
(MediaFile) and, per corp, what WeCom gave for it (WeComMedia): a media_id is uploaded at send time
and uploaded again once it is older than MEDIA_ID_REUSE (3 days less a margin, so that it never
expires between being chosen and being used), or when WeCom answers 40007 (media_invalidate).

Moments take neither: add_moment_task (https://developer.work.weixin.qq.com/document/path/95094) wants
the media_id of 上传附件资源 (`media/upload_attachment?media_type=image|video&attachment_type=1`,
https://developer.work.weixin.qq.com/document/path/95098, the same text at /96347): images and videos
only for moments, the same 3 days of life, cached the same way under its own purpose (a media_id of
one kind of upload is no use to the other).

Callers (welcome messages, group messages, moments) use:
- media_file_create(name=, content=, content_type=) → MediaFile (checked against WeCom's limits);
- temporary_media_id(account, media_file) → a media_id valid for at least MEDIA_ID_MARGIN;
- moment_media_id(account, media_file) → a moment attachment's media_id (upload_attachment);
- image_url(account, media_file) → the lasting URL of an image;
- attachments_validate(specs) / attachments_render(account, specs): the product's attachment specs
  ({"msgtype": "image", "media_file": id}, {"msgtype": "link", "title", "url", "desc", "media_file"},
  {"msgtype": "miniprogram", "title", "appid", "page", "media_file"}, {"msgtype": "video" | "file",
  "media_file": id}) checked, and turned into WeCom's `attachments` list.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from messaging.channels.clients import wecom_client
from messaging.channels.models import MediaFile, MediaKind, MediaPurpose, WeComMedia
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

MEDIA_ID_LIFE = timedelta(days=3)
# A media_id this close to its end is uploaded again rather than used.
MEDIA_ID_MARGIN = timedelta(hours=1)
MEDIA_ID_REUSE = MEDIA_ID_LIFE - MEDIA_ID_MARGIN
# WeCom answers 40007 for a media_id it does not know (expired, or of another corp).
MEDIA_ID_INVALID = 40007
# 上传附件资源 (page 95098): attachment_type 1 朋友圈 (images and videos only), 2 商品图册.
ATTACHMENT_TYPE_MOMENT = 1
MOMENT_MEDIA_KINDS = (MediaKind.IMAGE, MediaKind.VIDEO)

# 上传的媒体文件限制 (page 90253): every file more than 5 bytes; image ≤10 MB JPG/PNG, voice ≤2 MB AMR,
# video ≤10 MB MP4, file ≤20 MB.
MIN_BYTES = 5
MAX_BYTES = {
    MediaKind.IMAGE: 10 * 1024 * 1024,
    MediaKind.VOICE: 2 * 1024 * 1024,
    MediaKind.VIDEO: 10 * 1024 * 1024,
    MediaKind.FILE: 20 * 1024 * 1024,
}
# media/uploadimg (page 90256): JPG/PNG between 5 B and 2 MB.
UPLOADIMG_MAX_BYTES = 2 * 1024 * 1024

# Attachments of one message (发送新客户欢迎语, https://developer.work.weixin.qq.com/document/path/92599;
# the same shapes in add_msg_template and add_moment_task): at most 9, and these field limits in bytes.
MAX_ATTACHMENTS = 9
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
LINK_TITLE_BYTES, LINK_DESC_BYTES, LINK_URL_BYTES = 128, 512, 2048
MINIPROGRAM_TITLE_BYTES = 64
# The media kind each attachment's file must be.
_ATTACHMENT_MEDIA_KIND = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "file": None,  # any kind of file
    "miniprogram": MediaKind.IMAGE,  # the cover
    "link": MediaKind.IMAGE,  # the picture
}


def media_kind_of(content: bytes) -> str:
    """The WeCom media type a file's bytes are (its signature), or "file" for anything else."""
    if content.startswith(b"\xff\xd8\xff") or content.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE
    if content.startswith(b"#!AMR"):
        return MediaKind.VOICE
    if content[4:8] == b"ftyp":
        return MediaKind.VIDEO
    return MediaKind.FILE


def _refuse(message: str, **detail: Any) -> ApplicationError:
    return ApplicationError(message, code=MessagingError.MEDIA_INVALID, detail=detail or None)


def media_file_create(*, name: str, content: bytes, content_type: str = "", kind: str = "") -> MediaFile:
    """Keep a file to send as a WeCom attachment. `kind` defaults to what the bytes are (an image, an
    AMR voice, an MP4 video, otherwise a file); a file WeCom would refuse is refused here (4xx)."""
    kind = media_file_check(content=content, kind=kind)
    name = (name or "file").strip()[:128] or "file"
    return MediaFile.objects.create(
        name=name, kind=kind, content_type=content_type[:100], size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content
    )


def media_file_check(*, content: bytes, kind: str = "") -> str:
    """The kind of a file WeCom would take (its bytes checked against the kind's format and size);
    a 4xx naming the problem otherwise."""
    detected = media_kind_of(content)
    kind = kind or detected
    if kind not in MAX_BYTES:
        raise _refuse(gettext("Unknown media kind."), kind=kind)
    if kind != MediaKind.FILE and kind != detected:
        raise _refuse(gettext("The file is not of that kind (images are JPG or PNG, voice AMR, video MP4)."), kind=kind)
    if not MIN_BYTES < len(content) <= MAX_BYTES[kind]:
        raise _refuse(
            gettext("The file must be more than 5 bytes and at most %(max)s bytes for this kind.") % {"max": MAX_BYTES[kind]},
            kind=kind,
            size=len(content),
        )
    return kind


def temporary_media_id(account, media_file: MediaFile, *, now: datetime | None = None) -> str:
    """A media_id of `media_file` on the account's corp, uploaded now unless a young enough one exists."""
    now = now or timezone.now()
    cached = WeComMedia.objects.filter(account=account, media_file=media_file, purpose=MediaPurpose.TEMPORARY).first()
    if cached is not None and cached.media_id and now - cached.uploaded_at < MEDIA_ID_REUSE:
        return cached.media_id
    content = bytes(media_file.content)
    answer = wecom_client(account).post(
        "media/upload",
        params={"type": media_file.kind},
        files={"media": (media_file.name, content, media_file.content_type or "application/octet-stream")},
    )
    media_id = answer["media_id"]
    _remember(account, media_file, MediaPurpose.TEMPORARY, media_id=media_id, uploaded_at=_uploaded_at(answer, now))
    return media_id


def _uploaded_at(answer: dict, now: datetime) -> datetime:
    # WeCom's created_at (seconds; a string from media/upload, a number from upload_attachment) is when
    # the 3 days start; our clock if it is missing.
    created = str(answer.get("created_at") or "")
    return datetime.fromtimestamp(int(created), tz=UTC) if created.isdigit() else now


def moment_media_id(account, media_file: MediaFile, *, now: datetime | None = None) -> str:
    """A moment attachment's media_id (media/upload_attachment, attachment_type=1) on the account's
    corp, uploaded now unless a young enough one exists; images and videos only."""
    now = now or timezone.now()
    if media_file.kind not in MOMENT_MEDIA_KINDS:
        raise _refuse(gettext("A moment's attachment must be a JPG or PNG image or an MP4 video."), media_file=media_file.pk)
    cached = WeComMedia.objects.filter(account=account, media_file=media_file, purpose=MediaPurpose.MOMENT).first()
    if cached is not None and cached.media_id and now - cached.uploaded_at < MEDIA_ID_REUSE:
        return cached.media_id
    answer = wecom_client(account).post(
        "media/upload_attachment",
        params={"media_type": media_file.kind, "attachment_type": ATTACHMENT_TYPE_MOMENT},
        files={"media": (media_file.name, bytes(media_file.content), media_file.content_type or "application/octet-stream")},
    )
    media_id = answer["media_id"]
    _remember(account, media_file, MediaPurpose.MOMENT, media_id=media_id, uploaded_at=_uploaded_at(answer, now))
    return media_id


def image_url(account, media_file: MediaFile) -> str:
    """The lasting URL WeCom gives for an image (media/uploadimg), uploaded once per corp."""
    cached = WeComMedia.objects.filter(account=account, media_file=media_file, purpose=MediaPurpose.IMAGE_URL).first()
    if cached is not None and cached.url:
        return cached.url
    if media_file.kind != MediaKind.IMAGE or media_file.size > UPLOADIMG_MAX_BYTES:
        raise _refuse(gettext("A link or moment picture must be a JPG or PNG image of at most 2 MB."), media_file=media_file.pk)
    answer = wecom_client(account).post(
        "media/uploadimg", files={"media": (media_file.name, bytes(media_file.content), media_file.content_type or "image/png")}
    )
    _remember(account, media_file, MediaPurpose.IMAGE_URL, url=answer["url"], uploaded_at=timezone.now())
    return answer["url"]


def _remember(account, media_file: MediaFile, purpose: str, **values: Any) -> None:
    # Two workers uploading the same file at once both get a valid media_id; the last one is kept.
    with transaction.atomic():
        WeComMedia.objects.update_or_create(
            account=account, media_file=media_file, purpose=purpose, defaults={"media_id": "", "url": "", **values}
        )


def media_invalidate(account, media_ids: list[str]) -> int:
    """Forget media_ids WeCom refused (40007): the next use uploads the file again."""
    return WeComMedia.objects.filter(
        account=account, purpose__in=[MediaPurpose.TEMPORARY, MediaPurpose.MOMENT], media_id__in=media_ids
    ).delete()[0]


# --- attachments ------------------------------------------------------------------------------


def _text_field(spec: dict, name: str, limit: int, index: int, *, required: bool) -> str:
    value = spec.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _refuse(gettext("Attachment %(n)s needs the field %(field)s.") % {"n": index + 1, "field": name}, index=index, field=name)
    if len(value.encode()) > limit:
        raise _refuse(
            gettext("Attachment %(n)s: %(field)s is longer than %(limit)s bytes.") % {"n": index + 1, "field": name, "limit": limit},
            index=index,
            field=name,
        )
    return value


def attachments_validate(specs: Any) -> list[dict]:
    """The attachment specs, checked against WeCom's rules (page 92599) and normalized; a 4xx names
    the first problem. Media files must exist and be of the kind the attachment needs."""
    if specs in (None, ""):
        return []
    if not isinstance(specs, list):
        raise _refuse(gettext("Attachments must be a list."))
    if len(specs) > MAX_ATTACHMENTS:
        raise _refuse(gettext("At most 9 attachments."), count=len(specs))
    media_ids = {spec.get("media_file") for spec in specs if isinstance(spec, dict)}
    files = {f.pk: f.kind for f in MediaFile.objects.filter(pk__in=[m for m in media_ids if isinstance(m, int)]).only("kind")}
    clean: list[dict] = []
    for index, spec in enumerate(specs):
        msgtype = spec.get("msgtype") if isinstance(spec, dict) else None
        if msgtype not in ATTACHMENT_TYPES:
            raise _refuse(gettext("Attachment %(n)s: unknown msgtype.") % {"n": index + 1}, index=index, allowed=list(ATTACHMENT_TYPES))
        item: dict[str, Any] = {"msgtype": msgtype}
        media = spec.get("media_file")
        media_required = msgtype != "link"
        if media is not None or media_required:
            wanted = _ATTACHMENT_MEDIA_KIND[msgtype]
            if not isinstance(media, int) or isinstance(media, bool) or media not in files or (wanted and files[media] != wanted):
                raise _refuse(
                    gettext("Attachment %(n)s needs a media file of the right kind.") % {"n": index + 1}, index=index, kind=wanted or "any"
                )
            item["media_file"] = media
        if msgtype == "link":
            item["title"] = _text_field(spec, "title", LINK_TITLE_BYTES, index, required=True)
            item["url"] = _text_field(spec, "url", LINK_URL_BYTES, index, required=True)
            if not item["url"].startswith(("http://", "https://")):
                raise _refuse(gettext("Attachment %(n)s: the link must be an http(s) URL.") % {"n": index + 1}, index=index, field="url")
            item["desc"] = _text_field(spec, "desc", LINK_DESC_BYTES, index, required=False)
        elif msgtype == "miniprogram":
            item["title"] = _text_field(spec, "title", MINIPROGRAM_TITLE_BYTES, index, required=True)
            item["appid"] = _text_field(spec, "appid", 64, index, required=True)
            item["page"] = _text_field(spec, "page", 1024, index, required=True)
        clean.append(item)
    return clean


def attachments_render(account, specs: list[dict], *, now: datetime | None = None) -> list[dict]:
    """WeCom's `attachments` for validated specs: files uploaded (or their cached media_id reused),
    link pictures as lasting URLs."""
    # Without their bytes: a file's content is read only when it has to be uploaded.
    files = {f.pk: f for f in MediaFile.objects.defer("content").filter(pk__in=[s["media_file"] for s in specs if s.get("media_file")])}
    rendered: list[dict] = []
    for spec in specs:
        msgtype = spec["msgtype"]
        media = files.get(spec.get("media_file")) if spec.get("media_file") else None
        if msgtype == "link":
            link = {"title": spec["title"], "url": spec["url"], "desc": spec.get("desc", "")}
            if media is not None:
                link["picurl"] = image_url(account, media)
            rendered.append({"msgtype": "link", "link": link})
        elif msgtype == "miniprogram":
            rendered.append({"msgtype": "miniprogram", "miniprogram": {
                "title": spec["title"], "appid": spec["appid"], "page": spec["page"],
                "pic_media_id": temporary_media_id(account, media, now=now),
            }})
        else:
            rendered.append({"msgtype": msgtype, msgtype: {"media_id": temporary_media_id(account, media, now=now)}})
    return rendered


def rendered_media_ids(attachments: list[dict]) -> list[str]:
    """The media_ids a rendered attachments list uses (to forget them after a 40007)."""
    ids = []
    for item in attachments:
        body = item.get(item.get("msgtype", ""), {})
        ids += [body[key] for key in ("media_id", "pic_media_id") if body.get(key)]
    return ids


__all__ = [
    "MAX_ATTACHMENTS",
    "MEDIA_ID_INVALID",
    "MEDIA_ID_REUSE",
    "attachments_render",
    "attachments_validate",
    "image_url",
    "media_file_check",
    "media_file_create",
    "media_invalidate",
    "media_kind_of",
    "moment_media_id",
    "rendered_media_ids",
    "temporary_media_id",
]
