"""The sandbox enforces WeChat's published limits (messaging/sandbox/limits.py names each page), so
code that passes against it does not meet them first in production."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from messaging.sandbox.limits import MASS_CALLS_PER_DAY, MASS_CALLS_PER_MINUTE, TOKEN_FETCHES_PER_DAY

APP, SECRET = "wxsandboxoa0002", "oa-secret"
CORP, CORP_SECRET = "wwsandboxcorp02", "corp-secret"


@pytest.fixture
def oa(sandbox):
    sandbox.control.register_app("oa", APP, SECRET)
    return sandbox.wechat_client(APP, SECRET)


def _errcode(call) -> int:
    try:
        answer = call()
    except WeChatClientException as exc:
        return exc.errcode
    return answer.get("errcode", 0)


def _custom(oa, openid):
    return _errcode(lambda: oa.post("message/custom/send", data={"touser": openid, "msgtype": "text", "text": {"content": "hi"}}))


def test_a_user_message_opens_five_customer_service_messages_in_48_hours(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.set_interaction(APP, openid, kind="message")
    assert [_custom(oa, openid) for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    sandbox.control.set_interaction(APP, openid, kind="message")  # the user writes again: a new window
    assert _custom(oa, openid) == 0


def test_a_follow_scan_or_click_allows_three_messages_within_a_minute(sandbox, oa, callback_receiver):
    sandbox.control.app_settings(APP, callback_url=callback_receiver.url, token="tok")
    (openid,) = sandbox.control.add_followers(APP, 1)
    sandbox.control.post_event(APP, event="CLICK", openid=openid, key="MENU_HELP", wait=True)
    assert [_custom(oa, openid) for _ in range(4)] == [0, 0, 0, 45047]
    sandbox.control.post_event(APP, event="SCAN", openid=openid, scene="store-1", wait=True)
    assert _custom(oa, openid) == 0
    sandbox.control.advance_clock(61)
    oa.fetch_access_token()
    assert _custom(oa, openid) == 45015


def test_a_url_menu_opens_nothing_and_an_unfollowed_user_is_out_of_the_window(sandbox, oa, callback_receiver):
    sandbox.control.app_settings(APP, callback_url=callback_receiver.url, token="tok")
    a, b = sandbox.control.add_followers(APP, [{"openid": "o-view", "last_interaction": None}, "o-gone"])
    sandbox.control.post_event(APP, event="VIEW", openid=a, url="https://shop.example.com/", wait=True)
    assert _custom(oa, a) == 45015
    sandbox.control.set_interaction(APP, b, kind="message")
    sandbox.control.set_following(APP, b, False)
    assert _custom(oa, b) == 45015


def test_mass_sends_are_limited_per_minute_and_per_day(sandbox, oa):
    a, b = sandbox.control.add_followers(APP, 2)
    body = {"touser": [a, b], "msgtype": "text", "text": {"content": "x"}}
    codes = [_errcode(lambda i=i: oa.post("message/mass/send", data={**body, "clientmsgid": f"m{i}"}))
             for i in range(MASS_CALLS_PER_MINUTE + 1)]
    assert codes.count(0) == MASS_CALLS_PER_MINUTE and codes[-1] == 45011
    for minute in range(1, 3):
        sandbox.control.advance_clock(60)
        for i in range(MASS_CALLS_PER_MINUTE):
            code = _errcode(lambda i=i, minute=minute: oa.post("message/mass/send", data={**body, "clientmsgid": f"n{minute}-{i}"}))
            if code:
                break
        if code:
            break
    assert code == 45009  # 100 calls in the day
    sent = len(sandbox.control.sent_messages(APP, api="mass"))
    assert sent == MASS_CALLS_PER_DAY


def test_clientmsgid_is_remembered_for_24_hours_only(sandbox, oa):
    a, b = sandbox.control.add_followers(APP, 2)
    body = {"touser": [a, b], "msgtype": "text", "text": {"content": "x"}, "clientmsgid": "spring-1"}
    first = oa.post("message/mass/send", data=body)
    assert _errcode(lambda: oa.post("message/mass/send", data=body)) == 45065
    sandbox.control.advance_clock(24 * 3600 + 1)
    oa.fetch_access_token()
    assert oa.post("message/mass/send", data=body)["msg_id"] != first["msg_id"]


def test_template_messages_stop_at_the_daily_quota_until_the_next_day(sandbox, oa):
    assert {a["app_id"]: a["template_quota"] for a in sandbox.control.apps()}[APP] == 100_000
    sandbox.control.app_settings(APP, template_quota=3)
    (openid,) = sandbox.control.add_followers(APP, 1)
    send = lambda: _errcode(lambda: oa.post("message/template/send", data={"touser": openid, "template_id": "T", "data": {}}))  # noqa: E731
    assert [send() for _ in range(4)] == [0, 0, 0, 45009]
    sandbox.control.advance_clock(86400)
    oa.fetch_access_token()
    assert send() == 0


def test_token_endpoint_answers_45009_after_2000_fetches_a_day(sandbox, oa):
    session = requests.Session()
    params = {"grant_type": "client_credential", "appid": APP, "secret": SECRET}
    answers = [session.get(sandbox.base_url + "cgi-bin/token", params=params, timeout=5).json()
               for _ in range(TOKEN_FETCHES_PER_DAY + 1)]
    assert all("access_token" in a for a in answers[:-1])
    assert answers[-1]["errcode"] == 45009


def test_wecom_gettoken_returns_the_same_token_while_it_is_valid(sandbox):
    sandbox.control.register_app("wecom", CORP, CORP_SECRET)
    params = {"corpid": CORP, "corpsecret": CORP_SECRET}
    first = requests.get(sandbox.base_url + "cgi-bin/gettoken", params=params, timeout=5).json()
    second = requests.get(sandbox.base_url + "cgi-bin/gettoken", params=params, timeout=5).json()
    assert first["access_token"] == second["access_token"] and second["expires_in"] <= first["expires_in"]
    sandbox.control.advance_clock(first["expires_in"] + 1)
    third = requests.get(sandbox.base_url + "cgi-bin/gettoken", params=params, timeout=5).json()
    assert third["access_token"] != first["access_token"]


def test_a_group_message_reaches_a_customer_only_through_the_staff_member_who_last_chatted(sandbox):
    sandbox.control.register_app("wecom", CORP, CORP_SECRET)
    wecom = sandbox.wecom_client(CORP, CORP_SECRET)
    sandbox.control.add_external_contact(CORP, "alice", "wm-1")
    sandbox.control.add_external_contact(CORP, "bob", "wm-1")  # bob added them last: bob's chat
    sandbox.control.add_external_contact(CORP, "alice", "wm-2")
    answer = wecom.external_contact.add_msg_template(
        {"chat_type": "single", "sender": "alice", "external_userid": ["wm-1", "wm-2"], "text": {"content": "x"}}
    )
    assert answer["fail_list"] == ["wm-1"]
    results = sandbox.control.confirm_group_task(CORP, answer["msgid"])
    assert {k: v["status"] for k, v in results.items()} == {"wm-1": 2, "wm-2": 1}
    sandbox.control.set_last_chat(CORP, "wm-1", "alice")
    again = wecom.external_contact.add_msg_template(
        {"chat_type": "single", "sender": "alice", "external_userid": ["wm-1"], "text": {"content": "y"}}
    )
    assert again["fail_list"] == []
