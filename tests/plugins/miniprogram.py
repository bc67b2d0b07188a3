"""Fixtures of the mini-program API: an account, and customers logged in with a bearer token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer
from messaging.miniprogram.services import IssuedTokens, mp_session_create
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory


@dataclass
class MiniProgramUserHandle:
    customer: Customer
    identity: ChannelIdentity
    tokens: IssuedTokens
    client: APIClient


@pytest.fixture
def mp_api_account(db) -> ChannelAccount:
    return ChannelAccountFactory(kind="miniprogram", name="Shop mini-program")


@pytest.fixture
def mp_user_factory(mp_api_account):
    """Make a customer with an mp_openid identity and a live session; `.client` sends its token."""

    def make(**customer_fields) -> MiniProgramUserHandle:
        identity = ChannelIdentityFactory(account=mp_api_account, customer__display_name=customer_fields.pop("display_name", "Mei"), **{f"customer__{k}": v for k, v in customer_fields.items()})
        tokens = mp_session_create(identity=identity, session_key="sk-secret")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access_token}")
        return MiniProgramUserHandle(customer=identity.customer, identity=identity, tokens=tokens, client=client)

    return make


@pytest.fixture
def mp_user(mp_user_factory) -> MiniProgramUserHandle:
    return mp_user_factory()


def _sandbox_account(sandbox, kind: str) -> ChannelAccount:
    account = ChannelAccountFactory(kind=kind, api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox.control.register_app(kind=kind, app_id=account.app_id, secret=account.app_secret, auto_report=False)
    return account


@pytest.fixture
def mp_sandbox_account(db, sandbox) -> ChannelAccount:
    """A mini-program registered with the sandbox (own name: other plugins define `mp_account`)."""
    return _sandbox_account(sandbox, "miniprogram")


@pytest.fixture
def oa_sandbox_account(db, sandbox) -> ChannelAccount:
    return _sandbox_account(sandbox, "oa")
