"""Holdout as planning assigns it, checked for what the lift report relies on: stable and unbiased."""

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Suppression
from campaigns.planning import campaign_plan_audience
from campaigns.reports.selectors import campaign_funnel, campaign_lift
from customers.models import ChannelIdentity, Customer, EngagementProfile
from customers.segments.models import Segment
from customers.segments.services import segment_snapshot_create

pytestmark = pytest.mark.django_db

N = 3000


def _plan(campaign):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        return campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)


@pytest.fixture
def big_audience(plan_account, static_segment):
    customers = Customer.objects.bulk_create([Customer(display_name=f"c{i}") for i in range(N)])
    now = timezone.now()
    ChannelIdentity.objects.bulk_create(
        [
            ChannelIdentity(customer=c, account=plan_account, kind="oa_openid", external_id=f"h-{c.pk}", follow_state="following", last_interaction_at=now)
            for c in customers
        ]
    )
    # Every other customer is highly engaged: a biased split would show up against this.
    EngagementProfile.objects.bulk_create([EngagementProfile(customer=c, score=50.0 if i % 2 else 0.0) for i, c in enumerate(customers)])
    return customers, static_segment(customers)


def test_holdout_share_is_unbiased_by_engagement_and_stable_across_replans(plan_account, big_audience, make_campaign, contact_policy):
    customers, segment = big_audience
    campaign = make_campaign(plan_account, segment, priority_class="transactional", holdout_percent=20)
    _plan(campaign)
    held = set(Suppression.objects.filter(campaign=campaign, reason="holdout").values_list("customer_id", flat=True))
    # 20 % of 3000 = 600, binomial sd ≈ 21.9: allow 4 sd.
    assert abs(len(held) - 600) < 88
    engaged = {c.pk for i, c in enumerate(customers) if i % 2}
    held_engaged = len(held & engaged)
    # Half of the held-out should be engaged customers (sd ≈ sqrt(600)/2 ≈ 12.2).
    assert abs(held_engaged - len(held) / 2) < 50
    # The funnel and the lift's control group are exactly this set.
    assert campaign_funnel(campaign).held_out == len(held)
    assert campaign_lift(campaign)["conversion"]["control_n"] == len(held)

    Suppression.objects.filter(campaign=campaign).delete()
    campaign.deliveries.all().delete()
    _plan(campaign)
    assert set(Suppression.objects.filter(campaign=campaign, reason="holdout").values_list("customer_id", flat=True)) == held
