"""End to end over real HTTP: the sandbox plays WeChat and posts signed, encrypted events (with its
retries) to the callback URL served by a live Django server; the events are processed."""

from __future__ import annotations

import pytest
from django.db import connection

from customers.models import ChannelIdentity
from messaging.callbacks.models import InboundMessage
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory


@pytest.fixture
def live_oa_account(transactional_db, live_server, sandbox, settings, callback_celery_eager, monkeypatch):
    # The live server's request threads must not keep persistent connections past the test, or the
    # test database cannot be dropped at the end of the session.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    settings.PUBLIC_BASE_URL = live_server.url
    account = ChannelAccountFactory(kind="oa", encrypt_mode="safe", api_base_url=sandbox.base_url)
    sandbox_register_account(account)
    return account


def test_sandbox_events_and_their_retries_are_processed_once(sandbox, live_oa_account):
    app_id = live_oa_account.app_id
    sandbox.control.post_event(app_id, event="subscribe", openid="o-e2e", create_time=1_760_000_000, repeat=3)
    sandbox.control.post_event(app_id, event="unsubscribe", openid="o-e2e", create_time=1_760_000_100, wait=True)

    posted = sandbox.control.callbacks(app_id=app_id)
    assert len(posted) == 4
    assert {(c["status"], c["body"]) for c in posted} == {(200, "success")}
    rows = InboundMessage.objects.filter(account=live_oa_account)
    assert sorted(rows.values_list("event", "state")) == [("subscribe", "processed"), ("unsubscribe", "processed")]
    identity = ChannelIdentity.objects.get(account=live_oa_account, external_id="o-e2e")
    assert identity.follow_state == "unfollowed"
