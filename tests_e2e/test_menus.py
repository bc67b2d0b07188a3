"""The menu editor in the console: build a menu in the phone-shaped preview, see a WeChat limit
named as it is broken, save a version, publish it to the sandbox and preview what one follower sees
(menu/trymatch). Runs on its own stack (`make e2e E2E_ARGS=tests_e2e/test_menus.py`) or after the
journey."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

OA_NAME = "Demo 咖啡 服务号"  # seed_demo's service account
OA_APP_ID = "wxdemo0000000001"


def test_21_login(logged_in: Page):
    expect(logged_in).to_have_url(re.compile(r"/admin/$"))
    expect(logged_in.locator("#nav-sidebar-inner a[href='/admin/menus/menu/']")).to_have_count(1)


def test_22_menu_editor_with_preview(page: Page, journey, shoot, api):
    existing = api.get(f"{api.base}/api/v1/menus/").json()["results"]
    for menu in existing:  # a rerun on the same stack starts from no menu
        if menu["published_version"]:
            api.post(f"{api.base}/api/v1/menus/{menu['id']}/unpublish/")
        api.delete(f"{api.base}/api/v1/menus/{menu['id']}/")
    page.goto("/admin/menus/menu/add/")
    page.locator("#id_account").select_option(page.locator("#id_account option", has_text=OA_NAME).get_attribute("value"))
    page.fill("#id_name", "E2E 默认菜单")
    page.click("button[name=_continue], input[name=_continue]")
    expect(page).to_have_url(re.compile(r"/admin/menus/menu/\d+/change/"))
    journey.update(menu_id=int(re.search(r"/menu/(\d+)/change/", page.url).group(1)))

    editor = page.get_by_test_id("menu-editor")
    phone_bar = editor.get_by_test_id("menu-phone-bar")
    expect(phone_bar.get_by_test_id("menu-phone-item")).to_have_count(0)
    editor.get_by_test_id("menu-add-top").click()
    form = editor.get_by_test_id("menu-item-form")
    # A name past WeChat's 16 bytes: the item turns red in the phone and the limit is named.
    form.locator("input[name=menu-name]").fill("今日新品推荐")
    expect(editor.get_by_test_id("menu-problem").first).to_contain_text("16")
    expect(phone_bar.locator(".has-problem")).to_have_count(1)
    shoot("limit")
    form.locator("input[name=menu-name]").fill("今日推荐")
    form.locator("textarea[name=menu-action-text]").fill("{{ customer.display_name }}，今天的推荐是桂花拿铁")
    expect(page.locator(".menu-phone__bubble")).to_contain_text("今天的推荐是桂花拿铁")

    # A second top item with two sub-items: one opens the shop, one hands over to a person.
    editor.get_by_test_id("menu-add-top").click()
    form.locator("input[name=menu-name]").fill("服务")
    editor.get_by_test_id("menu-add-sub").click()
    form.locator("input[name=menu-name]").fill("官方商城")
    form.locator("select[name=menu-type]").select_option("view")
    form.locator("input[name=menu-url]").fill("https://shop.example.com/")
    editor.get_by_test_id("menu-add-sub").click()
    form.locator("input[name=menu-name]").fill("联系客服")
    form.locator("select[name=menu-action]").select_option("open_conversation")
    expect(phone_bar.get_by_test_id("menu-phone-item")).to_have_text(["今日推荐", re.compile("服务")])
    expect(page.get_by_test_id("menu-phone-sub")).to_have_text(["官方商城", "联系客服"])
    expect(editor.get_by_test_id("menu-ok")).to_be_visible()
    shoot("preview", full_page=False)

    with page.expect_response(lambda r: r.url.endswith("/save-version/")):
        editor.get_by_test_id("menu-save").click()
    expect(editor.get_by_test_id("menu-save-result")).to_contain_text("版本 1")


def test_23_publish_and_preview_one_follower(page: Page, journey, shoot, api, sandbox):
    menu_id = journey.need("menu_id", "test_22_menu_editor_with_preview")
    page.goto(f"/admin/menus/menu/{menu_id}/change/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("menu-publish").click()
    expect(page.locator("body")).to_contain_text("版本 1 已发布到微信")
    created = sandbox("requests", path_contains="menu/create", app_id=OA_APP_ID)["requests"]
    assert created and [b["name"] for b in created[-1]["body"]["button"]] == ["今日推荐", "服务"]
    assert "action" not in created[-1]["body"]["button"][0]
    expect(page.get_by_test_id("menu-versions")).to_contain_text("v1")

    account = next(a for a in api.get(f"{api.base}/api/v1/accounts/").json()["results"] if a["app_id"] == OA_APP_ID)
    follower = api.get(f"{api.base}/api/v1/customers/", params={"account": account["id"], "follow_state": "following", "page_size": 1}).json()["results"][0]
    page.fill("#menu-try-customer", str(follower["id"]))
    page.get_by_test_id("menu-try").click()
    expect(page.get_by_test_id("menu-try-result")).to_contain_text("E2E 默认菜单 — 今日推荐 | 服务")
    shoot("published")
