"""The customer-service inbox end to end: a customer's message opens a conversation, an operator's
reply reaches the sandbox through message/custom/send, and WeChat's window is respected before the
call (客服消息下发规则: a user message opens 48 h with 5 messages)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import ChannelIdentity
from messaging.inbox.models import Conversation, ConversationMessage
from messaging.inbox.services import Reply, conversation_reply, conversation_resolve

pytestmark = pytest.mark.django_db


def reply(conversation, operator, text, key):
    return conversation_reply(conversation_id=conversation.pk, operator=operator, reply=Reply(kind="text", text=text), idempotency_key=key)


def test_a_customer_message_opens_a_conversation_assigned_to_an_online_operator(customer_writes, inbox_account, follower, make_operator):
    make_operator("offline", online=False)
    online = make_operator("online")
    customer_writes(follower, content="我的订单还没发货")
    conversation = Conversation.objects.get(account=inbox_account)
    assert (conversation.state, conversation.assignee, conversation.last_preview) == ("open", online, "我的订单还没发货")
    assert conversation.awaiting_since is not None and conversation.first_response_at is None
    message = conversation.messages.get()
    assert (message.inbound, message.msg_type, message.body) == (True, "text", {"Content": "我的订单还没发货"})
    # A second message joins the same conversation; the follow-up event too.
    customer_writes(follower, "image.xml")
    customer_writes(follower, "click.xml", key="menu-help")
    assert Conversation.objects.count() == 1
    assert list(conversation.messages.order_by("pk").values_list("msg_type", flat=True)) == ["text", "image", "event"]


def test_an_operators_reply_reaches_the_sandbox_and_stops_the_first_response_timer(customer_writes, sandbox, inbox_account, follower, make_operator):
    operator = make_operator("alice")
    customer_writes(follower)
    conversation = Conversation.objects.get()
    message = reply(conversation, operator, "您好，马上为您查询", "k1")
    assert (message.status, message.reason) == ("sent", "")
    sent = sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom")
    assert [(m["touser"], m["payload"]["text"]["content"]) for m in sent] == [(follower, "您好，马上为您查询")]
    conversation.refresh_from_db()
    assert conversation.state == "waiting" and conversation.first_response_at is not None and conversation.awaiting_since is None
    # The same idempotency key sends nothing again.
    assert reply(conversation, operator, "您好，马上为您查询", "k1").pk == message.pk
    assert len(sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom")) == 1


def test_the_sixth_reply_in_the_window_is_held_back_with_the_reason(customer_writes, sandbox, inbox_account, follower, make_operator):
    operator = make_operator("bob")
    customer_writes(follower)
    conversation = Conversation.objects.get()
    outcomes = [reply(conversation, operator, f"第{n}条", f"k{n}") for n in range(1, 7)]
    assert [(m.status, m.reason) for m in outcomes] == [("sent", "")] * 5 + [("held", "cs_quota_used")]
    # WeChat was never asked for the sixth: it would have answered 45047.
    assert [r["errcode"] for r in sandbox.control.requests("message/custom/send")] == [0] * 5
    # The customer writes again: a new window, the next reply goes out.
    customer_writes(follower, create_time=str(int(time.time()) + 2))
    assert reply(conversation, operator, "现在可以了", "k7").status == "sent"


def test_a_reply_after_48_hours_is_refused_with_the_reason(customer_writes, sandbox, inbox_account, follower, make_operator):
    operator = make_operator("carol")
    customer_writes(follower)
    conversation = Conversation.objects.get()
    ChannelIdentity.objects.filter(pk=conversation.identity_id).update(last_interaction_at=timezone.now() - timedelta(hours=48, minutes=1))
    sandbox.control.advance_clock(48 * 3600 + 60)
    message = reply(conversation, operator, "抱歉久等", "late")
    assert (message.status, message.reason) == ("refused", "outside_cs_window")
    assert sandbox.control.requests("message/custom/send") == []
    assert ConversationMessage.objects.filter(conversation=conversation, inbound=False).count() == 1


def test_wechat_refusing_the_window_is_recorded_with_its_reason(customer_writes, sandbox, inbox_account, follower, make_operator):
    operator = make_operator("dave")
    customer_writes(follower)
    conversation = Conversation.objects.get()
    sandbox.control.advance_clock(48 * 3600 + 60)  # WeChat's window closed; ours not yet known to be
    message = reply(conversation, operator, "还在吗", "k")
    assert (message.status, message.reason) == ("refused", "outside_cs_window")
    assert [r["errcode"] for r in sandbox.control.requests("message/custom/send")] == [45015]


def test_a_resolved_conversation_reopens_on_the_next_message(customer_writes, follower, make_operator):
    make_operator("erin")
    customer_writes(follower)
    conversation = conversation_resolve(conversation_id=Conversation.objects.get().pk)
    assert conversation.state == "resolved"
    customer_writes(follower, content="又有一个问题")
    conversation.refresh_from_db()
    assert (conversation.state, conversation.resolved_at, conversation.last_preview) == ("open", None, "又有一个问题")


# --- the API ------------------------------------------------------------------------------------------


def test_the_api_answers_a_conversation_and_shows_the_quota_left(client, customer_writes, sandbox, inbox_account, follower, make_operator):
    operator = make_operator("frank")
    customer_writes(follower, content="在吗")
    client.force_login(operator)
    listed = client.get("/api/v1/conversations/?state=open").json()["results"]
    assert [(c["customer"], c["last_preview"], c["sla"]["timer"]) for c in listed] == [(Conversation.objects.get().customer_id, "在吗", "first_response")]
    pk = listed[0]["id"]
    detail = client.get(f"/api/v1/conversations/{pk}/").json()
    assert (detail["window"]["open"], detail["window"]["remaining"]) == (True, 5)
    sent = client.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "在的", "idempotency_key": "a1"}, content_type="application/json")
    assert sent.status_code == 201 and sent.json()["status"] == "sent"
    assert client.get(f"/api/v1/conversations/{pk}/").json()["window"]["remaining"] == 4
    polled = client.get(f"/api/v1/conversations/{pk}/?after={sent.json()['id'] - 1}").json()["messages"]
    assert [m["body"]["text"]["content"] for m in polled] == ["在的"]
    card = {"kind": "miniprogrampage", "title": "订单详情", "appid": "wxmini0001", "pagepath": "pages/order?id=1", "thumb_media_id": "THUMB", "idempotency_key": "a2"}
    assert client.post(f"/api/v1/conversations/{pk}/reply/", card, content_type="application/json").status_code == 201
    assert sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom")[-1]["payload"]["miniprogrampage"]["pagepath"] == "pages/order?id=1"


def test_the_api_names_why_a_reply_was_held_or_refused(client, customer_writes, inbox_account, follower, make_operator):
    operator = make_operator("grace")
    customer_writes(follower)
    client.force_login(operator)
    pk = Conversation.objects.get().pk
    ChannelIdentity.objects.filter(account=inbox_account, external_id=follower).update(cs_window_sends=5)
    held = client.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "x", "idempotency_key": "h"}, content_type="application/json")
    assert (held.status_code, held.json()["code"], held.json()["detail"]["reason"]) == (409, "inbox_reply_held", "cs_quota_used")
    ChannelIdentity.objects.filter(account=inbox_account, external_id=follower).update(last_interaction_at=timezone.now() - timedelta(days=3))
    refused = client.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "x", "idempotency_key": "r"}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"], refused.json()["detail"]["reason"]) == (409, "inbox_reply_refused", "outside_cs_window")
    bad = client.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "image", "idempotency_key": "b"}, content_type="application/json")
    assert bad.status_code == 400 and "media_id" in bad.json()["detail"]


def test_replying_needs_the_permission_and_transfer_needs_an_operator(client, customer_writes, follower, make_operator):
    viewer = make_operator("viewer", reply=False)
    other = make_operator("helen")
    customer_writes(follower)
    pk = Conversation.objects.get().pk
    client.force_login(viewer)
    assert client.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "x", "idempotency_key": "p"}, content_type="application/json").status_code == 403
    assert client.post(f"/api/v1/conversations/{pk}/transfer/", {"operator": viewer.pk}, content_type="application/json").json()["code"] == "inbox_bad_operator"
    moved = client.post(f"/api/v1/conversations/{pk}/transfer/", {"operator": other.pk}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["assignee"] == other.pk


def test_least_busy_assignment_and_service_analytics(customer_writes, sandbox, inbox_account, make_operator):
    first, second = make_operator("ivy"), make_operator("jack")
    openids = sandbox.control.add_followers(inbox_account.app_id, 3)
    for openid in openids:
        customer_writes(openid)
    assignees = list(Conversation.objects.order_by("pk").values_list("assignee", flat=True))
    assert sorted(assignees[:2]) == sorted([first.pk, second.pk]) and assignees[2] in (first.pk, second.pk)
    conversations = list(Conversation.objects.order_by("pk"))
    reply(conversations[0], first, "好的", "x")
    conversation_resolve(conversation_id=conversations[0].pk)
    today = timezone.localdate()
    from messaging.inbox.selectors import service_analytics

    figures = service_analytics(since=timezone.now() - timedelta(days=1), until=timezone.now() + timedelta(minutes=1))
    assert (figures["conversations"], figures["resolved"], figures["resolution_rate"]) == (3, 1, round(1 / 3, 4))
    assert figures["first_response_p50_seconds"] is not None and figures["per_day"] == [{"day": today.isoformat(), "conversations": 3}]
