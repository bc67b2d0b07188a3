"""The menus API: the editor's workflow end to end against the sandbox, and clear 4xx for bad input."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from tests.factories import ChannelAccountFactory
from tests.menus.conftest import DEFAULT_BUTTONS, VIP_BUTTONS

pytestmark = pytest.mark.django_db


def test_create_save_publish_and_preview(api_client, sandbox, oa_account, followers, vip_segment):
    (member, _), (other, _) = followers(2)
    segment = vip_segment([member])
    default = api_client.post("/api/v1/menus/", {"account": oa_account.pk, "name": "默认"}, format="json").json()
    assert default["is_default"] and default["latest_version"] is None
    saved = api_client.post(f"/api/v1/menus/{default['id']}/versions/", {"buttons": DEFAULT_BUTTONS, "note": "首版"}, format="json")
    assert saved.status_code == 201 and saved.json()["number"] == 1
    assert api_client.post(f"/api/v1/menus/{default['id']}/publish/", {}, format="json").json()["published_version_number"] == 1

    vip = api_client.post("/api/v1/menus/", {"account": oa_account.pk, "name": "VIP", "segment": segment.pk}, format="json").json()
    api_client.post(f"/api/v1/menus/{vip['id']}/versions/", {"buttons": VIP_BUTTONS}, format="json")
    published = api_client.post(f"/api/v1/menus/{vip['id']}/publish/", {}, format="json").json()
    assert published["wechat_tag_id"] and published["wechat_menuid"]

    seen = api_client.get("/api/v1/menus/preview/", {"account": oa_account.pk, "customer": member.pk}).json()
    assert (seen["menu_id"], seen["segment_id"]) == (vip["id"], segment.pk)
    assert api_client.get("/api/v1/menus/preview/", {"account": oa_account.pk, "customer": other.pk}).json()["menu_id"] == default["id"]
    state = api_client.get("/api/v1/menus/wechat-state/", {"account": oa_account.pk}).json()
    assert len(state["conditionalmenu"]) == 1
    assert [v["number"] for v in api_client.get(f"/api/v1/menus/{vip['id']}/versions/").json()["results"]] == [1]
    assert api_client.delete(f"/api/v1/menus/{vip['id']}/").json()["code"] == "menu_published"
    analytics = api_client.get("/api/v1/menus/analytics/", {"account": oa_account.pk, "start": "2026-01-01", "end": "2026-01-31"})
    assert analytics.status_code == 200 and analytics.json()["follow_up_days"] == 7


def test_an_invalid_menu_is_a_400_naming_the_limit(api_client):
    menu = api_client.post("/api/v1/menus/", {"account": ChannelAccountFactory(kind="oa").pk, "name": "m"}, format="json").json()
    answer = api_client.post(f"/api/v1/menus/{menu['id']}/versions/", {"buttons": [{"type": "click", "name": "一二三四五六", "key": "K", "action": {"type": "reply_text", "text": "hi"}}]}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "menu_invalid" and body["detail"]["problems"][0]["limit"] == "top_item_name_bytes" and "16" in body["message"]
    check = api_client.post("/api/v1/menus/validate/", {"buttons": [{"type": "view", "name": "x"}] * 4}, format="json").json()
    assert not check["valid"] and {p["limit"] for p in check["problems"]} >= {"top_items_count", "field_required"}


def test_bad_queries_and_duplicates_are_4xx(api_client):
    account = ChannelAccountFactory(kind="oa")
    assert api_client.get("/api/v1/menus/analytics/", {"account": account.pk, "start": "2026-02-01", "end": "2026-01-01"}).status_code == 400
    assert api_client.get("/api/v1/menus/preview/", {"account": account.pk, "customer": "x"}).status_code == 400
    mp = ChannelAccountFactory(kind="miniprogram")
    assert api_client.post("/api/v1/menus/", {"account": mp.pk, "name": "m"}, format="json").status_code == 400
    api_client.post("/api/v1/menus/", {"account": account.pk, "name": "m"}, format="json")
    assert api_client.post("/api/v1/menus/", {"account": account.pk, "name": "again"}, format="json").json()["code"] == "menu_exists"


def test_a_viewer_reads_but_does_not_publish(db):
    from django.contrib.auth import get_user_model

    viewer = get_user_model().objects.create_user("viewer", password="pw-viewer-123")
    viewer.groups.add(Group.objects.get(name="查看者 viewer"))
    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get("/api/v1/menus/").status_code == 200
    assert client.post("/api/v1/menus/", {"account": ChannelAccountFactory(kind="oa").pk, "name": "m"}, format="json").status_code == 403
