"""WeCom media (messaging/channels/wecom_media.py) against the sandbox: the sandbox's media/upload and
media/uploadimg as strict as WeCom's (types, sizes, 3-day media_ids), media_ids cached per corp and
uploaded again when old, and welcome messages with every kind of attachment through the encrypted
callback path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from wechatpy.exceptions import WeChatClientException

from messaging.channels import wecom_media
from messaging.channels.clients import wecom_client
from messaging.channels.models import ChannelCode, MediaPurpose, WeComMedia, WelcomeMessage
from messaging.sandbox.registration import sandbox_register_account
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200
AMR = b"#!AMR\n" + b"\x00" * 200
MB = 1024 * 1024


def _corp(sandbox, corp_id="wwmediacorp00001"):
    account = ChannelAccountFactory(
        kind="wecom", app_id=corp_id, encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        api_base_url=sandbox.base_url, encrypt_mode="safe",
    )
    sandbox_register_account(account)
    sandbox.control.add_wecom_staff(corp_id, "zhangsan")
    return account


def _upload(account, media_type: str, content: bytes, name: str = "f.bin") -> dict:
    return wecom_client(account).post("media/upload", params={"type": media_type}, files={"media": (name, content, "application/octet-stream")})


def _uploads(sandbox) -> list[dict]:
    return [r for r in sandbox.control.requests("media/upload") if r["path"].endswith("/media/upload")]


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


# --- the sandbox is as strict as WeCom ---------------------------------------------------------


def test_sandbox_upload_enforces_wecom_types_and_limits(sandbox):
    account = _corp(sandbox)
    answer = _upload(account, "image", PNG, "a.png")
    assert answer["type"] == "image" and answer["media_id"] and answer["created_at"].isdigit()
    assert _errcode(lambda: _upload(account, "sticker", PNG)) == 40005
    assert _errcode(lambda: _upload(account, "image", b"GIF89a" + b"\x00" * 100)) == 40004
    assert _errcode(lambda: _upload(account, "image", b"\x89PNG")) == 40009  # not more than 5 bytes
    assert _errcode(lambda: _upload(account, "image", PNG + b"\x00" * (10 * MB))) == 40009
    assert _errcode(lambda: _upload(account, "voice", AMR + b"\x00" * (2 * MB))) == 40006
    assert _errcode(lambda: _upload(account, "voice", PNG)) == 40004
    assert _errcode(lambda: _upload(account, "video", PNG)) == 40004
    assert _errcode(lambda: _upload(account, "video", MP4 + b"\x00" * (10 * MB))) == 40011
    assert _errcode(lambda: _upload(account, "file", b"x" * (20 * MB + 1))) == 40006
    assert _upload(account, "file", b"x" * 6)["type"] == "file"
    assert _errcode(lambda: wecom_client(account).post("media/upload", params={"type": "file"}, data={"media": "x"})) == 44001


def test_sandbox_uploadimg_gives_a_lasting_url_within_its_limits(sandbox):
    account = _corp(sandbox)
    client = wecom_client(account)
    url = client.post("media/uploadimg", files={"media": ("a.jpg", JPG, "image/jpeg")})["url"]
    assert url.startswith("https://")
    assert _errcode(lambda: client.post("media/uploadimg", files={"media": ("a.png", PNG + b"\x00" * (2 * MB), "image/png")})) == 40009
    assert _errcode(lambda: client.post("media/uploadimg", files={"media": ("a.gif", b"GIF89a" + b"\x00" * 99, "image/gif")})) == 40004
    for _ in range(99):
        client.post("media/uploadimg", files={"media": ("a.jpg", JPG, "image/jpeg")})
    assert _errcode(lambda: client.post("media/uploadimg", files={"media": ("a.jpg", JPG, "image/jpeg")})) == 45009


# --- the product's media ---------------------------------------------------------------------


def test_media_files_are_checked_against_wecom_limits():
    assert wecom_media.media_file_create(name="a.png", content=PNG).kind == "image"
    assert wecom_media.media_file_create(name="v.mp4", content=MP4).kind == "video"
    assert wecom_media.media_file_create(name="doc.pdf", content=b"%PDF-1.4 hello").kind == "file"
    assert wecom_media.media_file_create(name="p.png", content=PNG, kind="file").kind == "file"
    for content, kind in ((b"\x89PNG", ""), (PNG + b"\x00" * (10 * MB), ""), (b"%PDF-1.4 hello", "image"), (PNG, "sticker")):
        with pytest.raises(ApplicationError) as raised:
            wecom_media.media_file_create(name="x", content=content, kind=kind)
        assert raised.value.code == "media_invalid"


def test_a_media_id_is_reused_for_three_days_less_a_margin_then_uploaded_again(sandbox):
    account, other = _corp(sandbox), _corp(sandbox, "wwmediacorp00002")
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    first = wecom_media.temporary_media_id(account, image)
    assert wecom_media.temporary_media_id(account, image) == first
    assert wecom_media.temporary_media_id(other, image) != first, "media_ids are per corp"
    uploads = _uploads(sandbox)
    assert len(uploads) == 2
    cached = WeComMedia.objects.get(account=account, media_file=image, purpose=MediaPurpose.TEMPORARY)
    WeComMedia.objects.filter(pk=cached.pk).update(uploaded_at=cached.uploaded_at - wecom_media.MEDIA_ID_REUSE + timedelta(minutes=1))
    assert wecom_media.temporary_media_id(account, image) == first, "still young enough"
    WeComMedia.objects.filter(pk=cached.pk).update(uploaded_at=cached.uploaded_at - wecom_media.MEDIA_ID_REUSE)
    second = wecom_media.temporary_media_id(account, image)
    assert second != first and len(_uploads(sandbox)) == 3


def test_an_image_url_is_uploaded_once_per_corp(sandbox):
    account = _corp(sandbox)
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    assert wecom_media.image_url(account, image) == wecom_media.image_url(account, image)
    assert len(sandbox.control.requests("media/uploadimg")) == 1
    with pytest.raises(ApplicationError):
        wecom_media.image_url(account, wecom_media.media_file_create(name="v.mp4", content=MP4))


def test_attachment_specs_are_checked():
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    video = wecom_media.media_file_create(name="v.mp4", content=MP4)
    good = [
        {"msgtype": "image", "media_file": image.pk},
        {"msgtype": "link", "title": "Spring", "url": "https://example.com/spring", "media_file": image.pk},
        {"msgtype": "miniprogram", "title": "Shop", "appid": "wx8bd80126147dfAAA", "page": "/pages/index", "media_file": image.pk},
        {"msgtype": "video", "media_file": video.pk},
        {"msgtype": "file", "media_file": video.pk},
    ]
    assert [a["msgtype"] for a in wecom_media.attachments_validate(good)] == ["image", "link", "miniprogram", "video", "file"]
    bad = [
        [{"msgtype": "image", "media_file": image.pk}] * 10,
        [{"msgtype": "sticker"}],
        [{"msgtype": "image", "media_file": video.pk}],
        [{"msgtype": "video", "media_file": 999999}],
        [{"msgtype": "link", "title": "x" * 129, "url": "https://example.com"}],
        [{"msgtype": "link", "title": "t", "url": "javascript:alert(1)"}],
        [{"msgtype": "miniprogram", "title": "t", "appid": "wx1", "media_file": image.pk}],
        "image",
    ]
    for specs in bad:
        with pytest.raises(ApplicationError) as raised:
            wecom_media.attachments_validate(specs)
        assert raised.value.code == "media_invalid"


# --- welcome messages with attachments --------------------------------------------------------


def _welcome_code_and_xml(sandbox, account, external: str, state: str) -> str:
    code = sandbox.control.add_external_contact(account.app_id, "zhangsan", external, state=state)
    return wechat_payload("wecom_add_external_contact.xml", to=account.app_id, staff="zhangsan", external_userid=external,
                          state=state, welcome_code=code)


def test_welcome_with_every_kind_of_attachment(deliver, sandbox):
    account = _corp(sandbox)
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    video = wecom_media.media_file_create(name="v.mp4", content=MP4)
    doc = wecom_media.media_file_create(name="menu.pdf", content=b"%PDF-1.4 menu")
    specs = [
        {"msgtype": "image", "media_file": image.pk},
        {"msgtype": "link", "title": "春季新品", "url": "https://example.com/spring", "desc": "看看", "media_file": image.pk},
        {"msgtype": "miniprogram", "title": "商城", "appid": "wx8bd80126147dfAAA", "page": "/pages/index", "media_file": image.pk},
        {"msgtype": "video", "media_file": video.pk},
        {"msgtype": "file", "media_file": doc.pk},
    ]
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_9", welcome_text="欢迎",
                               welcome_attachments=wecom_media.attachments_validate(specs))
    deliver(account, _welcome_code_and_xml(sandbox, account, "wmATT1", "store_9"))
    deliver(account, _welcome_code_and_xml(sandbox, account, "wmATT2", "store_9"))

    sent = sandbox.control.sent_messages(app_id=account.app_id, api="welcome")
    assert [m["touser"] for m in sent] == ["wmATT1", "wmATT2"]
    attachments = sent[0]["payload"]["attachments"]
    assert [a["msgtype"] for a in attachments] == ["image", "link", "miniprogram", "video", "file"]
    assert attachments[1]["link"]["picurl"].startswith("https://")
    assert attachments[0]["image"]["media_id"] == attachments[2]["miniprogram"]["pic_media_id"]
    assert sent[1]["payload"]["attachments"] == attachments, "the second welcome reuses the media_ids"
    assert len(_uploads(sandbox)) == 3, "one upload per file"
    assert set(WelcomeMessage.objects.values_list("state", flat=True)) == {"sent"}


def test_welcome_uploads_again_when_wecom_no_longer_knows_a_cached_media_id(deliver, sandbox):
    account = _corp(sandbox)
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_3", welcome_text="hi",
                               welcome_attachments=[{"msgtype": "image", "media_file": image.pk}])
    stale = wecom_media.temporary_media_id(account, image)
    sandbox.control.advance_clock(3 * 24 * 3600 + 1)  # on WeCom's side the media_id has expired
    deliver(account, _welcome_code_and_xml(sandbox, account, "wmOLD", "store_3"))
    [sent] = sandbox.control.sent_messages(app_id=account.app_id, api="welcome")
    assert sent["payload"]["attachments"][0]["image"]["media_id"] != stale
    assert [c["errcode"] for c in sandbox.control.requests("send_welcome_msg")] == [40007, 0]
    message = WelcomeMessage.objects.get(account=account)
    assert (message.state, message.attempts) == ("sent", 2)


def test_sandbox_welcome_refuses_bad_attachments(sandbox):
    account = _corp(sandbox)
    client = wecom_client(account)
    media_id = _upload(account, "image", PNG)["media_id"]

    def send(attachments):
        code = sandbox.control.add_external_contact(account.app_id, "zhangsan", f"wm{len(attachments)}x", state="")
        return client.post("externalcontact/send_welcome_msg", data={"welcome_code": code, "attachments": attachments})

    image = {"msgtype": "image", "image": {"media_id": media_id}}
    assert _errcode(lambda: send([image] * 10)) == 40058
    assert _errcode(lambda: send([{"msgtype": "voice", "voice": {"media_id": media_id}}])) == 40008
    assert _errcode(lambda: send([{"msgtype": "video", "video": {"media_id": media_id}}])) == 40007
    assert _errcode(lambda: send([{"msgtype": "file", "file": {}}])) == 41006
    assert _errcode(lambda: send([{"msgtype": "link", "link": {"title": "t"}}])) == 40058
    send([image] * 9)


def test_channel_code_api_takes_welcome_attachments(sandbox, api_client):
    account = _corp(sandbox)
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    body = {"account": account.pk, "name": "Store", "scene": "store_api", "staff_userids": ["zhangsan"], "welcome_text": "hi",
            "welcome_attachments": [{"msgtype": "image", "media_file": image.pk}]}
    created = api_client.post("/api/v1/channel-codes/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["welcome_attachments"] == [{"msgtype": "image", "media_file": image.pk}]
    bad = api_client.post("/api/v1/channel-codes/", {**body, "scene": "store_bad", "welcome_attachments": [{"msgtype": "gif"}]}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "media_invalid"


def test_media_file_upload_api(api_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ok = api_client.post("/api/v1/media-files/", {"file": SimpleUploadedFile("a.png", PNG, content_type="image/png")}, format="multipart")
    assert ok.status_code == 201, ok.content
    assert (ok.json()["kind"], ok.json()["size"]) == ("image", len(PNG))
    bad = api_client.post("/api/v1/media-files/", {"file": SimpleUploadedFile("a.png", b"abc", content_type="image/png")}, format="multipart")
    assert bad.status_code == 400 and bad.json()["code"] == "media_invalid"
    assert api_client.get("/api/v1/media-files/").json()["count"] == 1


def test_the_hourly_refresh_uploads_welcome_media_before_it_ages_out(sandbox):
    from messaging.channels.welcome import MEDIA_REFRESH_AHEAD, welcome_media_refresh

    account = _corp(sandbox)
    image = wecom_media.media_file_create(name="a.png", content=PNG)
    ChannelCode.objects.create(account=account, kind="contact_way", name="S", scene="store_r", welcome_text="hi",
                               welcome_attachments=[{"msgtype": "image", "media_file": image.pk}])
    ChannelCode.objects.create(account=account, kind="contact_way", name="T", scene="store_t", welcome_text="no attachments")
    assert welcome_media_refresh() == 1
    first = WeComMedia.objects.get(account=account, media_file=image).media_id
    assert welcome_media_refresh() == 1 and len(_uploads(sandbox)) == 1, "young media is left alone"
    WeComMedia.objects.filter(media_id=first).update(
        uploaded_at=WeComMedia.objects.get(media_id=first).uploaded_at - wecom_media.MEDIA_ID_REUSE + MEDIA_REFRESH_AHEAD / 2
    )
    welcome_media_refresh()
    assert WeComMedia.objects.get(account=account, media_file=image).media_id != first
    assert len(_uploads(sandbox)) == 2
