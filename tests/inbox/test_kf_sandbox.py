"""The sandbox plays WeChat's own customer-service (kf) APIs with WeChat's shapes, limits and codes,
over HTTP (handlers/customservice.py names the pages)."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException

from messaging.channels.clients import wechat_client

pytestmark = pytest.mark.django_db

JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def call(inbox_account, sandbox):
    sandbox.control.call("kf_setup", app_id=inbox_account.app_id, wechat_id="gh_brand")
    client = wechat_client(inbox_account)

    def _call(method: str, path: str, **kwargs):
        return getattr(client, method)(inbox_account.resolved_api_base_url + path, **kwargs)

    return _call


def errcode(call, *args, **kwargs) -> int:
    with pytest.raises(WeChatClientException) as caught:
        call(*args, **kwargs)
    return int(caught.value.errcode)


def test_kf_accounts_are_added_listed_renamed_and_deleted_with_wechats_rules(call):
    add = "customservice/kfaccount/add"
    assert call("post", add, data={"kf_account": "alice@gh_brand", "nickname": "小爱"})["errcode"] == 0
    assert errcode(call, "post", add, data={"kf_account": "alice@gh_brand", "nickname": "小爱"}) == 65406
    assert errcode(call, "post", add, data={"kf_account": "abcdefghijk@gh_brand", "nickname": "x"}) == 65404  # prefix > 10
    assert errcode(call, "post", add, data={"kf_account": "bob-1@gh_brand", "nickname": "x"}) == 65404  # not [A-Za-z0-9_]
    assert errcode(call, "post", add, data={"kf_account": "bob@gh_other", "nickname": "x"}) == 65404  # not our WeChat ID
    assert errcode(call, "post", add, data={"kf_account": "bob@gh_brand", "nickname": "一二三四五六七八九十一二三四五六七"}) == 65403  # 17
    assert errcode(call, "post", add, data={"kf_account": "bob@gh_brand", "nickname": ""}) == 65403
    listed = call("get", "cgi-bin/customservice/getkflist")["kf_list"]
    assert [(k["kf_account"], k["kf_nick"], k["kf_id"]) for k in listed] == [("alice@gh_brand", "小爱", "1001")]
    assert call("post", "customservice/kfaccount/update", data={"kf_account": "alice@gh_brand", "nickname": "爱丽丝"})["errcode"] == 0
    assert errcode(call, "post", "customservice/kfaccount/update", data={"kf_account": "nobody@gh_brand", "nickname": "x"}) == 65401
    upload = "customservice/kfaccount/uploadheadimg"
    assert errcode(call, "post", upload, params={"kf_account": "alice@gh_brand"}, files={"media": ("a.png", b"\x89PNG....", "image/png")}) == 40005
    call("post", upload, params={"kf_account": "alice@gh_brand"}, files={"media": ("a.jpg", JPG, "image/jpeg")})
    assert call("get", "cgi-bin/customservice/getkflist")["kf_list"][0]["kf_headimgurl"].startswith("http")
    assert call("post", "customservice/kfaccount/del", data={"kf_account": "alice@gh_brand"})["errcode"] == 0
    assert errcode(call, "post", "customservice/kfaccount/del", data={"kf_account": "alice@gh_brand"}) == 65401
    assert call("get", "cgi-bin/customservice/getkflist")["kf_list"] == []


def test_at_most_100_kf_accounts_and_65400_when_the_customer_service_is_off(call, sandbox, inbox_account):
    for n in range(100):
        call("post", "customservice/kfaccount/add", data={"kf_account": f"kf{n}@gh_brand", "nickname": f"客服{n}"})
    assert errcode(call, "post", "customservice/kfaccount/add", data={"kf_account": "kf100@gh_brand", "nickname": "多一个"}) == 65405
    sandbox.control.call("kf_setup", app_id=inbox_account.app_id, enabled=False)
    assert errcode(call, "get", "cgi-bin/customservice/getkflist") == 65400


def test_sessions_need_a_bound_online_kf_and_one_kf_per_customer(call, sandbox, inbox_account, follower):
    app_id = inbox_account.app_id
    for name in ("alice", "bob"):
        call("post", "customservice/kfaccount/add", data={"kf_account": f"{name}@gh_brand", "nickname": name})
    create = "customservice/kfsession/create"
    assert errcode(call, "post", create, data={"kf_account": "alice@gh_brand", "openid": follower}) == 65402  # not bound
    sandbox.control.call("kf_worker", app_id=app_id, kf_account="alice@gh_brand", kf_wx="alice_wx")
    assert errcode(call, "post", create, data={"kf_account": "alice@gh_brand", "openid": follower}) == 65415  # offline
    sandbox.control.call("kf_worker", app_id=app_id, kf_account="alice@gh_brand", online=1)
    sandbox.control.call("kf_worker", app_id=app_id, kf_account="bob@gh_brand", kf_wx="bob_wx", online=1)
    assert errcode(call, "post", create, data={"kf_account": "nobody@gh_brand", "openid": follower}) == 65401
    assert errcode(call, "post", create, data={"kf_account": "alice@gh_brand", "openid": "o-stranger"}) == 40003
    sandbox.control.call("kf_wait", app_id=app_id, openid=follower, latest_time=1_760_000_000)
    assert call("get", "customservice/kfsession/getwaitcase") == {"errcode": 0, "errmsg": "ok", "count": 1, "waitcaselist": [{"latest_time": 1_760_000_000, "openid": follower}]}
    assert call("post", create, data={"kf_account": "alice@gh_brand", "openid": follower})["errcode"] == 0
    assert call("post", create, data={"kf_account": "alice@gh_brand", "openid": follower})["errcode"] == 0  # exists: 0
    assert errcode(call, "post", create, data={"kf_account": "bob@gh_brand", "openid": follower}) == 65414
    assert call("get", "customservice/kfsession/getwaitcase")["count"] == 0
    assert call("get", "customservice/kfsession/getsession", params={"openid": follower})["kf_account"] == "alice@gh_brand"
    assert [s["openid"] for s in call("get", "customservice/kfsession/getsessionlist", params={"kf_account": "alice@gh_brand"})["sessionlist"]] == [follower]
    online = call("get", "cgi-bin/customservice/getonlinekflist")["kf_online_list"]
    assert {(o["kf_account"], o["status"], o["accepted_case"]) for o in online} == {("alice@gh_brand", 1, 1), ("bob@gh_brand", 1, 0)}
    assert errcode(call, "post", "customservice/kfsession/close", data={"kf_account": "bob@gh_brand", "openid": follower}) == 65413
    assert call("post", "customservice/kfsession/close", data={"kf_account": "alice@gh_brand", "openid": follower})["errcode"] == 0
    assert call("get", "customservice/kfsession/getsession", params={"openid": follower}) == {"errcode": 0, "errmsg": "ok", "createtime": 0, "kf_account": ""}
    # The kf person closes a session in their own client (kf_close_session is posted to the callback URL).
    call("post", create, data={"kf_account": "bob@gh_brand", "openid": follower})
    assert "<Event><![CDATA[kf_close_session]]></Event>" in sandbox.control.call("kf_end", app_id=app_id, openid=follower)["xml"]
    assert call("get", "customservice/kfsession/getsession", params={"openid": follower})["kf_account"] == ""


def test_a_customer_service_message_as_an_unknown_kf_account_is_refused(call, sandbox, inbox_account, follower):
    sandbox.control.set_interaction(inbox_account.app_id, follower)
    body = {"touser": follower, "msgtype": "text", "text": {"content": "hi"}, "customservice": {"kf_account": "ghost@gh_brand"}}
    assert errcode(call, "post", "cgi-bin/message/custom/send", data=body) == 65401
