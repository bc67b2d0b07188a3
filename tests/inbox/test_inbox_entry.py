"""How conversations are opened besides a message: the menus' conversation-request hook, and the
automatic reply outside business hours; SLA timers."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from customers.models import ChannelIdentity
from messaging.conversation_requests import ConversationRequest, conversation_request_dispatch
from messaging.inbox.models import Conversation, InboxSettings
from messaging.inbox.services import settings_of, sla_due

pytestmark = pytest.mark.django_db


def test_a_menu_request_opens_a_conversation_once(customer_writes, inbox_account, follower, make_operator):
    operator = make_operator("kate")
    customer_writes(follower, "subscribe.xml")  # the identity exists; a follow opens no conversation
    assert not Conversation.objects.exists()
    identity = ChannelIdentity.objects.get(account=inbox_account, external_id=follower)
    request = ConversationRequest(
        account_id=inbox_account.pk, customer_id=identity.customer_id, openid=follower, occurred_at=timezone.now(),
        dedupe_key="inbound:1:conversation", context={"menu_item_key": "human", "menu_item_name": "联系客服"},
    )
    assert conversation_request_dispatch(request) >= 1
    conversation_request_dispatch(request)  # a retried callback
    conversation = Conversation.objects.get()
    assert (conversation.source, conversation.state, conversation.assignee, conversation.last_preview) == ("menu", "open", operator, "联系客服")
    assert [m.body["menu_item_key"] for m in conversation.messages.all()] == ["human"]


def test_outside_business_hours_the_customer_gets_the_automatic_reply(customer_writes, sandbox, inbox_account, follower):
    InboxSettings.objects.create(account=inbox_account, opens_at=time(0), closes_at=time(0, 0, 1), weekdays="", after_hours_reply="您好，客服工作时间为 9:00-18:00")
    customer_writes(follower)
    customer_writes(follower, content="还在吗")  # once per unanswered streak: it spends a window message
    sent = sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom")
    assert [m["payload"]["text"]["content"] for m in sent] == ["您好，客服工作时间为 9:00-18:00"]
    conversation = Conversation.objects.get()
    # Nobody answered yet: the first-response timer still runs.
    assert conversation.first_response_at is None and conversation.state == "open"
    assert conversation.messages.filter(inbound=False).get().body["automatic"] is True


def test_within_business_hours_no_automatic_reply(customer_writes, sandbox, inbox_account, follower):
    InboxSettings.objects.create(account=inbox_account, opens_at=time(0), closes_at=time(23, 59, 59), weekdays="1,2,3,4,5,6,7", after_hours_reply="下班了")
    customer_writes(follower)
    assert sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom") == []


def test_the_sla_timer_flags_a_conversation_at_risk_then_overdue(inbox_account):
    settings = settings_of(inbox_account.pk)  # 5 minutes to the first response
    now = timezone.now()
    conversation = Conversation(account=inbox_account, state="open", opened_at=now, awaiting_since=now, last_message_at=now)
    assert sla_due(conversation, settings, now=now + timedelta(minutes=1)) == {"timer": "first_response", "due_at": now + timedelta(minutes=5), "at_risk": False, "breached": False}
    assert sla_due(conversation, settings, now=now + timedelta(minutes=4, seconds=30))["at_risk"] is True
    assert sla_due(conversation, settings, now=now + timedelta(minutes=6))["breached"] is True
    conversation.first_response_at, conversation.awaiting_since = now, now + timedelta(minutes=10)
    assert sla_due(conversation, settings, now=now + timedelta(minutes=11))["timer"] == "next_response"


def test_kf_session_events_join_the_conversation_and_closing_resolves_it(customer_writes, follower):
    customer_writes(follower)
    customer_writes(follower, "kf_session.xml", event="kf_create_session", kf="test1@gh_brand")
    customer_writes(follower, "kf_session.xml", event="kf_close_session", kf="test1@gh_brand")
    conversation = Conversation.objects.get()
    events = [(m.body["event"], m.body["KfAccount"]) for m in conversation.messages.filter(msg_type="event").order_by("pk")]
    assert events == [("kf_create_session", "test1@gh_brand"), ("kf_close_session", "test1@gh_brand")]
    assert conversation.state == "resolved"
