"""The WeChat sandbox: events posted to callback URLs (signed, encrypted), fault injection, request log."""

from __future__ import annotations

import hashlib
import time

import pytest
import requests
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.events import SubscribeScanEvent
from wechatpy.exceptions import APILimitedException

APP, SECRET = "wxsandboxcb0001", "cb-secret"
TOKEN, KEY = "cbtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def oa(sandbox, callback_receiver):
    sandbox.control.register_app("oa", APP, SECRET, callback_url=callback_receiver.url, token=TOKEN, encoding_aes_key=KEY)
    return sandbox.wechat_client(APP, SECRET)


def decrypt(post: dict, app_id: str = APP) -> str:
    query = post["query"]
    expected = hashlib.sha1("".join(sorted([TOKEN, query["timestamp"], query["nonce"]])).encode()).hexdigest()
    assert query["signature"] == expected
    assert query["encrypt_type"] == "aes"
    return WeChatCrypto(TOKEN, KEY, app_id).decrypt_message(post["body"], query["msg_signature"], query["timestamp"], query["nonce"])


def template(oa, openid: str) -> int:
    return oa.post("message/template/send", data={"touser": openid, "template_id": "T", "data": {}})["msgid"]


def test_template_report_is_posted_encrypted_and_decrypts_with_wechatpy(sandbox, oa, callback_receiver):
    ok, blocked = sandbox.control.add_followers(APP, 2)
    sandbox.control.set_outcome(APP, blocked, "user block")
    msgids = {template(oa, ok): "success", template(oa, blocked): "failed:user block"}
    assert sandbox.control.flush_callbacks()
    posts = callback_receiver.wait(2)
    assert len(posts) == 2
    for post in posts:
        assert "<Encrypt>" in post["body"] and "TEMPLATESENDJOBFINISH" not in post["body"]
        event = parse_message(decrypt(post))
        assert event.event == "templatesendjobfinish"
        assert event.status == msgids[int(event.id)]
        assert post["query"]["openid"] == event.source
    assert [c["status"] for c in sandbox.control.callbacks(APP)] == [200, 200]


def test_system_failure_outcome_and_auto_report_switch(sandbox, oa, callback_receiver):
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.set_outcome(APP, openid, "system failed")
    template(oa, openid)
    sandbox.control.flush_callbacks()
    assert parse_message(decrypt(callback_receiver.wait(1)[0])).status == "failed: system failed"
    sandbox.control.app_settings(APP, auto_report=False)
    template(oa, openid)
    sandbox.control.flush_callbacks()
    assert len(callback_receiver.received) == 1


def test_plaintext_callbacks_carry_only_the_signature(sandbox, oa, callback_receiver):
    sandbox.control.app_settings(APP, callback_encrypted=False)
    (openid,) = sandbox.control.add_followers(APP, 1)
    msgid = template(oa, openid)
    sandbox.control.flush_callbacks()
    post = callback_receiver.wait(1)[0]
    assert "encrypt_type" not in post["query"] and "msg_signature" not in post["query"]
    assert parse_message(post["body"]).id == msgid


def test_subscribe_event_with_scene_updates_state_and_posts_qrscene(sandbox, oa, callback_receiver):
    sandbox.control.post_event(APP, event="subscribe", openid="o-new", unionid="u-new", scene="spring", wait=True)
    event = parse_message(decrypt(callback_receiver.wait(1)[0]))
    assert isinstance(event, SubscribeScanEvent) and event.scene_id == "spring"
    assert oa.user.get("o-new")["subscribe"] == 1
    # Subscribing opened the customer-service window.
    assert oa.post("message/custom/send", data={"touser": "o-new", "msgtype": "text", "text": {"content": "hi"}})["errcode"] == 0
    sandbox.control.post_event(APP, event="unsubscribe", openid="o-new", wait=True)
    assert parse_message(decrypt(callback_receiver.wait(2)[1])).event == "unsubscribe"
    assert oa.user.get("o-new")["subscribe"] == 0


def test_raw_xml_event_can_be_posted_in_plaintext(sandbox, oa, callback_receiver):
    xml = "<xml><ToUserName>gh_x</ToUserName><FromUserName>o-1</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>MENU_A</EventKey></xml>"
    sandbox.control.post_event(APP, xml=xml, encrypted=False, openid="o-1", wait=True)
    assert callback_receiver.wait(1)[0]["body"] == xml


def test_subscribe_popup_accept_grants_consent(sandbox, oa, callback_receiver):
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.post_event(APP, event="subscribe_msg_popup_event", openid=openid,
                               templates=[{"template_id": "SUB-A", "status": "accept"}, {"template_id": "SUB-B", "status": "reject"}], wait=True)
    assert sandbox.control.consent(APP, openid, "SUB-A") == 1 and sandbox.control.consent(APP, openid, "SUB-B") == 0
    data = xmltodict.parse(decrypt(callback_receiver.wait(1)[0]))["xml"]
    assert [i["SubscribeStatusString"] for i in data["SubscribeMsgPopupEvent"]["List"]] == ["accept", "reject"]


def test_wecom_change_external_contact_is_encrypted_with_corp_id(sandbox, callback_receiver):
    corp = "wwsandboxcb01"
    sandbox.control.register_app("wecom", corp, "s", callback_url=callback_receiver.url, token=TOKEN, encoding_aes_key=KEY)
    sandbox.control.post_event(corp, event="add_external_contact", staff_userid="alice", external_userid="wm-9",
                               state="store-1", wait=True)
    post = callback_receiver.wait(1)[0]
    query = post["query"]
    xml = WeComCrypto(TOKEN, KEY, corp).decrypt_message(post["body"], query["msg_signature"], query["timestamp"], query["nonce"])
    data = xmltodict.parse(xml)["xml"]
    assert data["ChangeType"] == "add_external_contact" and data["State"] == "store-1" and data["WelcomeCode"]
    assert data["UserID"] == "alice" and data["ExternalUserID"] == "wm-9"


def test_slow_callback_never_delays_the_api_answer(sandbox, oa, callback_receiver):
    callback_receiver.delay = 1.5
    (openid,) = sandbox.control.add_followers(APP, 1)
    oa.fetch_access_token()
    started = time.monotonic()
    template(oa, openid)
    template(oa, openid)
    assert time.monotonic() - started < 1.2  # posting in line would take at least 1.5 s
    assert sandbox.control.flush_callbacks(timeout=10)
    assert len(callback_receiver.received) == 2


def errcodes(sandbox, token: str, n: int) -> list[int]:
    session = requests.Session()
    url = sandbox.base_url + "cgi-bin/user/get"
    return [session.get(url, params={"access_token": token}, timeout=5).json()["errcode"] for _ in range(n)]


def test_fault_rates_are_seeded_and_reproducible(sandbox, oa):
    token = oa.fetch_access_token()["access_token"]
    sandbox.control.set_faults(rate_45009=0.2, rate_busy=0.1, seed=7)
    first = errcodes(sandbox, token, 300)
    assert 30 <= first.count(45009) <= 95 and 10 <= first.count(-1) <= 55
    assert first.count(0) == 300 - first.count(45009) - first.count(-1)
    sandbox.control.set_faults(seed=7)
    assert errcodes(sandbox, token, 300) == first
    sandbox.control.reset_faults()
    assert set(errcodes(sandbox, token, 20)) == {0}


def test_wechatpy_raises_api_limited_on_injected_45009(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.set_faults(rate_45009=1.0, paths=["template/send"])
    with pytest.raises(APILimitedException):
        template(oa, openid)
    assert oa.user.get(openid)["subscribe"] == 1  # other paths are not faulted


def test_daily_quota_answers_45009_until_the_next_day(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.set_daily_quota(APP, 2)
    template(oa, openid)
    template(oa, openid)
    with pytest.raises(APILimitedException):
        template(oa, openid)
    sandbox.control.advance_clock(86400)
    oa.fetch_access_token()
    assert template(oa, openid)


def test_added_latency(sandbox, oa):
    token = oa.fetch_access_token()["access_token"]
    sandbox.control.set_faults(latency_ms=200)
    started = time.monotonic()
    errcodes(sandbox, token, 2)
    assert time.monotonic() - started >= 0.4


def test_requests_are_recorded_without_token_values(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    template(oa, openid)
    token_calls = sandbox.control.requests("cgi-bin/token")
    assert len(token_calls) == 1 and token_calls[0]["query"]["secret"] == "***"
    (sent,) = sandbox.control.requests("template/send")
    assert sent["query"]["access_token"] == "***" and sent["body"]["touser"] == openid and sent["errcode"] == 0
    assert sandbox.control.token_fetch_count(APP) == 1


def test_unanswered_callback_is_retried_like_wechat(sandbox, oa, callback_receiver):
    sandbox.control.app_settings(APP, callback_timeout=0.2, callback_retries=2)
    callback_receiver.delay = 0.5
    sandbox.control.post_event(APP, event="CLICK", openid="o-1", key="MENU", wait=True)
    (record,) = sandbox.control.callbacks(APP)
    assert [a.get("error") for a in record["attempts"]] == ["timeout", "timeout", "timeout"]
    assert len(callback_receiver.wait(3)) == 3
    assert len({p["body"] for p in callback_receiver.received}) == 1  # the same event each time


def test_repeat_posts_the_same_event_again(sandbox, oa, callback_receiver):
    sandbox.control.post_event(APP, event="text", openid="o-1", content="hi", repeat=3, wait=True)
    posts = callback_receiver.wait(3)
    assert len(posts) == 3
    assert len({parse_message(decrypt(p)).id for p in posts}) == 1
