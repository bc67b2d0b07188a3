"""Channel codes (parametric QR codes, WeCom contact-me ways) bound to tags, through the API."""

from __future__ import annotations

import pytest

from messaging.channels.services import channel_code_for_scene
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db


def test_operator_creates_a_qr_code_bound_to_tags(sandbox, oa_account, api_client):
    tags = [TagFactory(), TagFactory()]
    response = api_client.post(
        "/api/v1/channel-codes/",
        {"account": oa_account.pk, "name": "Store poster", "scene": "store-42", "tag_ids": [t.pk for t in tags], "welcome_text": "Hi"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "qr" and body["ticket"].startswith("gQ") and body["url"]
    assert sorted(body["tag_ids"]) == sorted(t.pk for t in tags)
    [request] = sandbox.control.requests("qrcode/create")
    assert request["body"]["action_name"] == "QR_LIMIT_STR_SCENE"
    assert request["body"]["action_info"]["scene"]["scene_str"] == "store-42"

    code = channel_code_for_scene(oa_account, "qrscene_store-42")
    assert code is not None and code.pk == body["id"] and code.welcome_text == "Hi"
    assert channel_code_for_scene(oa_account, "store-42").pk == code.pk
    assert channel_code_for_scene(oa_account, "elsewhere") is None

    listed = api_client.get(f"/api/v1/channel-codes/?account={oa_account.pk}").json()
    assert [c["id"] for c in listed["results"]] == [code.pk]


def test_a_scene_is_unique_per_account(sandbox, oa_account, api_client):
    payload = {"account": oa_account.pk, "name": "A", "scene": "same"}
    assert api_client.post("/api/v1/channel-codes/", payload, format="json").status_code == 201
    again = api_client.post("/api/v1/channel-codes/", payload, format="json")
    assert again.status_code == 409 and again.json()["code"] == "channel_code_scene_taken"


def test_bad_channel_code_input_is_a_400_naming_the_problem(sandbox, oa_account, wecom_account, api_client):
    too_long = api_client.post("/api/v1/channel-codes/", {"account": oa_account.pk, "name": "A", "scene": "x" * 65}, format="json")
    assert too_long.status_code == 400
    unknown_tag = api_client.post("/api/v1/channel-codes/", {"account": oa_account.pk, "name": "A", "scene": "s", "tag_ids": [999999]}, format="json")
    assert unknown_tag.status_code == 400 and unknown_tag.json()["code"] == "channel_code_unknown_tags"
    no_staff = api_client.post("/api/v1/channel-codes/", {"account": wecom_account.pk, "name": "A", "scene": "s"}, format="json")
    assert no_staff.status_code == 400 and no_staff.json()["code"] == "channel_code_no_staff"
    assert sandbox.control.requests("qrcode/create") == []


def test_operator_creates_a_wecom_contact_way_with_state(sandbox, wecom_account, api_client):
    sandbox.control.add_wecom_staff(wecom_account.app_id, "staff-1")
    tag = TagFactory()
    response = api_client.post(
        "/api/v1/channel-codes/",
        {"account": wecom_account.pk, "name": "Mall counter", "scene": "mall-7", "tag_ids": [tag.pk], "staff_userids": ["staff-1"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "contact_way" and body["config_id"] and body["url"]
    [request] = sandbox.control.requests("add_contact_way")
    assert request["body"]["state"] == "mall-7" and request["body"]["user"] == ["staff-1"]
    assert [t.pk for t in channel_code_for_scene(wecom_account, "mall-7").tags.all()] == [tag.pk]


def test_wechat_refusing_the_code_leaves_no_row(sandbox, wecom_account, api_client):
    response = api_client.post(
        "/api/v1/channel-codes/",
        {"account": wecom_account.pk, "name": "Ghost", "scene": "ghost", "staff_userids": ["nobody"]},
        format="json",
    )
    assert response.status_code == 502 and response.json()["detail"]["errcode"] == "60111"
    assert channel_code_for_scene(wecom_account, "ghost") is None
