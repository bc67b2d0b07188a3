"""WeCom customer groups as operators see them: the REST API (list, detail with members and joins
and leaves per day), the console pages, and the group welcome templates kept the same as WeCom's
library (sandbox: limits and errors of 入群欢迎语素材管理)."""

from __future__ import annotations

import itertools
import time

import pytest
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from customers.wecom.models import WeComGroupChat, WeComStaff
from messaging.channels import wecom_media
from messaging.channels.models import GroupWelcomeTemplate
from tests.factories import ChannelIdentityFactory

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 100)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def corp(wecom_sandbox_corp):
    return wecom_sandbox_corp("wwgrouppages0001", staff=("alice",))


@pytest.fixture
def chat_event(sandbox, corp, deliver):
    def post(change: str, **params):
        answer = sandbox.control.post_event(corp.app_id, event="change_external_chat", change_type=change,
                                            create_time=next(_clock), **params)
        deliver(corp, answer["xml"])

    return post


def test_groups_api_lists_groups_and_shows_members_and_daily_joins_and_leaves(corp, chat_event, api_client):
    WeComStaff.objects.create(account=corp, userid="alice", name="Alice")
    known = ChannelIdentityFactory(account=corp, external_id="wm-1", customer__display_name="王小明")
    chat_event("create", chat_id="wr-vip", name="VIP 群", owner="alice", members=[{"userid": "wm-1", "type": 2}, {"userid": "wm-2", "type": 2}])
    chat_event("create", chat_id="wr-new", name="新客群", owner="alice", members=[{"userid": "wm-3", "type": 2}])
    chat_event("update", chat_id="wr-vip", update_detail="del_member", members=["wm-2"])

    listed = api_client.get("/api/v1/wecom/groups/", {"account": corp.pk, "q": "VIP"})
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert (row["name"], row["owner_userid"], row["owner_name"], row["member_count"]) == ("VIP 群", "alice", "Alice", 2)
    assert api_client.get("/api/v1/wecom/groups/", {"account": corp.pk}).json()["count"] == 2

    detail = api_client.get(f"/api/v1/wecom/groups/{row['id']}/").json()
    members = {m["member_id"]: m for m in detail["members"]}
    assert members["wm-1"]["customer_id"] == known.customer_id and members["wm-1"]["customer_name"] == "王小明"
    assert members["wm-2"]["left_at"] is not None and members["alice"]["member_type"] == 1
    assert detail["counts"] == {"staff": 1, "external": 1, "linked": 1}
    [today] = detail["daily_stats"]
    assert (today["joins"], today["leaves"]) == (3, 1)

    chat_event("dismiss", chat_id="wr-new")
    assert api_client.get("/api/v1/wecom/groups/", {"account": corp.pk}).json()["count"] == 1
    assert api_client.get("/api/v1/wecom/groups/", {"account": corp.pk, "include_dismissed": "true"}).json()["count"] == 2
    assert api_client.get("/api/v1/wecom/groups/", {"account": "x"}).status_code == 400
    assert api_client.get("/api/v1/wecom/groups/999999/").status_code == 404


def test_console_group_pages_show_owner_members_and_joins_and_leaves(corp, chat_event, admin_client):
    WeComStaff.objects.create(account=corp, userid="alice", name="Alice")
    chat_event("create", chat_id="wr-c", name="会员群", owner="alice", members=[{"userid": "wm-9", "type": 2}])
    group = WeComGroupChat.objects.get(chat_id="wr-c")
    listing = admin_client.get("/admin/customers/wecomgroupchat/").content.decode()
    assert "会员群" in listing and "Alice (alice)" in listing
    page = admin_client.get(f"/admin/customers/wecomgroupchat/{group.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "wm-9" in html and "Alice (alice)" in html and timezone.localtime(group.created_at_wecom).date().isoformat() in html  # shown in the operator's zone


def test_group_welcome_templates_follow_wecom_library(sandbox, corp, api_client):
    image = wecom_media.media_file_create(name="w.png", content=PNG)
    created = api_client.post("/api/v1/wecom/group-welcome-templates/", {
        "account": corp.pk, "name": "入群欢迎", "text": "欢迎 %NICKNAME% 加入",
        "attachment": {"msgtype": "image", "media_file": image.pk},
    }, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["template_id"]
    remote = api_client.get(f"/api/v1/wecom/group-welcome-templates/{body['id']}/", {"remote": "1"}).json()["remote"]
    assert remote["text"]["content"] == "欢迎 %NICKNAME% 加入" and remote["image"]["media_id"]

    edited = api_client.patch(f"/api/v1/wecom/group-welcome-templates/{body['id']}/", {
        "text": "新的欢迎语", "attachment": {"msgtype": "link", "title": "会员权益", "url": "https://example.com/v"},
    }, format="json")
    assert edited.status_code == 200, edited.content
    remote = api_client.get(f"/api/v1/wecom/group-welcome-templates/{body['id']}/", {"remote": "true"}).json()["remote"]
    assert remote["text"]["content"] == "新的欢迎语" and remote["link"]["title"] == "会员权益" and "image" not in remote

    assert api_client.delete(f"/api/v1/wecom/group-welcome-templates/{body['id']}/").status_code == 204
    assert not GroupWelcomeTemplate.objects.exists()
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    with pytest.raises(WeChatClientException):
        client.post("externalcontact/group_welcome_template/get", data={"template_id": body["template_id"]})


def test_group_welcome_limits_are_refused_before_wecom_and_by_the_sandbox(sandbox, corp, api_client):
    url = "/api/v1/wecom/group-welcome-templates/"
    too_long = api_client.post(url, {"account": corp.pk, "name": "x", "text": "字" * 1001}, format="json")  # 3003 bytes
    assert too_long.status_code == 400 and too_long.json()["code"] == "group_welcome_invalid"
    empty = api_client.post(url, {"account": corp.pk, "name": "x", "text": "  "}, format="json")
    assert empty.status_code == 400
    bad_link = api_client.post(url, {"account": corp.pk, "name": "x", "attachment": {"msgtype": "link", "title": "t" * 129, "url": "https://e.x"}},
                               format="json")
    assert bad_link.status_code == 400
    assert sandbox.control.requests("group_welcome_template", app_id=corp.app_id) == []

    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    with pytest.raises(WeChatClientException) as long_text:
        client.post("externalcontact/group_welcome_template/add", data={"text": {"content": "a" * 3001}})
    assert long_text.value.errcode == 40058
    with pytest.raises(WeChatClientException) as nothing:
        client.post("externalcontact/group_welcome_template/add", data={})
    assert nothing.value.errcode == 41048
    # Several kinds: WeCom keeps the first of image > link > miniprogram > file > video.
    both = client.post("externalcontact/group_welcome_template/add", data={
        "link": {"title": "L", "url": "https://e.x"}, "miniprogram": {"title": "M", "appid": "wx1", "page": "/p", "pic_media_id": "none"},
    })
    assert set(client.post("externalcontact/group_welcome_template/get", data={"template_id": both["template_id"]})) >= {"link"}

    for n in range(99):
        client.post("externalcontact/group_welcome_template/add", data={"text": {"content": f"t{n}"}})
    with pytest.raises(WeChatClientException) as full:
        client.post("externalcontact/group_welcome_template/add", data={"text": {"content": "one more"}})
    assert full.value.errcode == 40058


def test_the_product_stops_at_100_templates_per_corp(sandbox, corp, api_client):
    GroupWelcomeTemplate.objects.bulk_create(
        [GroupWelcomeTemplate(account=corp, name=f"t{n}", text="x", template_id=f"t{n}") for n in range(100)]
    )
    full = api_client.post("/api/v1/wecom/group-welcome-templates/", {"account": corp.pk, "name": "101", "text": "hi"}, format="json")
    assert full.status_code == 409 and full.json()["code"] == "group_welcome_library_full"
