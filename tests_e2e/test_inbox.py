"""Answering a conversation in the customer-service inbox: a follower writes to the demo service
account (the sandbox posts the callback as WeChat would), the conversation appears in the inbox page,
the operator sees the window's quota beside the reply box, answers, and the reply reaches the sandbox
through message/custom/send. Runs on its own stack (`make e2e E2E_ARGS=tests_e2e/test_inbox.py`) or
after the journey."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

OA_APP_ID = "wxdemo0000000001"  # seed_demo's service account


def test_41_login(logged_in: Page):
    expect(logged_in).to_have_url(re.compile(r"/admin/$"))


def test_42_answer_a_conversation(page: Page, shoot, sandbox):
    openid = f"o-e2e-inbox-{int(time.time())}"
    sandbox("add_followers", app_id=OA_APP_ID, users=[{"openid": openid}])
    sandbox("set_interaction", app_id=OA_APP_ID, openid=openid)
    xml = (
        f"<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[请问我的订单什么时候发货？]]></Content><MsgId>{int(time.time() * 1000)}</MsgId></xml>"
    )
    sandbox("post_event", app_id=OA_APP_ID, xml=xml, openid=openid)
    sandbox("flush_callbacks", timeout=30)

    page.goto("/admin/messaging/conversation/inbox/")
    conversation = page.get_by_test_id("inbox-conversation").filter(has_text="请问我的订单什么时候发货？")
    expect(conversation).to_have_count(1, timeout=30_000)  # the list polls every 5 s
    conversation.click()
    expect(page.get_by_test_id("inbox-messages")).to_contain_text("请问我的订单什么时候发货？")
    expect(page.get_by_test_id("inbox-window")).to_contain_text("5/5")
    page.get_by_test_id("inbox-text").fill("您好，订单已在今天下午发出。")
    page.get_by_test_id("inbox-send").click()
    expect(page.get_by_test_id("inbox-messages")).to_contain_text("您好，订单已在今天下午发出。")
    expect(page.get_by_test_id("inbox-window")).to_contain_text("4/5")
    shoot("answered", full_page=False)
    sent = sandbox("sent_messages", app_id=OA_APP_ID, api="custom", touser=openid)["messages"]
    assert [m["payload"]["text"]["content"] for m in sent] == ["您好，订单已在今天下午发出。"]
