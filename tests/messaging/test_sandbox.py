"""The WeChat sandbox over real HTTP: tokens and service-account / mini-program APIs.

wechatpy clients talk to it exactly as they would to WeChat (only the host is rewritten)."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

APP, SECRET = "wxsandboxoa0001", "oa-secret"
MP, MP_SECRET = "wxsandboxmp0001", "mp-secret"


@pytest.fixture
def oa(sandbox):
    sandbox.control.register_app("oa", APP, SECRET)
    return sandbox.wechat_client(APP, SECRET)


def token_get(sandbox, appid=APP, secret=SECRET) -> dict:
    params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    return requests.get(sandbox.base_url + "cgi-bin/token", params=params, timeout=5).json()


def api(sandbox, path: str, token: str, body: dict | None = None, **query) -> dict:
    url = sandbox.base_url + "cgi-bin/" + path
    if body is None:
        return requests.get(url, params={"access_token": token, **query}, timeout=5).json()
    return requests.post(url, params={"access_token": token}, json=body, timeout=5).json()


def test_token_endpoint_rejects_unknown_appid_and_wrong_secret(sandbox, oa):
    assert token_get(sandbox, appid="wxnobody")["errcode"] == 40013
    assert token_get(sandbox, secret="wrong")["errcode"] == 40125
    answer = token_get(sandbox)
    assert answer["expires_in"] == 7200 and "errcode" not in answer
    assert sandbox.control.token_fetch_count(APP) == 1


def test_open_mode_accepts_any_app(sandbox, monkeypatch):
    monkeypatch.setattr(sandbox.server.state, "open_mode", True)
    assert "access_token" in token_get(sandbox, appid="wxanything", secret="whatever")
    client = sandbox.wechat_client("wxanyminiapp", "whatever")
    session = client.wxa.code_to_session("code-from-wx-login")
    assert session["openid"].startswith("o")
    with pytest.raises(WeChatClientException) as reused:
        client.wxa.code_to_session("code-from-wx-login")
    assert reused.value.errcode == 40163  # code2Session: a used code
    # Unknown openids become followers in open mode.
    assert client.post("message/template/send", data={"touser": "o-any", "template_id": "T", "data": {}})["msgid"]


def test_a_new_token_leaves_the_previous_one_five_minutes_then_old_tokens_expire(sandbox, oa):
    # Get_access_token.html: after a refresh the old token stays valid for 5 minutes.
    first = token_get(sandbox)["access_token"]
    second = token_get(sandbox)["access_token"]
    assert api(sandbox, "user/get", first)["errcode"] == 0
    sandbox.control.advance_clock(299)
    assert api(sandbox, "user/get", first)["errcode"] == 0
    sandbox.control.advance_clock(2)
    assert api(sandbox, "user/get", first)["errcode"] == 40001
    assert api(sandbox, "user/get", second)["errcode"] == 0
    sandbox.control.advance_clock(7201)
    assert api(sandbox, "user/get", second)["errcode"] == 42001
    assert api(sandbox, "user/get", "")["errcode"] == 41001


def test_token_lifetime_override_makes_tokens_expire_early(sandbox, oa):
    sandbox.control.set_faults(token_ttl=30)
    answer = token_get(sandbox)
    assert answer["expires_in"] == 30
    sandbox.control.advance_clock(31)
    assert api(sandbox, "user/get", answer["access_token"])["errcode"] == 42001


def test_stable_token_is_reused_until_force_refresh(sandbox, oa):
    body = {"grant_type": "client_credential", "appid": APP, "secret": SECRET}
    url = sandbox.base_url + "cgi-bin/stable_token"
    first = requests.post(url, json=body, timeout=5).json()["access_token"]
    assert requests.post(url, json=body, timeout=5).json()["access_token"] == first
    token_get(sandbox)  # a plain token fetch does not invalidate the stable token
    assert api(sandbox, "user/get", first)["errcode"] == 0
    forced = requests.post(url, json={**body, "force_refresh": True}, timeout=5).json()["access_token"]
    assert forced != first and api(sandbox, "user/get", first)["errcode"] == 40001


def test_template_send_deduplicates_client_msg_id_for_ten_minutes(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    body = {"touser": openid, "template_id": "TPL", "data": {"k": {"value": "v"}}, "client_msg_id": "delivery-1"}
    first = oa.post("message/template/send", data=body)
    again = oa.post("message/template/send", data=body)
    assert first["msgid"] == again["msgid"]
    assert len(sandbox.control.sent_messages(APP, api="template")) == 1
    sandbox.control.advance_clock(601)
    assert oa.post("message/template/send", data=body)["msgid"] != first["msgid"]
    other = oa.post("message/template/send", data={**body, "client_msg_id": "delivery-2"})
    assert other["msgid"] != first["msgid"]
    assert len(sandbox.control.sent_messages(APP, api="template")) == 3


def test_sends_to_unfollowed_user_get_43004_and_unknown_openid_40003(sandbox, oa):
    a, b = sandbox.control.add_followers(APP, 2)
    sandbox.control.set_following(APP, b, False)
    body = {"template_id": "TPL", "data": {}}
    with pytest.raises(WeChatClientException) as unfollowed:
        oa.post("message/template/send", data={**body, "touser": b})
    assert unfollowed.value.errcode == 43004
    with pytest.raises(WeChatClientException) as unknown:
        oa.post("message/template/send", data={**body, "touser": "o-nobody"})
    assert unknown.value.errcode == 40003
    assert oa.post("message/template/send", data={**body, "touser": a})["errcode"] == 0
    assert [m["touser"] for m in sandbox.control.sent_messages(APP)] == [a]


def test_mass_send_filters_users_over_four_per_month_and_dedupes_clientmsgid(sandbox, oa):
    a, b = sandbox.control.add_followers(APP, 2)
    body = {"touser": [a, b], "msgtype": "text", "text": {"content": "hi"}}
    for i in range(4):
        assert oa.post("message/mass/send", data={**body, "clientmsgid": f"c{i}"})["errcode"] == 0
    fifth = oa.post("message/mass/send", data={**body, "touser": [a, "o-unknown"], "clientmsgid": "c4"})
    record = sandbox.control.sent_messages(APP, api="mass")[-1]
    assert record["msgid"] == fifth["msg_id"]
    assert record["delivered"] == [] and record["filtered"] == [a, "o-unknown"]
    with pytest.raises(WeChatClientException) as dup:
        oa.post("message/mass/send", data={**body, "clientmsgid": "c1"})
    assert dup.value.errcode == 45065
    assert len(sandbox.control.sent_messages(APP, api="mass")) == 5
    # A new calendar month resets the per-user count.
    sandbox.control.advance_clock(32 * 86400)
    oa.fetch_access_token()  # the sandbox clock moved past the token's lifetime
    oa.post("message/mass/send", data={**body, "clientmsgid": "next-month"})
    assert sandbox.control.sent_messages(APP, api="mass")[-1]["delivered"] == [a, b]


def test_mass_send_needs_two_to_ten_thousand_openids(sandbox, oa):
    (a,) = sandbox.control.add_followers(APP, 1)
    with pytest.raises(WeChatClientException) as exc:
        oa.post("message/mass/send", data={"touser": [a], "msgtype": "text", "text": {"content": "x"}})
    assert exc.value.errcode == 40130


def test_mass_sendall_by_tag_reaches_tagged_followers_only(sandbox, oa):
    a, b, c = sandbox.control.add_followers(APP, 3)
    tag_id = oa.post("tags/create", data={"tag": {"name": "vip"}})["tag"]["id"]
    oa.post("tags/members/batchtagging", data={"openid_list": [a, c], "tagid": tag_id})
    answer = oa.post("message/mass/sendall", data={"filter": {"is_to_all": False, "tag_id": tag_id},
                                                    "msgtype": "text", "text": {"content": "x"}})
    assert answer["msg_id"]
    assert sandbox.control.sent_messages(APP, api="mass_all")[0]["delivered"] == [a, c]


def test_custom_message_only_within_48_hours_of_last_interaction(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    body = {"touser": openid, "msgtype": "text", "text": {"content": "hello"}}
    with pytest.raises(WeChatClientException) as never:
        oa.post("message/custom/send", data=body)
    assert never.value.errcode == 45015
    sandbox.control.set_interaction(APP, openid)
    assert oa.post("message/custom/send", data=body)["errcode"] == 0
    sandbox.control.advance_clock(48 * 3600 + 1)
    oa.fetch_access_token()
    with pytest.raises(WeChatClientException) as late:
        oa.post("message/custom/send", data=body)
    assert late.value.errcode == 45015


def test_subscribe_bizsend_consumes_one_consent_credit(sandbox, oa):
    (openid,) = sandbox.control.add_followers(APP, 1)
    body = {"touser": openid, "template_id": "SUB-1", "data": {"thing1": {"value": "x"}}}
    with pytest.raises(WeChatClientException) as refused:
        oa.post("message/subscribe/bizsend", data=body)
    assert refused.value.errcode == 43101
    sandbox.control.grant_consent(APP, openid, "SUB-1", count=1)
    assert oa.post("message/subscribe/bizsend", data=body)["errcode"] == 0
    assert sandbox.control.consent(APP, openid, "SUB-1") == 0
    with pytest.raises(WeChatClientException):
        oa.post("message/subscribe/bizsend", data=body)


def test_user_info_batch_and_follower_pages(sandbox, oa):
    openids = sandbox.control.add_followers(APP, 10_005, unionid_prefix="u")
    sandbox.control.set_following(APP, openids[3], False)
    first = oa.user.get_followers()
    assert first["total"] == 10_004 and first["count"] == 10_000
    second = oa.user.get_followers(first["next_openid"])
    assert second["count"] == 4
    assert oa.user.get_followers(second["next_openid"])["count"] == 0
    assert list(oa.user.iter_followers()) == [o for o in openids if o != openids[3]]
    assert set(first["data"]["openid"]) | set(second["data"]["openid"]) == set(openids) - {openids[3]}
    info = oa.user.get(openids[0])
    assert info["subscribe"] == 1 and info["unionid"] == "u0000000"
    assert oa.user.get(openids[3])["subscribe"] == 0
    batch = oa.user.get_batch(openids[:100])
    assert [u["openid"] for u in batch] == openids[:100]
    with pytest.raises(WeChatClientException):
        oa.user.get_batch(openids[:101])


def test_tags_limits_and_id_lists(sandbox, oa):
    openids = sandbox.control.add_followers(APP, 51)
    tag_id = oa.tag.create("loyal")["id"]
    with pytest.raises(WeChatClientException) as too_many:
        oa.tag.tag_user(tag_id, openids)
    assert too_many.value.errcode == 40032
    oa.tag.tag_user(tag_id, openids[:50])
    assert oa.tag.get_user_tag(openids[0]) == [tag_id]
    assert {t["id"]: t["count"] for t in oa.tag.get()}[tag_id] == 50
    oa.tag.untag_user(tag_id, openids[:1])
    assert oa.tag.get_user_tag(openids[0]) == []
    with pytest.raises(WeChatClientException) as dup:
        oa.tag.create("loyal")
    assert dup.value.errcode == 45157


def test_qrcode_create_returns_ticket_url_and_expiry(sandbox, oa):
    answer = oa.qrcode.create({"expire_seconds": 3600, "action_name": "QR_STR_SCENE",
                               "action_info": {"scene": {"scene_str": "spring-sale"}}})
    assert answer["ticket"] and answer["url"].startswith("http") and answer["expire_seconds"] == 3600


def test_jscode2session_code_works_once(sandbox):
    sandbox.control.register_app("miniprogram", MP, MP_SECRET)
    client = sandbox.wechat_client(MP, MP_SECRET)
    code = sandbox.control.create_login_code(MP, "mp-openid-1", unionid="union-1")
    session = client.wxa.code_to_session(code)
    assert session["openid"] == "mp-openid-1" and session["unionid"] == "union-1" and session["session_key"]
    with pytest.raises(WeChatClientException) as reused:
        client.wxa.code_to_session(code)
    assert reused.value.errcode == 40163  # code2Session: a used code


def test_miniprogram_subscribe_send_needs_consent(sandbox):
    sandbox.control.register_app("miniprogram", MP, MP_SECRET)
    client = sandbox.wechat_client(MP, MP_SECRET)
    sandbox.control.create_login_code(MP, "mp-openid-2")
    body = {"touser": "mp-openid-2", "template_id": "MPT", "page": "index", "data": {"thing1": {"value": "x"}}}
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/subscribe/send", data=body)
    assert refused.value.errcode == 43101
    sandbox.control.grant_consent(MP, "mp-openid-2", "MPT", 2)
    client.post("message/subscribe/send", data=body)
    assert sandbox.control.consent(MP, "mp-openid-2", "MPT") == 1
    assert len(sandbox.control.sent_messages(MP, api="subscribe")) == 1


def test_malformed_bodies_get_47001_not_a_server_error(sandbox, oa):
    token = token_get(sandbox)["access_token"]
    url = sandbox.base_url + "cgi-bin/message/template/send"
    assert requests.post(url, params={"access_token": token}, data=b"{not json", timeout=5).json()["errcode"] == 47001
    assert requests.post(url, params={"access_token": token}, json=[1, 2], timeout=5).json()["errcode"] == 47001
    assert api(sandbox, "tags/create", token, {"tag": "not-a-dict"})["errcode"] == 47001
    assert requests.get(sandbox.base_url + "cgi-bin/nope", timeout=5).status_code == 404
