"""The customer-service window is tracked from inbound events as WeChat opens it (客服消息下发规则):
a user message opens 48 h with 5 messages, a follow / scan / click-menu event 1 minute with 3, a VIEW
nothing; each new interaction starts a new window with no message sent yet."""

from __future__ import annotations

import time

import pytest

from customers.models import ChannelIdentity
from customers.services.cs_window import cs_window_refund, cs_window_take
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db


def identity(account, openid):
    return ChannelIdentity.objects.get(account=account, external_id=openid)


@pytest.mark.parametrize(
    ("payload", "fields", "kind"),
    [
        ("subscribe.xml", {}, "event"),
        ("scan.xml", {"scene": "shop-1"}, "event"),
        ("click.xml", {"key": "menu-1"}, "event"),
        ("text.xml", {}, "message"),
    ],
)
def test_an_interaction_opens_a_window_of_its_kind_with_no_message_sent(deliver, callback_oa_account, payload, fields, kind):
    openid = f"o-cs-{payload}"
    deliver(callback_oa_account, wechat_payload("text.xml", openid=openid, create_time=str(int(time.time()) - 10)))
    ChannelIdentity.objects.filter(account=callback_oa_account, external_id=openid).update(cs_window_sends=4)
    deliver(callback_oa_account, wechat_payload(payload, openid=openid, **fields))
    row = identity(callback_oa_account, openid)
    assert (row.cs_window_kind, row.cs_window_sends) == (kind, 0)


def test_a_view_menu_opens_nothing(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("view.xml", openid="o-cs-view", url="https://shop.example.com/"))
    row = identity(callback_oa_account, "o-cs-view")
    assert row.last_interaction_at is None and row.cs_window_kind == ""


def test_the_window_gives_its_messages_once_each_and_takes_back_unsent_ones(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("click.xml", openid="o-cs-take", key="menu-1"))
    pk = identity(callback_oa_account, "o-cs-take").pk
    assert [cs_window_take(identity_ids=[pk]) for _ in range(4)] == [{}, {}, {}, {pk: "cs_quota_used"}]
    cs_window_refund(identity_ids=[pk])
    assert cs_window_take(identity_ids=[pk]) == {}
    ChannelIdentity.objects.filter(pk=pk).update(cs_window_sends=0, last_interaction_at=identity(callback_oa_account, "o-cs-take").last_interaction_at.replace(year=2020))
    assert cs_window_take(identity_ids=[pk]) == {pk: "outside_cs_window"}
