"""Creating a customer moment from the console (消息通道 → 客户朋友圈 → 新增, Django's test client in
zh-Hans): staff members and tags picked by name, WeCom's limits refused on the form with a clear
Chinese message, a confirmation, then the moment in the list with its state, audited, and received by
the sandbox with its attachments uploaded through upload_attachment."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEntry
from messaging.channels.models import MediaFile
from messaging.channels.moment_models import WeComMoment
from tests.messaging.test_wecom_moments import MP4, PNG, corp  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

ADD = "/admin/messaging/wecommoment/add/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def console(celery_eager, django_capture_on_commit_callbacks):
    user = get_user_model().objects.create_user("moment-op", password="pw-operator-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="messaging",
                                                         codename__in=["add_wecommoment", "view_wecommoment"]))
    client = Client()
    client.force_login(user)
    client.user = user

    def post(data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(ADD, data, **ZH)

    post.client = client
    return post


def _form(corp, **fields) -> dict:  # noqa: F811
    data = {"account": corp.pk, "text": "", "kind": "none", "link_title": "", "link_url": ""}
    data.update(fields)
    return data


def _payload(page) -> str:
    return re.search(r'name="payload" value="([^"]+)"', page.content.decode()).group(1)


def _errors(page) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", m) for m in re.findall(r'data-testid="moment-(?:field-)?errors?">(.*?)</div>',
                                                                   page.content.decode(), re.S))


def test_the_form_renders_in_chinese_with_staff_and_tags_by_name(sandbox, corp, console):  # noqa: F811
    from customers.wecom.models import WeComStaff

    WeComStaff.objects.filter(account=corp, userid="alice").update(name="爱丽丝")
    page = console.client.get(ADD, **ZH)
    assert page.status_code == 200
    html = page.content.decode()
    assert "新建客户朋友圈" in html and "发表成员" in html and "可见客户标签" in html and "最多 9 张" in html
    assert "爱丽丝 (alice)" in html  # a staff member by name, the userid beside it
    assert "Level / VIP" in html  # the mirrored corp tag by name
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize("fields, files, message", [
    ({"text": "字" * 2001}, {}, "文本最多 2000 个字"),
    ({}, {}, "请填写文本或添加附件"),
    ({"kind": "images"}, {}, "请至少选择一张图片"),
    ({"kind": "images"}, {"images": [("p.png", PNG)] * 10}, "最多 9 张图片，当前选择了 10 张"),
    ({"kind": "images"}, {"images": [("a.gif", b"GIF89a" + b"\x00" * 50)]}, "a.gif 不是 JPG 或 PNG 图片"),
    ({"kind": "images"}, {"images": [("big.png", PNG + b"\x00" * (10 * 1024 * 1024))]}, "big.png 超过 10 MB"),
    ({"kind": "video"}, {"video": ("clip.mov", PNG)}, "clip.mov 不是 MP4 视频"),
    ({"kind": "link", "link_title": "新品", "link_url": "example.com"}, {}, "链接必须以 http:// 或 https:// 开头"),
    ({"kind": "link", "link_title": "", "link_url": "https://example.com"}, {}, "请填写链接标题"),
    ({"kind": "link", "link_title": "标" * 50, "link_url": "https://example.com"}, {}, "链接标题最多 128 字节"),
])
def test_bad_input_is_refused_on_the_form_with_a_clear_message(sandbox, corp, console, fields, files, message):  # noqa: F811
    data = _form(corp, **fields)
    for name, value in files.items():
        data[name] = [SimpleUploadedFile(n, c) for n, c in value] if isinstance(value, list) else SimpleUploadedFile(*value)
    page = console(data)
    assert page.status_code == 200
    assert message in _errors(page), _errors(page)
    assert 'name="payload"' not in page.content.decode()  # no confirmation
    assert not WeComMoment.objects.exists() and not MediaFile.objects.exists()


def test_a_staff_member_who_left_between_the_pages_is_refused_by_the_apis_rules(sandbox, corp, console):  # noqa: F811
    from django.utils import timezone

    from customers.wecom.models import WeComStaff

    bob = WeComStaff.objects.get(account=corp, userid="bob")
    confirm = console(_form(corp, text="周末活动", senders=[bob.pk]))
    assert 'name="payload"' in confirm.content.decode()
    WeComStaff.objects.filter(pk=bob.pk).update(departed_at=timezone.now())
    page = console({"account": corp.pk, "payload": _payload(confirm)})
    assert page.status_code == 200 and "部分成员不存在或已离职" in _errors(page)
    assert not WeComMoment.objects.exists()


def test_a_confirmed_moment_is_audited_listed_and_received_by_the_sandbox(sandbox, corp, console):  # noqa: F811
    from customers.wecom.models import WeComStaff

    alice = WeComStaff.objects.get(account=corp, userid="alice")
    images = [SimpleUploadedFile("一.png", PNG, content_type="image/png"), SimpleUploadedFile("二.png", PNG, content_type="image/png")]
    confirm = console(_form(corp, text="新品上市，欢迎到店", kind="images", images=images, senders=[alice.pk], tags=[corp.vip_tag_id]))
    assert confirm.status_code == 200, _errors(confirm)
    html = confirm.content.decode()
    # The confirmation: staff and tags by name, the attachments, how many customers can see it (alice's VIP ones).
    assert "提交到企业微信" in html and "alice" in html and "Level / VIP" in html and "一.png" in html
    assert re.search(r'data-testid="moment-reach">\s*2\s*<', html)
    assert not WeComMoment.objects.exists()  # nothing is sent before the confirmation
    assert not sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")

    done = console({"account": corp.pk, "payload": _payload(confirm)})
    assert done.status_code == 302
    moment = WeComMoment.objects.get()
    assert done["Location"].endswith(f"/admin/messaging/wecommoment/{moment.pk}/change/")
    assert (moment.text, moment.sender_userids, moment.tag_ids, moment.state) == ("新品上市，欢迎到店", ["alice"], [corp.vip_tag_id], "submitted")
    entry = AuditEntry.objects.get(object_id=str(moment.pk), action="add")
    assert entry.user == console.client.user and entry.detail["attachments"] == ["image", "image"]

    [call] = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert call["errcode"] == 0 and call["body"]["text"] == {"content": "新品上市，欢迎到店"}
    assert call["body"]["visible_range"] == {"sender_list": {"user_list": ["alice"]},
                                             "external_contact_list": {"tag_list": [corp.vip_remote_id]}}
    assert [a["msgtype"] for a in call["body"]["attachments"]] == ["image", "image"]
    uploads = sandbox.control.requests(app_id=corp.app_id, path_contains="/cgi-bin/media/")
    assert [(u["path"], u["query"]["attachment_type"]) for u in uploads] == [("/cgi-bin/media/upload_attachment", "1")] * 2

    # Confirming twice (a double click, the back button) makes no second moment.
    assert console({"account": corp.pk, "payload": _payload(confirm)}).status_code == 302
    assert WeComMoment.objects.count() == 1

    # The list and the page show it with its state.
    listing = console.client.get("/admin/messaging/wecommoment/", **ZH).content.decode()
    assert "新品上市，欢迎到店" in listing and "企业微信正在创建任务" in listing
    detail = console.client.get(done["Location"], **ZH).content.decode()
    assert "企业微信正在创建任务" in detail


def test_a_link_moment_with_its_picture(sandbox, corp, console):  # noqa: F811
    confirm = console(_form(corp, kind="link", link_title="春季新品", link_url="https://example.com/spring",
                            link_image=SimpleUploadedFile("cover.png", PNG, content_type="image/png")))
    assert confirm.status_code == 200 and 'name="payload"' in confirm.content.decode(), _errors(confirm)
    assert console({"account": corp.pk, "payload": _payload(confirm)}).status_code == 302
    [call] = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    link = call["body"]["attachments"][0]["link"]
    assert (link["title"], link["url"]) == ("春季新品", "https://example.com/spring") and link["media_id"]
    assert call["errcode"] == 0


def test_a_tampered_confirmation_is_refused(sandbox, corp, console):  # noqa: F811
    page = console({"account": corp.pk, "payload": "eyJ0ZXh0IjoiaGkifQ:forged:signature"})
    assert page.status_code == 302 and not WeComMoment.objects.exists()


def test_without_the_permission_there_is_no_form(sandbox, corp):  # noqa: F811
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-1234", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename="view_wecommoment"))
    client = Client()
    client.force_login(user)
    assert client.get(ADD).status_code == 403
