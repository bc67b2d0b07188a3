"""Inbox fixtures: a service account that is both the sandbox's app and a callback target, a follower
in the sandbox, and operators."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from messaging.inbox.services import operator_set_online
from tests.factories import ChannelAccountFactory
from tests.plugins.callbacks import wechat_payload


@pytest.fixture
def inbox_account(db, sandbox):
    account = ChannelAccountFactory(kind="oa", encrypt_mode="safe", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox.control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
    return account


@pytest.fixture
def follower(sandbox, inbox_account):
    return sandbox.control.add_followers(inbox_account.app_id, 1)[0]


@pytest.fixture
def customer_writes(deliver, sandbox, inbox_account):
    """customer_writes(openid, payload="text.xml", **fields): the customer sends a message; WeChat (the
    sandbox) and the product both see the window open."""

    def write(openid: str, payload: str = "text.xml", **fields):
        if payload == "text.xml":  # WeChat opens the window before it posts the message
            sandbox.control.set_interaction(inbox_account.app_id, openid)
        deliver(inbox_account, wechat_payload(payload, openid=openid, **fields))

    return write


def _operator(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw-operator-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging", codename__in=perms))
    return user


@pytest.fixture
def make_operator(db):
    def make(username: str, *, online: bool = True, reply: bool = True) -> User:
        perms = ["view_conversation", "change_conversation"] + (["reply_conversation"] if reply else [])
        user = _operator(username, *perms)
        operator_set_online(user=user, online=online)
        return user

    return make
