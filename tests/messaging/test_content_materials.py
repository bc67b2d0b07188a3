"""Materials through the sandbox: permanent uploads (image, voice, video, thumb), temporary media,
article body images, the count, the list and deletion — with WeChat's limits checked before the call
and enforced by the sandbox."""

from __future__ import annotations

import pytest
import requests

from messaging.content.materials import material_delete, material_upload, materials_sync
from messaging.content.models import Material
from scrm.errors import ApplicationError

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 2000


@pytest.mark.django_db(transaction=True)
def test_permanent_materials_are_uploaded_listed_counted_and_deleted(oa_account, sandbox):
    image = material_upload(account=oa_account, kind="image", name="cover.jpg", data=JPEG)
    thumb = material_upload(account=oa_account, kind="thumb", name="thumb.jpg", data=JPEG)
    voice = material_upload(account=oa_account, kind="voice", name="hello.mp3", data=b"ID3" + b"0" * 100)
    video = material_upload(account=oa_account, kind="video", name="clip.mp4", data=b"0" * 500, title="新品", introduction="春季新品")
    assert image.media_id and image.url.startswith("http://mmbiz.qpic.cn/")
    assert bytes(Material.objects.get(pk=image.pk).data) == JPEG

    upload = [r for r in sandbox.control.requests(path="/cgi-bin/material/add_material") if r["errcode"] == 0]
    assert [r["query"]["type"] for r in upload] == ["image", "thumb", "voice", "video"]
    assert upload[0]["body"]["media"]["size"] == len(JPEG)

    result = materials_sync(account=oa_account)
    assert (result.added, result.removed) == (0, 0)
    assert {k: result.counts[k] for k in ("image_count", "voice_count", "video_count")} == {"image_count": 1, "voice_count": 1, "video_count": 1}

    material_delete(material=voice)
    assert Material.objects.get(pk=voice.pk).removed_at is not None
    assert materials_sync(account=oa_account).counts["voice_count"] == 0
    assert {thumb.media_id, video.media_id} <= set(Material.objects.filter(removed_at__isnull=True).values_list("media_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_sync_adds_materials_uploaded_elsewhere_and_marks_deleted_ones(oa_account, sandbox):
    kept = material_upload(account=oa_account, kind="image", name="a.png", data=b"\x89PNG" + b"0" * 10)
    # Uploaded in WeChat's own console (here: straight to the sandbox) and deleted there.
    client = sandbox.wechat_client(oa_account.app_id, oa_account.app_secret)
    elsewhere = client.post("material/add_material", params={"type": "image"}, files={"media": ("b.gif", b"GIF89a", "image/gif")})
    client.post("material/del_material", data={"media_id": kept.media_id})

    result = materials_sync(account=oa_account)
    assert (result.added, result.removed) == (1, 1)
    added = Material.objects.get(media_id=elsewhere["media_id"])
    assert (added.name, added.size) == ("b.gif", 0)
    assert Material.objects.get(pk=kept.pk).removed_at is not None


@pytest.mark.django_db(transaction=True)
def test_temporary_media_and_body_images(oa_account, sandbox):
    temporary = material_upload(account=oa_account, kind="image", name="tmp.jpg", data=JPEG, permanent=False)
    assert temporary.media_id and temporary.expires_at is not None
    body = material_upload(account=oa_account, kind="body_image", name="inline.png", data=b"\x89PNG" + b"0" * 10)
    assert (body.media_id, body.url.startswith("http://mmbiz.qpic.cn/")) == ("", True)
    # Temporary media and body images are not permanent materials.
    assert materials_sync(account=oa_account).counts["image_count"] == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("kind", "name", "size", "permanent", "code"), [
    ("thumb", "t.png", 10, True, "material_bad_file"),
    ("thumb", "t.jpg", 64 * 1024 + 1, True, "material_too_large"),
    ("voice", "v.wav", 10, False, "material_bad_file"),  # temporary voice: amr/mp3 only
    ("body_image", "b.gif", 10, True, "material_bad_file"),
    ("body_image", "b.jpg", 1024 * 1024, True, "material_too_large"),
    ("video", "v.mp4", 10, True, "material_video_needs_title"),
    ("sticker", "s.jpg", 10, True, "material_bad_kind"),
])
def test_files_wechat_would_refuse_are_refused_before_the_call(oa_account, sandbox, kind, name, size, permanent, code):
    with pytest.raises(ApplicationError) as caught:
        material_upload(account=oa_account, kind=kind, name=name, data=b"0" * size, permanent=permanent)
    assert caught.value.code == code
    assert sandbox.control.requests(path="/cgi-bin/material/add_material") == []


@pytest.mark.parametrize(("path", "query", "files", "errcode"), [
    ("material/add_material", {"type": "thumb"}, {"media": ("t.jpg", b"0" * (64 * 1024 + 1), "image/jpeg")}, 40012),
    ("material/add_material", {"type": "image"}, {"media": ("t.txt", b"0", "text/plain")}, 40005),
    ("material/add_material", {"type": "sticker"}, {"media": ("t.jpg", b"0", "image/jpeg")}, 40004),
    ("material/add_material", {"type": "video"}, {"media": ("v.mp4", b"0", "video/mp4")}, 47003),
    ("media/upload", {"type": "voice"}, {"media": ("v.wav", b"0", "audio/wav")}, 40005),
    ("media/uploadimg", {}, {"media": ("b.jpg", b"0" * (1024 * 1024), "image/jpeg")}, 40009),
])
def test_the_sandbox_enforces_the_documented_limits(sandbox, path, query, files, errcode):
    sandbox.control.register_app(kind="oa", app_id="wxlimits", secret="s")
    token = requests.get(sandbox.base_url + "cgi-bin/token", params={"grant_type": "client_credential", "appid": "wxlimits", "secret": "s"}).json()["access_token"]
    answer = requests.post(sandbox.base_url + "cgi-bin/" + path, params={**query, "access_token": token}, files=files).json()
    assert answer["errcode"] == errcode


def test_the_sandbox_checks_media_ids_and_list_arguments(sandbox):
    sandbox.control.register_app(kind="oa", app_id="wxlist", secret="s")
    client = sandbox.wechat_client("wxlist", "s")
    from wechatpy.exceptions import WeChatClientException

    with pytest.raises(WeChatClientException) as caught:
        client.post("material/del_material", data={"media_id": "nope"})
    assert caught.value.errcode == 40007
    with pytest.raises(WeChatClientException) as caught:
        client.post("material/batchget_material", data={"type": "image", "offset": 0, "count": 21})
    assert caught.value.errcode == 47003
