"""Auto-reply rules are managed in the admin; the inbound outbox is visible there, read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import ChannelIdentity
from messaging.callbacks.models import AutoReplyRule, InboundMessage
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db


def test_admin_creates_an_auto_reply_rule_that_answers_at_once(client, admin_user, callback_client, callback_oa_account):
    client.force_login(admin_user)
    poster = callback_client(callback_oa_account)
    assert poster.post(wechat_payload("text.xml", content="menu")).content == b"success"  # caches the account
    response = client.post(
        reverse("admin:messaging_autoreplyrule_add"),
        {"account": callback_oa_account.pk, "keyword": "menu", "match": "exact", "reply_text": "Today: noodles", "priority": 100, "is_active": "on"},
    )
    assert response.status_code == 302, response.content
    assert AutoReplyRule.objects.filter(keyword="menu").exists()
    reply = poster.decrypt_reply(poster.post(wechat_payload("text.xml", content="menu")).content.decode())
    assert "Today: noodles" in reply


def test_inbound_messages_are_listed_read_only(client, admin_user, callback_client, callback_oa_account):
    client.force_login(admin_user)
    callback_client(callback_oa_account).post(wechat_payload("text.xml"))
    row = InboundMessage.objects.get()
    assert client.get(reverse("admin:messaging_inboundmessage_changelist")).status_code == 200
    assert client.get(reverse("admin:messaging_inboundmessage_change", args=[row.pk])).status_code == 200
    assert client.get(reverse("admin:messaging_inboundmessage_add")).status_code == 403


def test_admin_action_processes_failed_messages_again(
    client, admin_user, callback_client, callback_oa_account, callback_celery_eager, django_capture_on_commit_callbacks
):

    client.force_login(admin_user)
    callback_client(callback_oa_account).post(wechat_payload("subscribe.xml", openid="o-failed"))
    InboundMessage.objects.update(state="failed", attempts=5, last_error="RuntimeError: boom")
    row = InboundMessage.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:messaging_inboundmessage_changelist"), {"action": "requeue", "_selected_action": [row.pk]}
        )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("processed", 1)
    assert ChannelIdentity.objects.filter(external_id="o-failed").exists()
