"""The console editor's server side: add a menu, live validation, save a version, publish, preview."""

from __future__ import annotations

import json

import pytest

from menus.models import Menu, MenuVersion
from tests.factories import ChannelAccountFactory
from tests.menus.conftest import DEFAULT_BUTTONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_editor_saves_publishes_and_previews(console, sandbox, oa_account, followers):
    (customer, _), = followers(1)
    added = console.post("/admin/menus/menu/add/", {"account": oa_account.pk, "name": "默认菜单", "_continue": "1"})
    menu = Menu.objects.get()
    assert added.status_code == 302 and added["Location"].endswith(f"/admin/menus/menu/{menu.pk}/change/")
    page = console.get(f"/admin/menus/menu/{menu.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert 'data-testid="menu-phone"' in page.content.decode() and "菜单编辑器" in page.content.decode()

    broken = [{**DEFAULT_BUTTONS[0], "name": "今日新品推荐"}]
    check = console.post(f"/admin/menus/menu/{menu.pk}/validate/", json.dumps({"buttons": broken}), content_type="application/json").json()
    assert check["problems"][0]["limit"] == "top_item_name_bytes"
    refused = console.post(f"/admin/menus/menu/{menu.pk}/save-version/", json.dumps({"buttons": broken}), content_type="application/json")
    assert refused.status_code == 400 and not MenuVersion.objects.exists()
    saved = console.post(f"/admin/menus/menu/{menu.pk}/save-version/", json.dumps({"buttons": DEFAULT_BUTTONS, "note": "首版"}), content_type="application/json")
    assert saved.json()["version"] == 1

    console.post(f"/admin/menus/menu/{menu.pk}/publish/")
    menu.refresh_from_db()
    assert menu.published_version.number == 1 and sandbox.control.requests("menu/create")
    preview = console.get(f"/admin/menus/menu/{menu.pk}/preview-customer/", {"customer": customer.pk}).json()
    assert preview["menu_id"] == menu.pk and [b["name"] for b in preview["button"]] == ["今日推荐", "官网", "服务"]
    assert console.get(f"/admin/menus/menu/{menu.pk}/publish/").status_code == 405


def test_the_add_form_refuses_a_second_default_menu_and_mini_programs(console):
    account = ChannelAccountFactory(kind="oa")
    Menu.objects.create(account=account, name="默认")
    again = console.post("/admin/menus/menu/add/", {"account": account.pk, "name": "又一个"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert again.status_code == 200 and "该账号已有面向此人群的菜单" in again.content.decode()
    mp = ChannelAccountFactory(kind="miniprogram")
    assert console.post("/admin/menus/menu/add/", {"account": mp.pk, "name": "m"}).status_code == 200
    assert Menu.objects.count() == 1
