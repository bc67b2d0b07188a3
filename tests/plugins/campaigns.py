"""Fixtures for campaign tests: an audience on a service account, a static segment, a campaign builder."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from scrm.celery import app as celery_app
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    ContactPolicyFactory,
    CustomerFactory,
    SegmentFactory,
)


@pytest.fixture
def plan_account(db):
    return ChannelAccountFactory(kind="oa", timezone="Asia/Shanghai", rate_limit_per_second=1000)


@pytest.fixture
def make_audience(db):
    """make_audience(account, n, **customer_fields) → list of (customer, identity) following the account."""

    def make(account, n: int, *, follow_state: str = "following", **customer_fields):
        out = []
        for _ in range(n):
            customer = CustomerFactory(**customer_fields)
            identity = ChannelIdentityFactory(customer=customer, account=account, follow_state=follow_state)
            out.append((customer, identity))
        return out

    return make


@pytest.fixture
def static_segment(db):
    """static_segment(customers) → a static Segment listing them."""
    return lambda customers: SegmentFactory(members=customers)


@pytest.fixture
def make_campaign(db):
    def make(account, segment, **fields) -> Campaign:
        return CampaignFactory(account=account, segment_id=segment.pk if segment else None, **{"name": "Spring sale", **fields})

    return make


@pytest.fixture
def contact_policy(db):
    """The global policy row with quiet hours off, so tests at arbitrary wall-clock times are stable."""
    return ContactPolicyFactory()


@pytest.fixture
def sandbox_oa(sandbox, transactional_db):
    """A service account whose API is the sandbox; no callback URL (no delivery reports)."""
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url, rate_limit_per_second=1000, timezone="Asia/Shanghai")
    sandbox.control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
    return account


@pytest.fixture
def sandbox_followers(sandbox):
    """sandbox_followers(account, n, **customer_fields) → [(customer, identity)] following in the sandbox and here."""

    def make(account, n: int, **customer_fields):
        openids = sandbox.control.add_followers(account.app_id, n)
        out = []
        for openid in openids:
            customer = CustomerFactory(**customer_fields)
            identity = ChannelIdentityFactory(customer=customer, account=account, external_id=openid, follow_state="following")
            out.append((customer, identity))
        return out

    return make


@pytest.fixture
def campaigns_eager(monkeypatch):
    """Celery tasks run inline (callbacks processing, dispatch pumps enqueued on commit)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
