"""The WeChat sandbox over real HTTP: WeCom external contacts, group messages, corp tags, welcome messages."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException

CORP, SECRET = "wwsandboxcorp01", "corp-secret"


@pytest.fixture
def wecom(sandbox):
    sandbox.control.register_app("wecom", CORP, SECRET)
    sandbox.control.add_wecom_staff(CORP, "alice")
    sandbox.control.add_wecom_staff(CORP, "bob")
    return sandbox.wecom_client(CORP, SECRET)


def test_gettoken_rejects_wrong_corp_secret(sandbox, wecom):
    with pytest.raises(WeChatClientException) as exc:
        sandbox.wecom_client(CORP, "wrong").fetch_access_token()
    assert exc.value.errcode == 40001
    with pytest.raises(WeChatClientException) as unknown:
        sandbox.wecom_client("wwnobody", SECRET).fetch_access_token()
    assert unknown.value.errcode == 40013


def test_external_contact_list_and_get_with_follow_relations(sandbox, wecom):
    sandbox.control.add_external_contact(CORP, "alice", "wm-1", unionid="union-1", name="Lin")
    sandbox.control.add_external_contact(CORP, "bob", "wm-1")
    sandbox.control.add_external_contact(CORP, "bob", "wm-2")
    assert wecom.external_contact.list("alice")["external_userid"] == ["wm-1"]
    assert sorted(wecom.external_contact.list("bob")["external_userid"]) == ["wm-1", "wm-2"]
    contact = wecom.external_contact.get("wm-1")
    assert contact["external_contact"]["unionid"] == "union-1" and contact["external_contact"]["name"] == "Lin"
    assert {f["userid"] for f in contact["follow_user"]} == {"alice", "bob"}
    with pytest.raises(WeChatClientException) as exc:
        wecom.external_contact.get("wm-nobody")
    assert exc.value.errcode == 84061


def test_group_message_task_results_after_staff_confirms(sandbox, wecom):
    sandbox.control.add_external_contact(CORP, "alice", "wm-1")
    sandbox.control.add_external_contact(CORP, "alice", "wm-2")
    answer = wecom.external_contact.add_msg_template({
        "chat_type": "single", "sender": "alice", "external_userid": ["wm-1", "wm-2", "wm-stranger"],
        "text": {"content": "Spring sale"},
    })
    assert answer["fail_list"] == ["wm-stranger"]
    msgid = answer["msgid"]
    task = wecom.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})
    assert task["task_list"] == [{"userid": "alice", "status": 0, "send_time": 0}]
    before = wecom.post("externalcontact/get_groupmsg_send_result", data={"msgid": msgid, "userid": "alice"})
    assert {r["status"] for r in before["send_list"]} == {0}

    sandbox.control.confirm_group_task(CORP, msgid)
    after = wecom.post("externalcontact/get_groupmsg_send_result", data={"msgid": msgid, "userid": "alice"})
    assert {r["external_userid"]: r["status"] for r in after["send_list"]} == {"wm-1": 1, "wm-2": 1, "wm-stranger": 2}
    assert wecom.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})["task_list"][0]["status"] == 1

    # A corp that set 1 a day in WeCom: a second group message the same day is over it (status 3).
    sandbox.control.app_settings(CORP, group_msg_period="day")
    second = wecom.external_contact.add_msg_template({
        "chat_type": "single", "sender": "alice", "external_userid": ["wm-1"], "text": {"content": "Again"},
    })
    results = sandbox.control.confirm_group_task(CORP, second["msgid"])
    assert results["wm-1"]["status"] == 3
    assert len(sandbox.control.sent_messages(CORP, api="wecom_group")) == 2


def _group_message(sandbox, wecom, text: str) -> int:
    answer = wecom.external_contact.add_msg_template({"chat_type": "single", "sender": "alice", "external_userid": ["wm-1"], "text": {"content": text}})
    return sandbox.control.confirm_group_task(CORP, answer["msgid"])["wm-1"]["status"]


def test_group_message_limit_follows_the_corps_rule(sandbox, wecom):
    """创建企业群发 (doc 92135): by default as many per month as the month has days; a corp may set 7 a
    week or 1 a day; beyond it the customer's result is status 3, never an error."""
    sandbox.control.add_external_contact(CORP, "alice", "wm-1")
    # WeCom's default: several the same day are fine (the month allows as many as it has days).
    assert [_group_message(sandbox, wecom, f"m{i}") for i in range(3)] == [1, 1, 1]
    sandbox.control.app_settings(CORP, group_msg_period="week", group_msg_limit=4)
    assert [_group_message(sandbox, wecom, f"w{i}") for i in range(2)] == [1, 3]
    # A week later the count starts again; a day rule allows one that day.
    sandbox.control.advance_clock(7 * 86400)
    wecom = sandbox.wecom_client(CORP, SECRET)  # the access token expired meanwhile
    sandbox.control.app_settings(CORP, group_msg_period="day")  # (the count of 4 is more than a day allows)
    assert [_group_message(sandbox, wecom, f"d{i}") for i in range(2)] == [1, 3]
    sandbox.control.advance_clock(86400)
    wecom = sandbox.wecom_client(CORP, SECRET)
    assert _group_message(sandbox, wecom, "next day") == 1
    # The default month stops at the month's length.
    sandbox.control.app_settings(CORP, group_msg_period="month", group_msg_limit=0)
    statuses = [_group_message(sandbox, wecom, f"x{i}") for i in range(31)]
    assert statuses.count(3) >= 1 and statuses.index(3) == statuses.count(1)


def test_contact_way_keeps_state_and_customer_arrival_carries_it(sandbox, wecom, callback_receiver):
    sandbox.control.app_settings(CORP, callback_url=callback_receiver.url, token="tok",
                                 encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    way = wecom.external_contact.add_contact_way(type=1, scene=2, user=["alice"], state="store-42")
    assert way["config_id"] and way["qr_code"]
    assert wecom.post("externalcontact/get_contact_way", data={"config_id": way["config_id"]})["contact_way"]["state"] == "store-42"
    sandbox.control.post_event(CORP, event="add_external_contact", staff_userid="alice",
                               external_userid="wm-new", state="store-42", wait=True)
    assert wecom.external_contact.get("wm-new")["follow_user"][0]["state"] == "store-42"


def test_corp_tags_add_list_mark_and_delete(sandbox, wecom):
    sandbox.control.add_external_contact(CORP, "alice", "wm-1")
    group = wecom.post("externalcontact/add_corp_tag", data={"group_name": "Level", "tag": [{"name": "Gold"}, {"name": "Silver"}]})
    gold, silver = (t["id"] for t in group["tag_group"]["tag"])
    listed = wecom.post("externalcontact/get_corp_tag_list", data={})["tag_group"]
    assert [t["name"] for t in listed[0]["tag"]] == ["Gold", "Silver"]
    wecom.post("externalcontact/mark_tag", data={"userid": "alice", "external_userid": "wm-1", "add_tag": [gold]})
    assert wecom.external_contact.get("wm-1")["follow_user"][0]["tag_id"] == [gold]
    with pytest.raises(WeChatClientException) as bad:
        wecom.post("externalcontact/mark_tag", data={"userid": "alice", "external_userid": "wm-1", "add_tag": ["nope"]})
    assert bad.value.errcode == 40068
    wecom.post("externalcontact/del_corp_tag", data={"tag_id": [gold]})
    assert wecom.external_contact.get("wm-1")["follow_user"][0]["tag_id"] == []
    assert [t["id"] for t in wecom.post("externalcontact/get_corp_tag_list", data={})["tag_group"][0]["tag"]] == [silver]


def test_welcome_code_works_once_and_only_within_20_seconds(sandbox, wecom):
    code = sandbox.control.add_external_contact(CORP, "alice", "wm-1")
    wecom.external_contact.send_welcome_msg({"welcome_code": code, "text": {"content": "Welcome"}})
    with pytest.raises(WeChatClientException):
        wecom.external_contact.send_welcome_msg({"welcome_code": code, "text": {"content": "Welcome"}})
    late = sandbox.control.add_external_contact(CORP, "alice", "wm-2")
    sandbox.control.advance_clock(21)
    with pytest.raises(WeChatClientException):
        wecom.external_contact.send_welcome_msg({"welcome_code": late, "text": {"content": "Welcome"}})
    assert [m["touser"] for m in sandbox.control.sent_messages(CORP, api="welcome")] == ["wm-1"]


def test_wecom_user_get_path_is_not_the_service_account_follower_list(sandbox, wecom):
    # WeCom's cgi-bin/user/get is a staff lookup, not implemented; a WeCom token never reaches WeChat handlers.
    with pytest.raises(WeChatClientException) as exc:
        wecom.get("tags/get")
    assert exc.value.errcode == 48001


def test_add_followers_on_a_corp_makes_external_contacts_of_a_staff_member(sandbox, wecom):
    ids = sandbox.control.add_followers(CORP, [{"openid": "wm-a", "unionid": "u-a"}, "wm-b"])
    assert ids == ["wm-a", "wm-b"]
    assert sorted(wecom.external_contact.list("alice")["external_userid"]) == ["wm-a", "wm-b"]
    assert wecom.external_contact.get("wm-a")["external_contact"]["unionid"] == "u-a"
