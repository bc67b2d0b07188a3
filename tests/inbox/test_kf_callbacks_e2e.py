"""Over real HTTP: the sandbox creates, switches and closes kf sessions and posts the session events
(signed and encrypted) to the callback URL of a live server, as WeChat does; the product applies them
to the customer's conversation."""

from __future__ import annotations

import pytest
from django.db import connection

from messaging.inbox import kf
from messaging.inbox.models import Conversation
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory


@pytest.fixture
def live_account(transactional_db, live_server, sandbox, settings, callback_celery_eager, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    settings.PUBLIC_BASE_URL = live_server.url
    account = ChannelAccountFactory(kind="oa", encrypt_mode="safe", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox_register_account(account)
    sandbox.control.call("kf_setup", app_id=account.app_id, wechat_id="gh_brand")
    return account


def test_session_events_posted_by_wechat_hold_switch_and_release_the_conversation(sandbox, live_account):
    app_id = live_account.app_id
    openid = sandbox.control.add_followers(app_id, ["o-kf-e2e"])[0]
    sandbox.control.post_event(app_id, event="text", openid=openid, content="在吗", wait=True)
    conversation = Conversation.objects.select_related("identity", "account").get()
    alice = kf.kf_account_add(account=live_account, kf_account="alice@gh_brand", nickname="小爱")
    bob = kf.kf_account_add(account=live_account, kf_account="bob@gh_brand", nickname="小博")
    for worker in (alice, bob):
        sandbox.control.call("kf_worker", app_id=app_id, kf_account=worker.kf_account, kf_wx=f"{worker.kf_account[:3]}_wx", online=1)

    kf.kf_session_create(conversation=conversation, kf=alice)
    sandbox.control.flush_callbacks()
    sandbox.control.call("kf_switch", app_id=app_id, openid=openid, to_kf_account="bob@gh_brand")
    sandbox.control.flush_callbacks()
    conversation.refresh_from_db()
    assert conversation.kf_account == "bob@gh_brand"

    kf.kf_session_close(conversation=conversation)
    sandbox.control.flush_callbacks()
    conversation.refresh_from_db()
    assert (conversation.kf_account, conversation.state) == ("", "resolved")
    events = [(m.body["event"], m.body.get("KfAccount") or m.body.get("ToKfAccount")) for m in conversation.messages.filter(msg_type="event").order_by("pk")]
    assert events == [("kf_create_session", "alice@gh_brand"), ("kf_switch_session", "bob@gh_brand"), ("kf_close_session", "bob@gh_brand")]
    assert {(c["status"], c["body"]) for c in sandbox.control.callbacks(app_id=app_id)} == {(200, "success")}
