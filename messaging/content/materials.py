"""Materials: uploads (permanent, temporary, article body images), deletion and the sync of the
library from WeChat. The limits are checked here first so the operator learns what is wrong before
a round trip (新增永久素材 / 新增临时素材 pages; see messaging/sandbox/handlers/materials.py)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import ChannelAccount
from messaging.content import wechat
from messaging.content.models import Material, MaterialKind
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

MB = 1024 * 1024
TEMPORARY_LIFETIME = timedelta(days=3)
# kind -> (max bytes, extensions of permanent materials, extensions of temporary media)
LIMITS = {
    MaterialKind.IMAGE: (10 * MB, {"bmp", "png", "jpeg", "jpg", "gif"}, {"png", "jpeg", "jpg", "gif"}),
    MaterialKind.VOICE: (2 * MB, {"mp3", "wma", "wav", "amr"}, {"amr", "mp3"}),
    MaterialKind.VIDEO: (10 * MB, {"mp4"}, {"mp4"}),
    MaterialKind.THUMB: (64 * 1024, {"jpg"}, {"jpg"}),
    # media/uploadimg: jpg/png under 1 MB.
    MaterialKind.BODY_IMAGE: (MB - 1, {"jpg", "jpeg", "png"}, set()),
}
LIST_PAGE = 20


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def material_file_check(*, kind: str, name: str, size: int, permanent: bool) -> None:
    """Raises a 400 naming the rule when WeChat would refuse the file."""
    if kind not in LIMITS or (kind == MaterialKind.BODY_IMAGE and not permanent):
        raise ApplicationError(code=MessagingError.MATERIAL_BAD_KIND, detail={"kind": kind})
    max_bytes, permanent_types, temporary_types = LIMITS[kind]
    allowed = permanent_types if permanent else temporary_types
    if _extension(name) not in allowed:
        raise ApplicationError(
            gettext("WeChat takes %(types)s files for this kind of material.") % {"types": "/".join(sorted(allowed))},
            code=MessagingError.MATERIAL_BAD_FILE, detail={"name": name, "allowed": sorted(allowed)},
        )
    if size > max_bytes or size == 0:
        raise ApplicationError(
            gettext("The file has %(size)d bytes; WeChat takes at most %(max)d for this kind of material.") % {"size": size, "max": max_bytes},
            code=MessagingError.MATERIAL_TOO_LARGE, detail={"size": size, "max": max_bytes},
        )


def material_upload(*, account: ChannelAccount, kind: str, name: str, data: bytes, permanent: bool = True,
                    title: str = "", introduction: str = "", content_type: str = "") -> Material:
    """Upload a file to WeChat (permanent material, temporary media or body image) and keep it."""
    wechat.service_account_check(account)
    material_file_check(kind=kind, name=name, size=len(data), permanent=permanent)
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    now = timezone.now()
    if kind == MaterialKind.BODY_IMAGE:
        answer = wechat.upload(account, gettext("the upload of an article image"), "media/uploadimg", kind=None,
                               name=name, data=data, content_type=content_type)
        media_id, url = "", answer.get("url", "")
    elif permanent:
        description = None
        if kind == MaterialKind.VIDEO:
            if not title or not introduction:
                raise ApplicationError(code=MessagingError.MATERIAL_VIDEO_NEEDS_TITLE)
            description = {"title": title, "introduction": introduction}
        answer = wechat.upload(account, gettext("the upload of a material"), "material/add_material", kind=kind,
                               name=name, data=data, content_type=content_type, description=description)
        media_id, url = answer.get("media_id", ""), answer.get("url", "")
    else:
        answer = wechat.upload(account, gettext("the upload of a temporary media"), "media/upload", kind=kind,
                               name=name, data=data, content_type=content_type)
        media_id, url = answer.get("media_id") or answer.get("thumb_media_id", ""), ""
    return Material.objects.create(
        account=account, kind=kind, permanent=permanent, name=name, media_id=media_id, url=url, title=title,
        introduction=introduction, content_type=content_type, size=len(data), data=data, uploaded_at=now,
        expires_at=None if permanent else now + TEMPORARY_LIFETIME,
    )


def material_delete(*, material: Material) -> None:
    """Delete a permanent material on WeChat (del_material), then mark it deleted here."""
    if material.permanent and material.media_id and material.removed_at is None:
        wechat.post(material.account, gettext("the deletion of a material"), "material/del_material", {"media_id": material.media_id})
    Material.objects.filter(pk=material.pk, removed_at__isnull=True).update(removed_at=timezone.now())


@dataclass
class MaterialSyncResult:
    added: int = 0
    removed: int = 0
    counts: dict | None = None


@transaction.atomic
def materials_sync(*, account: ChannelAccount) -> MaterialSyncResult:
    """Mirror the permanent library (batchget_material, 20 a page): materials uploaded elsewhere are
    added (without their bytes), those deleted on WeChat are marked deleted."""
    result = MaterialSyncResult()
    seen: set[str] = set()
    now = timezone.now()
    for kind in (MaterialKind.IMAGE, MaterialKind.VOICE, MaterialKind.VIDEO):
        offset = 0
        while True:
            page = wechat.post(account, gettext("the material list"), "material/batchget_material",
                               {"type": kind.value, "offset": offset, "count": LIST_PAGE})
            items = page.get("item") or []
            for item in items:
                seen.add(item["media_id"])
                _, created = Material.objects.get_or_create(
                    account=account, media_id=item["media_id"],
                    defaults={"kind": kind, "name": item.get("name") or item["media_id"], "url": item.get("url", ""),
                              "uploaded_at": now},
                )
                result.added += int(created)
            offset += len(items)
            if not items or offset >= int(page.get("total_count") or 0):
                break
    gone = Material.objects.filter(account=account, permanent=True, removed_at__isnull=True).exclude(media_id="")
    gone = gone.exclude(kind=MaterialKind.THUMB).exclude(media_id__in=seen)
    result.removed = gone.update(removed_at=now)
    result.counts = wechat.call(account, gettext("the material count"), lambda client: client.get("material/get_materialcount"))
    return result
