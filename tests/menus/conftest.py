"""Fixtures of the menu tests: a service account on the sandbox with followers known on both sides."""

from __future__ import annotations

import pytest

from tests.factories import ChannelIdentityFactory, CustomerFactory, SegmentFactory

DEFAULT_BUTTONS = [
    {"type": "click", "name": "今日推荐", "key": "TODAY", "action": {"type": "reply_text", "text": "{{ customer.display_name }}，今天推荐新品"}},
    {"type": "view", "name": "官网", "url": "https://shop.example.com/"},
    {
        "name": "服务",
        "sub_button": [
            {"type": "click", "name": "联系客服", "key": "HUMAN", "action": {"type": "open_conversation", "greeting": "您好"}},
            {"type": "scancode_push", "name": "扫码", "key": "SCAN"},
            {"type": "miniprogram", "name": "小程序", "url": "https://shop.example.com/", "appid": "wxmp0001", "pagepath": "pages/index"},
        ],
    },
]
VIP_BUTTONS = [
    {"type": "click", "name": "专属福利", "key": "VIP_GIFT", "action": {"type": "reply_text", "text": "尊敬的会员 {{ customer.display_name }}"}},
    {"type": "view", "name": "会员中心", "url": "https://vip.example.com/"},
]


@pytest.fixture
def followers(sandbox, oa_account):
    """followers(n) → [(customer, openid)] following the account in the sandbox and in the product."""

    def make(n: int):
        out = []
        for openid in sandbox.control.add_followers(oa_account.app_id, n):
            customer = CustomerFactory()
            ChannelIdentityFactory(customer=customer, account=oa_account, external_id=openid)
            out.append((customer, openid))
        return out

    return make


@pytest.fixture
def vip_segment():
    return lambda members: SegmentFactory(name="VIP 会员", members=members)


