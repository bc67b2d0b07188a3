"""The attention budget and the choice by expected value (campaigns.budget) at planning."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignState, Delivery, Suppression
from campaigns.planning import campaign_plan_audience
from customers.models import EngagementProfile
from customers.segments.models import Segment
from customers.segments.services import segment_snapshot_create
from tests.factories import CampaignFactory, ContactPolicyFactory, DeliveryFactory, TagFactory

pytestmark = pytest.mark.django_db


def plan(campaign, start_at=None):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        return campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk, start_at=start_at)


def reasons(campaign):
    return dict(Suppression.objects.filter(campaign=campaign).values_list("customer_id", "reason"))


def clicker(customer, topics, *, now, pushes=20.0, clicks=10.0):
    """A customer who clicked half of many recent pushes on these topics."""
    EngagementProfile.objects.update_or_create(
        customer=customer,
        defaults={
            "score_updated_at": now,
            "topic_pushes": {str(t.pk): pushes for t in topics},
            "topic_clicks": {str(t.pk): clicks for t in topics},
            "last_click_at": now,
        },
    )


def one_push_left_for_two_topics(account, make_audience, static_segment):
    """A customer who clicked half their pushes on shoes and on bags, pushed twice in the last 7 days:
    one left of the weekly budget (3, nothing ignored in a row). Returns now, them, their segment, the topics."""
    now = timezone.now()
    shoes, bags = TagFactory(), TagFactory()
    (customer, _), = make_audience(account, 1)
    clicker(customer, [shoes, bags], now=now)
    for days in (1, 2):
        DeliveryFactory(campaign=CampaignFactory(account=account), customer=customer, state="sent", sent_at=now - timedelta(days=days), is_marketing=True)
    return now, customer, static_segment([customer]), shoes, bags


def steered(account, segment, topic, **fields):
    return CampaignFactory(
        account=account, segment=segment, message_type="mass", content={"text": "New arrivals"}, topics=[topic],
        steer_by_expected_value=True, **fields,
    )


def test_the_budget_goes_to_the_campaign_worth_more_and_the_other_records_why(plan_account, make_audience, static_segment, contact_policy):
    now, customer, segment, shoes, bags = one_push_left_for_two_topics(plan_account, make_audience, static_segment)
    cheap = steered(plan_account, segment, shoes, click_value=1.0)
    dear = steered(plan_account, segment, bags, click_value=50.0, state=CampaignState.SCHEDULED, scheduled_at=now + timedelta(days=2))

    plan(cheap, start_at=now)
    assert reasons(cheap) == {customer.pk: "budget_reserved"}
    assert not Delivery.objects.filter(campaign=cheap).exists()

    plan(dear, start_at=now + timedelta(days=2))
    assert Delivery.objects.filter(campaign=dear, customer=customer).exists()


def test_an_equally_good_campaign_ahead_does_not_take_the_budget(plan_account, make_audience, static_segment, contact_policy):
    now, customer, segment, shoes, bags = one_push_left_for_two_topics(plan_account, make_audience, static_segment)
    today = steered(plan_account, segment, shoes)
    steered(plan_account, segment, bags, state=CampaignState.SCHEDULED, scheduled_at=now + timedelta(days=2))

    plan(today, start_at=now)
    # The same evidence on both topics and the same value: the two are worth the same (however their
    # sums round), so the last push of the week goes out now rather than waiting for an equal one.
    assert reasons(today) == {}
    assert Delivery.objects.filter(campaign=today, customer=customer).exists()


def test_without_a_better_campaign_the_push_goes_out(plan_account, make_audience, static_segment, contact_policy):
    now = timezone.now()
    shoes = TagFactory()
    (customer, _), = make_audience(plan_account, 1)
    clicker(customer, [shoes], now=now)
    campaign = steered(plan_account, static_segment([customer]), shoes)
    plan(campaign, start_at=now)
    assert reasons(campaign) == {}
    assert Delivery.objects.filter(campaign=campaign, customer=customer).exists()


def test_a_customer_who_ignores_pushes_has_a_smaller_budget(plan_account, make_audience, static_segment, contact_policy):
    now = timezone.now()
    shoes = TagFactory()
    (tolerant, _), (tired, _) = make_audience(plan_account, 2)
    for customer in (tolerant, tired):
        clicker(customer, [shoes], now=now)
        DeliveryFactory(campaign=CampaignFactory(account=plan_account), customer=customer, state="sent", sent_at=now - timedelta(days=2), is_marketing=True)
    # Two ignored in a row (below the fatigue rule's 3): a budget of 3 − 2 = 1, already used.
    EngagementProfile.objects.filter(customer=tired).update(ignored_push_streak=2)
    campaign = steered(plan_account, static_segment([tolerant, tired]), shoes)
    plan(campaign, start_at=now)
    assert reasons(campaign) == {tired.pk: "attention_budget"}
    # The weekly cap stays a hard limit ahead of the budget.
    assert Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True).get() == tolerant.pk


def test_exploration_reaches_customers_without_any_history(plan_account, make_audience, static_segment, contact_policy):
    now = timezone.now()
    shoes = TagFactory()
    people = [c for c, _ in make_audience(plan_account, 300)]
    # A third visited the topic on their own (no push, no click yet).
    visitors = set()
    for customer in people[:100]:
        EngagementProfile.objects.create(customer=customer, score_updated_at=now, topic_affinity={str(shoes.pk): 1.0}, score=2.0)
        visitors.add(customer.pk)
    campaign = steered(plan_account, static_segment(people), shoes)
    plan(campaign, start_at=now)

    sent = set(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True))
    left_out = reasons(campaign)
    assert set(left_out.values()) == {"low_expected_value"}
    assert len(sent) + len(left_out) == 300
    strangers = {c.pk for c in people} - visitors
    # Never-seen customers are tried (a Thompson draw at the population's rate: no organic signal is no
    # evidence against the topic), clearly less often than those whose visits point to the topic.
    assert 0 < len(sent & strangers) < len(strangers) / 2
    assert len(sent & visitors) / len(visitors) > 1.5 * len(sent & strangers) / len(strangers)


def test_with_a_reach_a_class_that_never_clicked_is_still_explored(plan_account, make_audience, static_segment, contact_policy):
    now = timezone.now()
    shoes, bags = TagFactory(), TagFactory()
    people = [c for c, _ in make_audience(plan_account, 40)]
    # Everyone got one push on bags, nobody clicked: the class's rate falls below the disturbance bar.
    for customer in people:
        EngagementProfile.objects.create(customer=customer, score_updated_at=now, topic_pushes={str(bags.pk): 1.0})
    barred = steered(plan_account, static_segment(people), shoes)
    plan(barred, start_at=now)
    assert set(reasons(barred).values()) == {"low_expected_value"}
    assert Delivery.objects.filter(campaign=barred).count() < 4

    # The same audience with a reach of 25 %: the draws only rank, a quarter is still tried.
    reach = steered(plan_account, static_segment(people), shoes, top_percent=25)
    plan(reach, start_at=now)
    assert Delivery.objects.filter(campaign=reach).count() == 10
    assert set(reasons(reach).values()) == {"low_predicted_engagement"}


def test_with_a_reach_the_class_that_clicks_goes_first(plan_account, make_audience, static_segment, contact_policy):
    now = timezone.now()
    shoes, bags = TagFactory(), TagFactory()
    people = [c for c, _ in make_audience(plan_account, 100)]
    visitors, strangers = people[:20], people[20:]
    # On bags, customers who had visited its pages clicked half their pushes, the others none.
    for customer in visitors:
        EngagementProfile.objects.create(
            customer=customer, score_updated_at=now, topic_pushes={str(bags.pk): 2.0}, topic_clicks={str(bags.pk): 1.0},
            topic_affinity={str(bags.pk): 2.0, str(shoes.pk): 1.5},
        )
    for customer in strangers:
        EngagementProfile.objects.create(customer=customer, score_updated_at=now, topic_pushes={str(bags.pk): 2.0})
    campaign = steered(plan_account, static_segment(people), shoes, top_percent=20)
    plan(campaign, start_at=now)
    # Shoes were never pushed: the visitors of its pages are like those who clicked bags.
    assert set(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True)) == {c.pk for c in visitors}


def test_with_a_reach_a_push_that_waits_through_the_quiet_hours_ranks_lower(plan_account, make_audience, static_segment):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    start = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    shoes = TagFactory()
    people = [c for c, _ in make_audience(plan_account, 20, timezone="Asia/Shanghai")]
    evening, morning = people[:10], people[10:]
    # The same clicks; the evening readers are reached at their hour (20:00), the 07:00 readers only at
    # 20:00 the evening before, eleven hours before they read.
    for customer in people:
        clicker(customer, [shoes], now=timezone.now())  # the estimates' now
    EngagementProfile.objects.filter(customer__in=evening).update(best_hour=20)
    EngagementProfile.objects.filter(customer__in=morning).update(best_hour=7)
    campaign = steered(plan_account, static_segment(people), shoes, top_percent=50, send_time_optimization=True)
    plan(campaign, start_at=start)
    sent = Delivery.objects.filter(campaign=campaign)
    assert set(sent.values_list("customer_id", flat=True)) == {c.pk for c in evening}
    assert {d.send_after.astimezone(ZoneInfo("Asia/Shanghai")).hour for d in sent} == {20}


def test_with_a_reach_a_customer_whose_hour_is_unknown_counts_the_audiences_chance_to_read_at_the_fallback_hour(
    plan_account, make_audience, static_segment, contact_policy
):
    start = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    shoes = TagFactory()
    people = [c for c, _ in make_audience(plan_account, 30, timezone="Asia/Shanghai")]
    evening, morning = people[:10], people[10:20]  # the last ten: no hour learned yet
    for customer in people:
        # The same clicks (many: each customer's own draw barely spreads), the same estimate.
        clicker(customer, [shoes], now=timezone.now(), pushes=200.0, clicks=100.0)
    EngagementProfile.objects.filter(customer__in=evening).update(best_hour=20)
    EngagementProfile.objects.filter(customer__in=morning).update(best_hour=9)
    campaign = steered(plan_account, static_segment(people), shoes, top_percent=66, send_time_optimization=True)  # 20 of 30
    plan(campaign, start_at=start)
    sent = Delivery.objects.filter(campaign=campaign)
    # Those with an hour get the push at it; the others would get it at 09:00, which the evening readers
    # would read about half as often (½^(11/3) against 1): the reach goes to the customers who will see it.
    assert set(sent.values_list("customer_id", flat=True)) == {c.pk for c in evening + morning}
