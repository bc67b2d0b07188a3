"""The sandbox's template library, over real HTTP as WeChat answers: get_all_private_template,
api_add_template (25 at most), del_private_template, wxaapi/newtmpl/gettemplate, and template sends
checked against the library."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from messaging.sandbox.control import SandboxControlError
from messaging.sandbox.state import MAX_PRIVATE_TEMPLATES

OA, OA_SECRET = "wxtmploa0000001", "oa-secret"
MP, MP_SECRET = "wxtmplmp0000001", "mp-secret"
WECOM, WECOM_SECRET = "wwtmplcorp00001", "corp-secret"
SHIPPED = "订单编号：{{character_string1.DATA}}\n物流公司：{{thing2.DATA}}\n发货时间：{{time3.DATA}}"


def _token(sandbox, app_id: str, secret: str) -> str:
    params = {"grant_type": "client_credential", "appid": app_id, "secret": secret}
    return requests.get(sandbox.base_url + "cgi-bin/token", params=params, timeout=5).json()["access_token"]


def _get(sandbox, path: str, token: str) -> dict:
    return requests.get(sandbox.base_url + path, params={"access_token": token}, timeout=5).json()


def _post(sandbox, path: str, token: str, body: dict) -> dict:
    return requests.post(sandbox.base_url + path, params={"access_token": token}, json=body, timeout=5).json()


@pytest.fixture
def oa_token(sandbox) -> str:
    sandbox.control.register_app("oa", OA, OA_SECRET)
    return _token(sandbox, OA, OA_SECRET)


def test_private_templates_are_listed_as_wechat_lists_them(sandbox, oa_token):
    added = sandbox.control.add_template(OA, "订单发货通知", SHIPPED, example="订单编号：A1", template_id="tpl-shipped")
    answer = _get(sandbox, "cgi-bin/template/get_all_private_template", oa_token)
    assert answer == {"template_list": [{
        "template_id": "tpl-shipped", "title": "订单发货通知", "primary_industry": "IT科技",
        "deputy_industry": "互联网|电子商务", "content": SHIPPED, "example": "订单编号：A1",
    }]}
    assert added["template_id"] == "tpl-shipped"


def test_subscribe_templates_answer_errcode_0_with_data_for_service_accounts_and_mini_programs(sandbox, oa_token):
    sandbox.control.register_app("miniprogram", MP, MP_SECRET)
    sandbox.control.add_template(MP, "预约成功通知", "预约项目：{{thing1.DATA}}", kind="subscribe", template_id="sub-1", type=2)
    sandbox.control.add_template(OA, "活动提醒", "活动名称：{{thing1.DATA}}", kind="subscribe", template_id="sub-oa", type=3)
    mp = _get(sandbox, "wxaapi/newtmpl/gettemplate", _token(sandbox, MP, MP_SECRET))
    assert mp == {"errcode": 0, "errmsg": "ok", "data": [
        {"priTmplId": "sub-1", "title": "预约成功通知", "content": "预约项目：{{thing1.DATA}}", "example": "", "type": 2},
    ]}
    assert [t["priTmplId"] for t in _get(sandbox, "wxaapi/newtmpl/gettemplate", oa_token)["data"]] == ["sub-oa"]


def test_a_mini_program_or_wecom_token_may_not_read_template_messages(sandbox):
    sandbox.control.register_app("miniprogram", MP, MP_SECRET)
    sandbox.control.register_app("wecom", WECOM, WECOM_SECRET)
    mp_token = _token(sandbox, MP, MP_SECRET)
    assert _get(sandbox, "cgi-bin/template/get_all_private_template", mp_token)["errcode"] == 48001
    assert _post(sandbox, "cgi-bin/template/del_private_template", mp_token, {"template_id": "x"})["errcode"] == 48001
    wecom = requests.get(sandbox.base_url + "cgi-bin/gettoken", params={"corpid": WECOM, "corpsecret": WECOM_SECRET}, timeout=5).json()
    assert _get(sandbox, "wxaapi/newtmpl/gettemplate", wecom["access_token"])["errcode"] == 48001
    with pytest.raises(SandboxControlError, match="api unauthorized"):
        sandbox.control.add_template(MP, "x", "{{first.DATA}}")


def test_the_library_needs_a_valid_token(sandbox, oa_token):
    assert _get(sandbox, "cgi-bin/template/get_all_private_template", "not-a-token")["errcode"] == 40001
    assert _get(sandbox, "wxaapi/newtmpl/gettemplate", "")["errcode"] == 41001
    sandbox.control.advance_clock(7201)
    assert _get(sandbox, "cgi-bin/template/get_all_private_template", oa_token)["errcode"] == 42001


def test_a_service_account_holds_at_most_25_templates(sandbox, oa_token):
    for n in range(MAX_PRIVATE_TEMPLATES - 1):
        sandbox.control.add_template(OA, f"模板{n}", "{{first.DATA}}")
    answer = _post(sandbox, "cgi-bin/template/api_add_template", oa_token, {"template_id_short": "TM00015", "keyword_name_list": []})
    assert answer["errcode"] == 0 and answer["template_id"]
    full = _post(sandbox, "cgi-bin/template/api_add_template", oa_token, {"template_id_short": "TM00015"})
    assert full["errcode"] == 45026
    with pytest.raises(SandboxControlError, match="template num exceeds limit"):
        sandbox.control.add_template(OA, "one too many", "{{first.DATA}}")
    assert len(_get(sandbox, "cgi-bin/template/get_all_private_template", oa_token)["template_list"]) == 25
    # Deleting one makes room again.
    assert _post(sandbox, "cgi-bin/template/del_private_template", oa_token, {"template_id": answer["template_id"]})["errcode"] == 0
    assert _post(sandbox, "cgi-bin/template/api_add_template", oa_token, {"template_id_short": "TM00015"})["errcode"] == 0


def test_unknown_template_ids_are_40037(sandbox, oa_token):
    assert _post(sandbox, "cgi-bin/template/del_private_template", oa_token, {"template_id": "nope"})["errcode"] == 40037
    assert _post(sandbox, "cgi-bin/template/api_add_template", oa_token, {"template_id_short": "TM99999"})["errcode"] == 40037


def test_a_seeded_library_refuses_template_sends_of_other_ids(sandbox, oa_token):
    client = sandbox.wechat_client(OA, OA_SECRET)
    openid = sandbox.control.add_followers(OA, 1)[0]
    sandbox.control.add_template(OA, "订单发货通知", SHIPPED, template_id="tpl-shipped")
    sent = client.post("message/template/send", data={"touser": openid, "template_id": "tpl-shipped", "data": {}})
    assert sent["msgid"]
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/template/send", data={"touser": openid, "template_id": "tpl-other", "data": {}})
    assert refused.value.errcode == 40037
    client.post("template/del_private_template", data={"template_id": "tpl-shipped"})
    with pytest.raises(WeChatClientException) as deleted:
        client.post("message/template/send", data={"touser": openid, "template_id": "tpl-shipped", "data": {}})
    assert deleted.value.errcode == 40037


def test_strict_apps_refuse_unknown_ids_before_any_seeding_and_open_ones_learn_them(sandbox):
    sandbox.control.register_app("oa", OA, OA_SECRET, auto_templates=False)
    openid = sandbox.control.add_followers(OA, 1)[0]
    client = sandbox.wechat_client(OA, OA_SECRET)
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/template/send", data={"touser": openid, "template_id": "T", "data": {}})
    assert refused.value.errcode == 40037
    sandbox.control.app_settings(OA, auto_templates=True)
    assert client.post("message/template/send", data={"touser": openid, "template_id": "T", "data": {}})["msgid"]
    assert [t["template_id"] for t in sandbox.control.templates(OA)["template"]] == ["T"]


def test_a_mini_program_cannot_send_template_messages(sandbox):
    sandbox.control.register_app("miniprogram", MP, MP_SECRET)
    openid = sandbox.control.add_followers(MP, 1)[0]
    answer = _post(sandbox, "cgi-bin/message/template/send", _token(sandbox, MP, MP_SECRET),
                   {"touser": openid, "template_id": "T", "data": {}})
    assert answer["errcode"] == 48001


def test_a_prefixed_base_url_reaches_wxaapi(sandbox, oa_token):
    sandbox.control.add_template(OA, "活动提醒", "{{thing1.DATA}}", kind="subscribe", template_id="sub-oa")
    answer = requests.get(sandbox.base_url + "wechat-proxy/wxaapi/newtmpl/gettemplate", params={"access_token": oa_token}, timeout=5).json()
    assert answer["data"][0]["priTmplId"] == "sub-oa"
