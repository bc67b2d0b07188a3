"""Fixtures of the engagement feature (tracking, learning, reports)."""

from __future__ import annotations

import pytest

from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory


@pytest.fixture
def eng_account(db):
    return ChannelAccountFactory(timezone="Asia/Shanghai")


@pytest.fixture
def eng_campaign(eng_account):
    from campaigns.models import Campaign

    return Campaign.objects.create(name="Spring sale", account=eng_account, message_type="template")


@pytest.fixture
def eng_make_delivery(eng_campaign):
    """Make a delivery of `eng_campaign` (or another campaign) to a new or given customer."""
    from campaigns.models import Delivery

    def make(*, campaign=None, customer=None, **fields):
        campaign = campaign or eng_campaign
        customer = customer or CustomerFactory()
        identity = ChannelIdentityFactory(customer=customer, account=campaign.account)
        return Delivery.objects.create(campaign=campaign, customer=customer, identity=identity, account=campaign.account, **fields)

    return make


@pytest.fixture
def eng_eager_celery(settings):
    """Run Celery tasks inline (the analytics task that applies events to profiles)."""
    from scrm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
