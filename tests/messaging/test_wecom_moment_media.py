"""Moments' attachments through 上传附件资源 (media/upload_attachment, attachment_type=1; WeCom pages
95094 and 95098) against the sandbox: the product uploads them there (not as temporary media), reuses
the media_id within its 3 days and uploads again past them; the sandbox refuses a temporary-media id
in a moment, and keeps upload_attachment's types, sizes and formats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from messaging.channels.models import MediaPurpose, WeComMedia
from messaging.channels.moment_models import WeComMoment
from messaging.channels.wecom_media import media_file_create, moment_media_id
from messaging.sandbox.registration import sandbox_register_account
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200
MB = 1024 * 1024


@pytest.fixture
def corp(sandbox):
    account = ChannelAccountFactory(kind="wecom", app_id="wwmomentmedia001", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox_register_account(account)
    sandbox.control.add_wecom_staff(account.app_id, "alice")
    return account


def _moment(api_client, corp, capture, **body) -> WeComMoment:
    with capture(execute=True):
        response = api_client.post("/api/v1/wecom/moments/", {"account": corp.pk, **body}, format="json")
    assert response.status_code == 202, response.content
    return WeComMoment.objects.get(pk=response.json()["id"])


def _uploads(sandbox, corp) -> list[dict]:
    return sandbox.control.requests(app_id=corp.app_id, path_contains="/cgi-bin/media/")


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


def test_moment_attachments_go_up_as_attachment_resources_and_a_four_day_old_one_is_uploaded_again(
    sandbox, corp, api_client, celery_eager, django_capture_on_commit_callbacks
):
    image = media_file_create(name="new.png", content=PNG)
    cover = media_file_create(name="cover.jpg", content=JPG)
    first = _moment(api_client, corp, django_capture_on_commit_callbacks, text="新品",
                    attachments=[{"msgtype": "image", "media_file": image.pk}])
    assert first.state == "submitted"
    [upload] = _uploads(sandbox, corp)
    assert upload["path"] == "/cgi-bin/media/upload_attachment"
    assert (upload["query"]["media_type"], upload["query"]["attachment_type"]) == ("image", "1")
    cached = WeComMedia.objects.get(account=corp, media_file=image)
    assert cached.purpose == MediaPurpose.MOMENT
    [call] = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert call["body"]["attachments"][0]["image"]["media_id"] == cached.media_id

    # A link's picture goes the same way (page 95094: link.media_id from 上传附件资源).
    _moment(api_client, corp, django_capture_on_commit_callbacks,
            attachments=[{"msgtype": "link", "title": "新品", "url": "https://example.com/n", "media_file": cover.pk}])
    assert [(u["path"], u["query"]["media_type"]) for u in _uploads(sandbox, corp)][1] == ("/cgi-bin/media/upload_attachment", "image")

    # Two days later the image's media_id is still good: used again, not uploaded.
    WeComMedia.objects.filter(pk=cached.pk).update(uploaded_at=timezone.now() - timedelta(days=2))
    _moment(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "image", "media_file": image.pk}])
    assert len(_uploads(sandbox, corp)) == 2

    # Four days later (WeCom forgot it after 3): uploaded again before add_moment_task, which never sees the old id.
    WeComMedia.objects.filter(pk=cached.pk).update(uploaded_at=timezone.now() - timedelta(days=4))
    sandbox.control.advance_clock(4 * 24 * 3600)
    fourth = _moment(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "image", "media_file": image.pk}])
    assert fourth.state == "submitted"
    assert len(_uploads(sandbox, corp)) == 3
    renewed = WeComMedia.objects.get(pk=cached.pk)
    assert renewed.media_id != cached.media_id
    calls = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert [c["errcode"] for c in calls] == [0, 0, 0, 0]
    assert calls[-1]["body"]["attachments"][0]["image"]["media_id"] == renewed.media_id
    # Nothing of a moment went up as temporary media.
    assert all(u["path"] == "/cgi-bin/media/upload_attachment" for u in _uploads(sandbox, corp))


def test_a_media_id_the_corp_forgot_early_is_uploaded_again_once(sandbox, corp, api_client, celery_eager,
                                                                  django_capture_on_commit_callbacks):
    video = media_file_create(name="v.mp4", content=MP4)
    _moment(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "video", "media_file": video.pk}])
    sandbox.control.advance_clock(3 * 24 * 3600 + 60)  # WeCom's 3 days are over; our cache thinks it young
    again = _moment(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "video", "media_file": video.pk}])
    assert again.state == "submitted"
    calls = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert [c["errcode"] for c in calls] == [0, 40007, 0]
    assert [u["query"]["media_type"] for u in _uploads(sandbox, corp)] == ["video", "video"]


def test_the_product_uploads_only_images_and_videos_as_moment_attachments(corp):
    document = media_file_create(name="a.txt", content=b"plain text file")
    with pytest.raises(ApplicationError) as raised:
        moment_media_id(corp, document)
    assert raised.value.code == "media_invalid"


def test_the_sandbox_refuses_a_temporary_media_id_in_a_moment(sandbox, corp):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    temporary = client.post("media/upload", params={"type": "image"}, files={"media": ("a.png", PNG, "image/png")})["media_id"]
    album = client.post("media/upload_attachment", params={"media_type": "image", "attachment_type": 2},
                        files={"media": ("a.png", PNG, "image/png")})["media_id"]
    answer = client.post("media/upload_attachment", params={"media_type": "image", "attachment_type": 1},
                         files={"media": ("a.png", PNG, "image/png")})
    assert answer["type"] == "image" and isinstance(answer["created_at"], int)
    moment_image = answer["media_id"]

    def add(media_id, kind="image"):
        body = {"title": "t", "url": "https://x.cn", "media_id": media_id} if kind == "link" else {"media_id": media_id}
        return client.post("externalcontact/add_moment_task", data={"attachments": [{"msgtype": kind, kind: body}]})

    assert _errcode(lambda: add(temporary)) == 40007
    assert _errcode(lambda: add(temporary, "link")) == 40007
    assert _errcode(lambda: add(album)) == 40007  # 商品图册, not 朋友圈
    assert add(moment_image)["jobid"]
    assert add(moment_image, "link")["jobid"]
    # A moment's media_id lives 3 days, like any media_id.
    sandbox.control.advance_clock(3 * 24 * 3600 + 1)
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    assert _errcode(lambda: add(moment_image)) == 40007


@pytest.mark.parametrize("params, content, errcode", [
    ({"media_type": "voice", "attachment_type": 1}, PNG, 40005),
    ({"attachment_type": 1}, PNG, 40005),
    ({"media_type": "image", "attachment_type": 3}, PNG, 40058),
    ({"media_type": "image"}, PNG, 40058),
    ({"media_type": "file", "attachment_type": 1}, b"a document", 40005),  # moments: images and videos only
    ({"media_type": "image", "attachment_type": 1}, PNG + b"\x00" * (10 * MB), 40009),
    ({"media_type": "video", "attachment_type": 1}, MP4 + b"\x00" * (10 * MB), 40011),
    ({"media_type": "file", "attachment_type": 2}, b"x" * (20 * MB + 1), 40006),
    ({"media_type": "image", "attachment_type": 1}, b"GIF89a" + b"\x00" * 100, 40004),
    ({"media_type": "video", "attachment_type": 1}, PNG, 40004),
    ({"media_type": "image", "attachment_type": 1}, b"\x89PNG", 40009),  # every file more than 5 bytes
])
def test_the_sandbox_keeps_upload_attachments_types_sizes_and_formats(sandbox, corp, params, content, errcode):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    assert _errcode(lambda: client.post("media/upload_attachment", params=params,
                                        files={"media": ("f.bin", content, "application/octet-stream")})) == errcode


def test_the_sandbox_takes_the_documented_upload_attachment_kinds(sandbox, corp):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    for params, content in (({"media_type": "video", "attachment_type": 1}, MP4), ({"media_type": "image", "attachment_type": 1}, JPG),
                            ({"media_type": "file", "attachment_type": 2}, b"a document")):
        assert client.post("media/upload_attachment", params=params, files={"media": ("f", content, "")})["type"] == params["media_type"]
    assert _errcode(lambda: client.post("media/upload_attachment", params={"media_type": "image", "attachment_type": 1})) == 44001
