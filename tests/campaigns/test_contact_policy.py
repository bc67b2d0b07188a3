"""One contact policy: the reasons planning records are the reasons the send-time re-check finds for
the same facts, and the account's daily quota means the same at both (its sends today)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.dispatch import deliveries_recheck, deliveries_within_account_quota, load_recipients
from campaigns.dispatch.claim import Claimed
from campaigns.models import Delivery, Suppression, SuppressionReason
from campaigns.planning import campaign_plan_audience
from campaigns.policy import effective_policy
from campaigns.policy_sql import REASONS
from customers.models import CustomerPreference, TopicSubscription
from customers.segments.models import Segment
from customers.segments.services import segment_snapshot_create
from tests.factories import DeliveryFactory, TagFactory

pytestmark = pytest.mark.django_db

DOCUMENTED_FUNNEL = [
    "no_identity", "unfollowed", "do_not_disturb", "topic_opt_out", "refuses_template", "wecom_no_owner", "no_consent",
    "outside_cs_window", "cs_quota_used", "mass_monthly_limit", "wecom_group_limit", "preference_frequency", "frequency_day",
    "frequency_week", "min_gap", "fatigue", "attention_budget", "low_expected_value", "budget_reserved", "low_predicted_engagement",
]


def plan(campaign):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        return campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)


def test_the_catalogue_is_the_documented_funnel_order():
    assert [str(reason.name) for reason in REASONS] == DOCUMENTED_FUNNEL


def test_planning_and_the_send_time_recheck_find_the_same_reason_for_the_same_facts(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    topic = TagFactory()
    people = make_audience(plan_account, 6)
    (unfollowed, i_unfollowed), (dnd, i_dnd), (opted_out, _), (important_only, _), (capped, _), (free, _) = people
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    i_unfollowed.follow_state = "unfollowed"
    i_unfollowed.save()
    i_dnd.do_not_disturb = True
    i_dnd.save()
    TopicSubscription.objects.create(customer=opted_out, tag=topic, opted_in=False)
    CustomerPreference.objects.create(customer=important_only, frequency="important_only")
    earlier = make_campaign(plan_account, None, name="earlier")
    # Earlier today in the operator's day (five minutes ago, or at midnight when that was yesterday).
    now = timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    DeliveryFactory(campaign=earlier, customer=capped, state="sent", sent_at=max(now - timedelta(minutes=5), today), is_marketing=True)
    segment = static_segment([c for c, _ in people])

    planned = make_campaign(plan_account, segment, topics=[topic])
    plan(planned)
    at_planning = dict(Suppression.objects.filter(campaign=planned).values_list("customer_id", "reason"))

    # The same facts met by deliveries already claimed (planned before the facts changed).
    sending = make_campaign(plan_account, segment, topics=[topic], state="sending")
    rows = [
        DeliveryFactory(campaign=sending, customer=customer, identity=identity, state="sending", claimed_at=timezone.now(), is_marketing=True)
        for customer, identity in people
    ]
    drop, _ = deliveries_recheck(campaign=sending, policy=effective_policy(sending), ids=[r.pk for r in rows])
    at_send = {row.customer_id: drop[row.pk] for row in rows if row.pk in drop}

    assert at_planning == {
        unfollowed.pk: "unfollowed",
        dnd.pk: "do_not_disturb",
        opted_out.pk: "topic_opt_out",
        important_only.pk: "preference_frequency",
        capped.pk: "frequency_day",
    }
    assert at_send == at_planning
    assert free.pk not in at_send


def _local_midnight(account):
    return timezone.now().astimezone(ZoneInfo(account.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)


def test_daily_quota_counts_todays_sends_and_rows_in_flight_not_rows_planned_for_later(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    plan_account.daily_quota = 4
    plan_account.save()
    other = make_campaign(plan_account, None, name="other", state="sending")
    DeliveryFactory(campaign=other, state="sent", sent_at=timezone.now())  # today: counts
    DeliveryFactory(campaign=other, state="sending", claimed_at=timezone.now())  # in flight: counts
    DeliveryFactory(campaign=other, state="delivered", sent_at=_local_midnight(plan_account) - timedelta(minutes=1))  # yesterday
    for _ in range(3):  # planned for tomorrow: reserves nothing today
        DeliveryFactory(campaign=other, state="planned", send_after=timezone.now() + timedelta(days=1))
    people = make_audience(plan_account, 5)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    campaign = make_campaign(plan_account, static_segment([c for c, _ in people]), priority_class="transactional")

    result = plan(campaign)

    assert result.planned == 2
    assert result.suppressed == {SuppressionReason.ACCOUNT_QUOTA: 3}
    # At send time the same definition: today's send and the claim ahead of the batch leave two.
    batch = list(Delivery.objects.filter(campaign=campaign).order_by("pk"))
    Delivery.objects.filter(pk__in=[d.pk for d in batch]).update(state="sending", claimed_at=timezone.now())
    rows = [Claimed(id=d.pk, customer_id=d.customer_id, identity_id=d.identity_id, batch_key="", attempts=0) for d in batch]
    load_recipients(rows)
    within, over = deliveries_within_account_quota(campaign=campaign, rows=rows)
    assert [r.id for r in within] == [d.pk for d in batch] and over == []
    plan_account.daily_quota = 3
    plan_account.save()
    campaign.refresh_from_db()
    within, over = deliveries_within_account_quota(campaign=campaign, rows=rows)
    assert len(within) == 1 and [r.id for r in over] == [batch[1].pk]
