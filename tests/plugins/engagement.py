"""Fixtures of the engagement feature (tracking, learning, reports)."""

from __future__ import annotations

import pytest

from scrm.celery import app as celery_app
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    DeliveryFactory,
)


@pytest.fixture
def eng_account(db):
    return ChannelAccountFactory(timezone="Asia/Shanghai")


@pytest.fixture
def eng_campaign(eng_account):
    return CampaignFactory(name="Spring sale", account=eng_account, message_type="template")


@pytest.fixture
def eng_make_delivery(eng_campaign):
    """Make a delivery of `eng_campaign` (or another campaign) to a new or given customer."""

    def make(*, campaign=None, customer=None, **fields):
        campaign = campaign or eng_campaign
        customer = customer or CustomerFactory()
        identity = ChannelIdentityFactory(customer=customer, account=campaign.account)
        return DeliveryFactory(campaign=campaign, customer=customer, identity=identity, **fields)

    return make


@pytest.fixture
def eng_eager_celery(monkeypatch):
    """Run Celery tasks inline (the analytics task that applies events to profiles)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
