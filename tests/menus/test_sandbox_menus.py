"""The sandbox's menu APIs answer as WeChat does: limits, error codes, conditional matching by tag."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException

pytestmark = pytest.mark.django_db

CLICK = {"type": "click", "name": "今日", "key": "TODAY"}


@pytest.fixture
def client(sandbox):
    sandbox.control.register_app(kind="oa", app_id="wx-menu", secret="s", auto_report=False)
    return sandbox.wechat_client("wx-menu", "s")


def _errcode(call, *args, **kwargs) -> int:
    with pytest.raises(WeChatClientException) as caught:
        call(*args, **kwargs)
    return caught.value.errcode


@pytest.mark.parametrize(
    ("buttons", "errcode"),
    [
        ([], 40016),
        ([CLICK] * 4, 40016),
        ([{**CLICK, "name": "一二三四五六"}], 40018),  # 18 bytes > 16
        ([{"name": "更多", "sub_button": [CLICK] * 6}], 40023),
        ([{"name": "更多", "sub_button": [{**CLICK, "name": "字" * 21}]}], 40025),  # 63 bytes > 60
        ([{**CLICK, "key": "k" * 129}], 40019),
        ([{"type": "view", "name": "官网", "url": "https://e.com/" + "a" * 1020}], 40020),
        ([{"type": "teleport", "name": "x", "key": "k"}], 40017),
        ([{"name": "x"}], 65308),
        ([{"type": "media_id", "name": "图片"}], 40007),
    ],
)
def test_menu_create_refuses_what_wechat_refuses(client, buttons, errcode):
    assert _errcode(client.post, "menu/create", data={"button": buttons}) == errcode


def test_conditional_menus_match_by_tag_newest_first(sandbox, client):
    assert _errcode(client.get, "menu/get") == 46003
    tag = client.tag.create("VIP")["id"]
    sandbox.control.add_followers("wx-menu", [{"openid": "o-vip", "tags": [tag]}, {"openid": "o-plain"}])
    vip = [{"type": "click", "name": "专属", "key": "VIP"}]
    assert _errcode(client.post, "menu/addconditional", data={"button": vip, "matchrule": {"tag_id": str(tag)}}) == 65303
    client.post("menu/create", data={"button": [CLICK]})
    assert _errcode(client.post, "menu/addconditional", data={"button": vip, "matchrule": {}}) == 65304
    assert _errcode(client.post, "menu/addconditional", data={"button": vip, "matchrule": {"tag_id": str(tag), "sex": "1"}}) == 65320
    assert _errcode(client.post, "menu/addconditional", data={"button": vip, "matchrule": {"language": "zh_CN"}}) == 65320
    menuid = client.post("menu/addconditional", data={"button": vip, "matchrule": {"tag_id": str(tag)}})["menuid"]

    assert client.post("menu/trymatch", data={"user_id": "o-vip"})["button"][0]["key"] == "VIP"
    assert client.post("menu/trymatch", data={"user_id": "o-plain"})["button"][0]["key"] == "TODAY"
    assert _errcode(client.post, "menu/trymatch", data={"user_id": "o-nobody"}) == 65302
    state = client.get("menu/get")
    assert state["menu"]["button"][0]["sub_button"] == [] and state["conditionalmenu"][0]["menuid"] == int(menuid)

    client.post("menu/delconditional", data={"menuid": menuid})
    assert _errcode(client.post, "menu/delconditional", data={"menuid": menuid}) == 65301
    assert client.post("menu/trymatch", data={"user_id": "o-vip"})["button"][0]["key"] == "TODAY"
    client.post("menu/delete", data={})
    assert _errcode(client.get, "menu/get") == 46003


def test_conditional_menus_link_to_at_most_three_domains(client):
    tag = client.tag.create("T")["id"]
    client.post("menu/create", data={"button": [CLICK]})

    def links(*hosts):
        return [{"type": "view", "name": f"L{i}", "url": f"https://{h}/"} for i, h in enumerate(hosts)]

    client.post("menu/addconditional", data={"button": links("a.com", "b.com"), "matchrule": {"tag_id": tag}})
    client.post("menu/addconditional", data={"button": links("c.com"), "matchrule": {"tag_id": tag}})
    assert _errcode(client.post, "menu/addconditional", data={"button": links("d.com"), "matchrule": {"tag_id": tag}}) == 65316


def test_mini_programs_have_no_menus(sandbox):
    sandbox.control.register_app(kind="miniprogram", app_id="wx-mp", secret="s")
    assert _errcode(sandbox.wechat_client("wx-mp", "s").post, "menu/create", data={"button": [CLICK]}) == 48001
