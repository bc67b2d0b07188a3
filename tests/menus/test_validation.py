"""Invalid menus are refused with the limit they break, before anything reaches WeChat."""

from __future__ import annotations

import pytest
from django.utils import translation

from menus import services
from menus.models import MenuVersion
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory, SegmentFactory

pytestmark = pytest.mark.django_db

OK = {"type": "click", "name": "今日", "key": "TODAY", "action": {"type": "reply_text", "text": "hi"}}


def _refusal(buttons, **menu):
    account = ChannelAccountFactory(kind="oa")
    target = services.menu_create(account=account, name="m", **menu)
    with pytest.raises(ApplicationError) as caught:
        services.menu_version_save(menu=target, buttons=buttons)
    assert caught.value.code == "menu_invalid" and not MenuVersion.objects.exists()
    return caught.value


@pytest.mark.parametrize(
    ("buttons", "limit", "path", "words"),
    [
        ([], "top_items_count", "button", "3"),
        ([OK, {**OK, "key": "B"}, {**OK, "key": "C"}, {**OK, "key": "D"}], "top_items_count", "button", "at most 3"),
        ([{**OK, "name": "一二三四五六"}], "top_item_name_bytes", "button[0].name", "16 bytes"),
        ([{"name": "更多", "sub_button": [{**OK, "key": f"K{i}"} for i in range(6)]}], "sub_items_count", "button[0].sub_button", "at most 5"),
        ([{"name": "更多", "sub_button": [{**OK, "name": "字" * 21}]}], "sub_item_name_bytes", "button[0].sub_button[0].name", "60 bytes"),
        ([{**OK, "key": "k" * 129}], "key_bytes", "button[0].key", "128"),
        ([{"type": "view", "name": "官网", "url": "https://e.com/" + "a" * 1020}], "url_bytes", "button[0].url", "1024"),
        ([{"type": "view", "name": "官网"}], "field_required", "button[0].url", "url"),
        ([{"type": "miniprogram", "name": "小程序", "url": "https://e.com/", "pagepath": "p"}], "field_required", "button[0].appid", "appid"),
        ([{"type": "teleport", "name": "x"}], "item_type", "button[0].type", "scancode_push"),
        ([{k: v for k, v in OK.items() if k != "action"}], "action_required", "button[0].action", "action"),
        ([{**OK, "action": {"type": "reply_miniprogram", "title": "t"}}], "action_field", "button[0].action.appid", "appid"),
        ([OK, {**OK, "name": "again"}], "key_unique", "button[1].key", "TODAY"),
        ([{**OK, "action": {"type": "reply_text", "text": "{% load x %}"}}], "template", "button[0].action.text", ""),
    ],
)
def test_a_broken_limit_is_named(buttons, limit, path, words):
    with translation.override("en"):
        error = _refusal(buttons)
    problem = error.detail["problems"][0]
    assert (problem["limit"], problem["path"]) == (limit, path)
    assert words in problem["message"] and error.message == problem["message"]


def test_the_limit_is_named_in_chinese_by_default():
    with translation.override("zh-hans"):
        error = _refusal([{**OK, "name": "一二三四五六"}])
    assert error.message == "“一二三四五六”有 18 字节；微信规定一级菜单名称最多 16 字节（一个汉字 3 字节）。"


def test_every_broken_limit_is_listed_at_once():
    error = _refusal([{**OK, "name": "一二三四五六"}, {"type": "view", "name": "x" * 17}])
    assert [p["limit"] for p in error.detail["problems"]] == ["top_item_name_bytes", "top_item_name_bytes", "field_required"]


def test_conditional_menus_may_link_to_three_domains_in_all():
    links = [{"type": "view", "name": f"L{i}", "url": f"https://d{i}.com/"} for i in range(2)]
    links.append({"name": "更多", "sub_button": [{"type": "view", "name": f"S{i}", "url": f"https://s{i}.com/"} for i in range(2)]})
    error = _refusal(links, segment=SegmentFactory())
    assert error.detail["problems"][0]["limit"] == "conditional_domains"


def test_unknown_tags_in_actions_are_refused():
    error = _refusal([{**OK, "action": {"type": "tag_customer", "tag_ids": [987654]}}])
    assert error.detail["problems"][0]["limit"] == "unknown_tags"


def test_a_mini_program_has_no_menu():
    with pytest.raises(ApplicationError) as caught:
        services.menu_create(account=ChannelAccountFactory(kind="miniprogram"), name="m")
    assert caught.value.code == "menu_bad_account"
