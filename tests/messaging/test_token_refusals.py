"""A token-endpoint refusal that only an edit of the account cures (40013 invalid app id, 40125 invalid
secret) is remembered per account in the token store (messaging/channels/tokens.py): later sends
fail at once, without asking WeChat again per delivery, until the account is changed."""

from __future__ import annotations

import pytest

from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

TEMPLATE = {"template_id": "tpl-order", "data": {"first": {"value": "Shipped"}}}


def _send(account, key: str):
    # A fresh adapter each time: nothing remembered in this process's memory, only in the shared store.
    return get_adapter(account).send(Recipient(key, "o-someone"), OutboundMessage("template", TEMPLATE, key))


def _token_requests(sandbox) -> int:
    return len(sandbox.control.requests(path_contains="cgi-bin/token"))


def test_an_invalid_app_id_is_asked_once_not_per_delivery(sandbox):
    # The sandbox does not know this app (as after its restart, or a typo in the app id): 40013.
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    outcomes = [_send(account, f"k{i}") for i in range(5)]
    assert {(o.status, o.error_code) for o in outcomes} == {("permanent", "40013")}
    assert all("access token refused" in o.error_message for o in outcomes)
    assert _token_requests(sandbox) == 1

    # The operator fixes the account (here: registers the app and edits the secret): asked again, sent.
    account.app_secret = "a-corrected-secret"
    account.save()
    sandbox.control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
    sandbox.control.add_followers(account.app_id, ["o-someone"])
    assert _send(account, "after-fix").ok
    assert _token_requests(sandbox) == 2
