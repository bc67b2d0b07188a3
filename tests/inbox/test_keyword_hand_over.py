"""A keyword auto-reply that hands over to a person ("人工", "转人工"): through the encrypted callback
path the customer gets the rule's passive reply and the conversation opens for an operator."""

from __future__ import annotations

import time

import pytest

from customers.models import EngagementEvent
from messaging.callbacks.models import AutoReplyRule
from messaging.inbox.models import Conversation
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db


def test_asking_for_a_person_is_answered_and_lands_in_the_inbox(deliver, callback_client, inbox_account, follower, make_operator, client):
    kate = make_operator("kate")
    AutoReplyRule.objects.create(account=inbox_account, keyword="转人工", match="contains", hand_over=True,
                                 reply_text="好的，正在为您转接人工客服，请稍候。")
    response = deliver(inbox_account, wechat_payload("text.xml", openid=follower, content="我要转人工"))
    reply = callback_client(inbox_account).decrypt_reply(response.content.decode())
    assert "<Content><![CDATA[好的，正在为您转接人工客服，请稍候。]]></Content>" in reply

    conversation = Conversation.objects.get()
    assert (conversation.source, conversation.state, conversation.assignee, conversation.last_preview) == ("keyword", "open", kate, "转人工")
    thread = [(m.inbound, m.msg_type, m.status) for m in conversation.messages.order_by("pk")]
    assert thread == [(True, "text", "received"), (True, "event", "received"), (False, "text", "sent")]
    told = conversation.messages.get(inbound=False)
    assert told.body["text"]["content"] == "好的，正在为您转接人工客服，请稍候。" and told.body["passive"] is True
    assert EngagementEvent.objects.filter(event_type="service.conversation_requested", properties__source="keyword").count() == 1

    # The operator sees it in the inbox, with the customer's waiting time running.
    client.force_login(kate)
    listed = client.get("/api/v1/conversations/?mine=true&state=open").json()["results"]
    assert [c["id"] for c in listed] == [conversation.pk]
    assert listed[0]["sla"]["timer"] == "first_response"


def test_a_plain_keyword_rule_answers_without_asking_for_a_person(deliver, callback_client, inbox_account, follower, make_operator):
    make_operator("kate")
    AutoReplyRule.objects.create(account=inbox_account, keyword="营业时间", match="exact", reply_text="每天 9:00-18:00")
    response = deliver(inbox_account, wechat_payload("text.xml", openid=follower, content="营业时间"))
    assert "每天 9:00-18:00" in callback_client(inbox_account).decrypt_reply(response.content.decode())
    conversation = Conversation.objects.get()  # a message opens the conversation as before
    assert conversation.source == "message"
    assert not conversation.messages.filter(msg_type="event").exists()
    assert not EngagementEvent.objects.filter(event_type="service.conversation_requested").exists()


def test_asking_again_assigns_a_conversation_nobody_had(deliver, inbox_account, follower, make_operator):
    AutoReplyRule.objects.create(account=inbox_account, keyword="人工", match="exact", hand_over=True, reply_text="请稍候")
    # Both in the same second (WeChat's CreateTime has no finer grain): the first still opened it.
    same_second = str(int(time.time()))
    deliver(inbox_account, wechat_payload("text.xml", openid=follower, content="你好", create_time=same_second))  # nobody online
    assert Conversation.objects.get().assignee is None
    lee = make_operator("lee")
    deliver(inbox_account, wechat_payload("text.xml", openid=follower, content="人工", create_time=same_second))
    conversation = Conversation.objects.get()
    assert conversation.assignee == lee and conversation.source == "message"  # opened by the first message
