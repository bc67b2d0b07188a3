from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns import planning
from campaigns.models import Delivery, Suppression
from campaigns.planning import campaign_plan_audience
from customers.models import ConsentCredit, CustomerPreference, EngagementProfile, TopicSubscription
from customers.segments.models import Segment
from customers.segments.services import segment_snapshot_create
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    ContactPolicyFactory,
    DeliveryFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def plan(campaign, start_at=None):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        return campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk, start_at=start_at)


def reasons(campaign):
    return dict(Suppression.objects.filter(campaign=campaign).values_list("customer_id", "reason"))


def pushed(customer, account, *, at, message_type="customer_service", marketing=True):
    """A push the customer got at `at` from an earlier campaign on the account."""
    earlier = CampaignFactory(account=account, message_type=message_type)
    return DeliveryFactory(campaign=earlier, customer=customer, state="sent", sent_at=at, is_marketing=marketing)


def test_planning_creates_one_delivery_per_customer_and_twice_creates_nothing(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    people = make_audience(plan_account, 5)
    segment = static_segment([c for c, _ in people])
    campaign = make_campaign(plan_account, segment, message_type="customer_service", priority_class="transactional")
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    first = plan(campaign)
    assert first.planned == 5 and first.audience == 5
    second = plan(campaign)
    assert second.planned == 0
    assert Delivery.objects.filter(campaign=campaign).count() == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("identity_id", flat=True)) == {i.pk for _, i in people}


def test_each_left_out_customer_has_its_first_matching_reason(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    topic = TagFactory()
    people = make_audience(plan_account, 6)
    (a, ia), (b, ib), (c, ic), (d, id_), (e, ie), (f, if_) = people
    ia.follow_state = "unfollowed"
    ia.do_not_disturb = True  # unfollowed comes first in the funnel
    ia.save()
    ib.do_not_disturb = True
    ib.save()
    TopicSubscription.objects.create(customer=c, tag=topic, opted_in=False)
    CustomerPreference.objects.create(customer=d, frequency="important_only")
    for _, identity in people:
        if identity.pk != ie.pk:
            identity.last_interaction_at = timezone.now()
            identity.save()
    segment = static_segment([p for p, _ in people])
    campaign = make_campaign(plan_account, segment, topics=[topic])
    result = plan(campaign)
    assert reasons(campaign) == {
        a.pk: "unfollowed",
        b.pk: "do_not_disturb",
        c.pk: "topic_opt_out",
        e.pk: "outside_cs_window",
        d.pk: "preference_frequency",
    }
    assert list(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True)) == [f.pk]
    assert result.suppressed["unfollowed"] == 1


def test_daily_cap_counts_the_customers_calendar_day_in_their_time_zone(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    # Start at 2026-03-10 17:00 UTC = 01:00 on the 11th in Shanghai, 12:00 on the 10th in New York.
    start = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    (sh, ish), (ny, iny) = make_audience(plan_account, 1, timezone="Asia/Shanghai") + make_audience(plan_account, 1, timezone="America/New_York")
    for identity in (ish, iny):
        identity.last_interaction_at = start
        identity.save()
    segment = static_segment([sh, ny])
    # Both pushed at 15:30 UTC on the 10th: still the 10th in New York, but the 10th (23:30) in Shanghai too,
    # i.e. the day before the Shanghai customer's send day.
    at = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    pushed(sh, plan_account, at=at)
    pushed(ny, plan_account, at=at)
    campaign = make_campaign(plan_account, segment)
    plan(campaign, start_at=start)
    assert reasons(campaign) == {ny.pk: "frequency_day"}


def test_weekly_cap_reached_exactly_suppresses_and_one_below_does_not(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    start = timezone.now()
    (at_cap, i1), (below, i2) = make_audience(plan_account, 2)
    for identity in (i1, i2):
        identity.last_interaction_at = start
        identity.save()
    segment = static_segment([at_cap, below])
    for days in (2, 3, 4):
        pushed(at_cap, plan_account, at=start - timedelta(days=days))
    for days in (2, 3):
        pushed(below, plan_account, at=start - timedelta(days=days))
    # Older than 7 days: does not count.
    pushed(below, plan_account, at=start - timedelta(days=7, minutes=1))
    campaign = make_campaign(plan_account, segment)
    plan(campaign, start_at=start)
    assert reasons(campaign) == {at_cap.pk: "frequency_week"}


def test_transactional_bypasses_caps_but_not_opt_outs(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    topic = TagFactory()
    start = timezone.now()
    (capped, i1), (opted_out, i2) = make_audience(plan_account, 2)
    for identity in (i1, i2):
        identity.last_interaction_at = start
        identity.save()
    segment = static_segment([capped, opted_out])
    pushed(capped, plan_account, at=start - timedelta(minutes=5))
    TopicSubscription.objects.create(customer=opted_out, tag=topic, opted_in=False)
    campaign = make_campaign(plan_account, segment, priority_class="transactional", topics=[topic])
    plan(campaign, start_at=start)
    assert reasons(campaign) == {opted_out.pk: "topic_opt_out"}


def test_fatigue_cools_down_for_n_days_after_k_ignored_pushes(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    start = timezone.now()
    people = make_audience(plan_account, 3)
    for _, identity in people:
        identity.last_interaction_at = start
        identity.save()
    (tired, _), (below_k, _), (cooled, _) = people
    EngagementProfile.objects.create(customer=tired, ignored_push_streak=3, last_push_at=start - timedelta(days=6, hours=23))
    EngagementProfile.objects.create(customer=below_k, ignored_push_streak=2, last_push_at=start - timedelta(days=1))
    EngagementProfile.objects.create(customer=cooled, ignored_push_streak=5, last_push_at=start - timedelta(days=7, minutes=1))
    campaign = make_campaign(plan_account, static_segment([c for c, _ in people]))
    plan(campaign, start_at=start)
    assert reasons(campaign) == {tired.pk: "fatigue"}


def test_subscribe_message_needs_a_consent_credit(make_audience, static_segment, make_campaign, contact_policy):
    account = ChannelAccountFactory(kind="oa")
    (with_credit, _), (used_up, _), (never, _) = make_audience(account, 3)
    ConsentCredit.objects.create(customer=with_credit, account=account, template_id="TPL1", remaining=1)
    ConsentCredit.objects.create(customer=used_up, account=account, template_id="TPL1", remaining=0)
    campaign = make_campaign(
        account, static_segment([with_credit, used_up, never]), message_type="oa_subscribe", priority_class="transactional",
        content={"template_id": "TPL1", "template_keys": ["thing1"], "fields": {"thing1": "Hi"}},
    )
    plan(campaign)
    assert reasons(campaign) == {used_up.pk: "no_consent", never.pk: "no_consent"}


def test_quiet_hours_defer_to_the_window_end_in_the_customers_local_time(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    # 13:00 UTC: 21:00 in Shanghai (quiet starts, inclusive), 08:00 in New York (before 08:30), 13:00 in London.
    start = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    (sh, i1), (ny, i2), (ldn, i3) = (
        make_audience(plan_account, 1, timezone="Asia/Shanghai")
        + make_audience(plan_account, 1, timezone="America/New_York")
        + make_audience(plan_account, 1, timezone="Europe/London")
    )
    for identity in (i1, i2, i3):
        identity.last_interaction_at = start
        identity.save()
    campaign = make_campaign(plan_account, static_segment([sh, ny, ldn]), priority_class="transactional")
    plan(campaign, start_at=start)
    send_after = dict(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "send_after"))
    assert send_after[sh.pk] == datetime(2026, 1, 16, 0, 30, tzinfo=UTC)  # 08:30 next day in Shanghai
    assert send_after[ny.pk] == datetime(2026, 1, 15, 13, 30, tzinfo=UTC)  # 08:30 the same day in New York
    assert send_after[ldn.pk] == start


def test_quiet_hours_end_is_exclusive_and_start_is_inclusive(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    (c1, i1), = make_audience(plan_account, 1, timezone="Asia/Shanghai")
    i1.last_interaction_at = timezone.now()
    i1.save()
    segment = static_segment([c1])
    at_end = datetime(2026, 1, 15, 0, 30, tzinfo=UTC)  # 08:30 Shanghai: allowed
    campaign = make_campaign(plan_account, segment, priority_class="transactional")
    plan(campaign, start_at=at_end)
    assert Delivery.objects.get(campaign=campaign).send_after == at_end
    just_before_start = datetime(2026, 1, 15, 12, 59, tzinfo=UTC)  # 20:59 Shanghai: allowed
    campaign2 = make_campaign(plan_account, segment, priority_class="transactional")
    plan(campaign2, start_at=just_before_start)
    assert Delivery.objects.get(campaign=campaign2).send_after == just_before_start


def test_send_window_and_best_hour_set_the_send_time(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    start = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    (early, i1), (none, i2), = make_audience(plan_account, 2, timezone="Asia/Shanghai")
    for identity in (i1, i2):
        identity.last_interaction_at = start
        identity.save()
    EngagementProfile.objects.create(customer=early, best_hour=19)
    campaign = make_campaign(
        plan_account, static_segment([early, none]), priority_class="transactional",
        send_time_optimization=True, send_window_start=time(12, 0), send_window_end=time(20, 0),
    )
    plan(campaign, start_at=start)
    send_after = dict(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "send_after"))
    assert send_after[early.pk] == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)  # 19:00 local
    # No own best hour: the audience's (19) is the fallback.
    assert send_after[none.pk] == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_without_a_best_hour_the_push_goes_at_the_hour_that_reaches_most_of_the_audience(
    plan_account, make_audience, static_segment, make_campaign, contact_policy
):
    start = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    people = make_audience(plan_account, 6, timezone="Asia/Shanghai")
    for _, identity in people:
        identity.last_interaction_at = start
        identity.save()
    # Two read at 20:00 (the most common hour), three at 12:00 to 14:00; one has no hour of their own.
    for (customer, _), hour in zip(people, (20, 20, 12, 13, 14), strict=False):
        EngagementProfile.objects.create(customer=customer, best_hour=hour)
    newcomer = people[-1][0]
    campaign = make_campaign(plan_account, static_segment([c for c, _ in people]), priority_class="transactional", send_time_optimization=True)
    plan(campaign, start_at=start)
    # At 12:00 the push is fresh for the 12:00–14:00 readers; one at 20:00 would serve only two.
    assert Delivery.objects.get(campaign=campaign, customer=newcomer).send_after == datetime(2026, 1, 15, 4, 0, tzinfo=UTC)


def test_a_best_hour_inside_the_quiet_hours_is_reached_just_before_they_begin(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    start = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    (late, i1), (early, i2), (noon, i3) = make_audience(plan_account, 3, timezone="Asia/Shanghai")
    for identity in (i1, i2, i3):
        identity.last_interaction_at = start
        identity.save()
    for customer, hour in ((late, 22), (early, 7), (noon, 12)):
        EngagementProfile.objects.create(customer=customer, best_hour=hour)
    campaign = make_campaign(plan_account, static_segment([late, early, noon]), priority_class="transactional", send_time_optimization=True)
    plan(campaign, start_at=start)
    send_after = dict(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "send_after"))
    # A 22:00 or 07:00 reader gets it at 20:45, a quarter of an hour before the quiet hours (it waits for
    # them, as little as is safe), not after 08:30 when today's visit is past.
    assert send_after[late.pk] == send_after[early.pk] == datetime(2026, 1, 15, 12, 45, tzinfo=UTC)
    assert send_after[noon.pk] == datetime(2026, 1, 15, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local_start", "expected_local"),
    [
        (datetime(2026, 1, 15, 20, 50), datetime(2026, 1, 15, 20, 50)),  # already in the last quarter: now
        (datetime(2026, 1, 15, 21, 30), datetime(2026, 1, 16, 20, 45)),  # the quiet hours began: tomorrow's edge
    ],
)
def test_a_quiet_hours_reader_planned_late_in_the_evening(plan_account, make_audience, static_segment, make_campaign, db, local_start, expected_local):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    shanghai = ZoneInfo("Asia/Shanghai")
    ((late, identity),) = make_audience(plan_account, 1, timezone="Asia/Shanghai")
    identity.last_interaction_at = local_start.replace(tzinfo=shanghai)
    identity.save()
    EngagementProfile.objects.create(customer=late, best_hour=22)
    campaign = make_campaign(plan_account, static_segment([late]), priority_class="transactional", send_time_optimization=True)
    plan(campaign, start_at=local_start.replace(tzinfo=shanghai))
    assert Delivery.objects.get(campaign=campaign).send_after == expected_local.replace(tzinfo=shanghai)


def test_the_margin_before_the_quiet_hours_grows_with_what_the_account_must_send():
    from campaigns.policy import quiet_edge, quiet_edge_margin

    assert quiet_edge_margin(audience=100, rate_per_second=50) == timedelta(minutes=15)
    # 30,000 pushes at 50 a second take 10 minutes: twice that.
    assert quiet_edge_margin(audience=30_000, rate_per_second=50) == timedelta(minutes=20)
    assert quiet_edge_margin(audience=1_000_000, rate_per_second=400) == timedelta(hours=1)
    assert quiet_edge(quiet_start=time(21, 0), margin=timedelta(minutes=15)) == time(20, 45)
    assert quiet_edge(quiet_start=time(0, 10), margin=timedelta(minutes=15)) == time(23, 55)


def test_the_covering_hour_weighs_how_long_each_reader_waits():
    from campaigns.policy import covering_hour

    quiet = {"quiet_start": time(21, 0), "quiet_end": time(8, 30)}
    # One push at 09:00 is fresh for the 09:00 and 12:00 readers; 20:00 (the mode) loses the mornings to a night.
    assert covering_hour({9: 3, 12: 3, 17: 1, 20: 4}, **quiet) == 9
    # Readers at 22:00, inside the quiet hours: the last hour before they begin.
    assert covering_hour({22: 5}, **quiet) == 20
    assert covering_hour({}, **quiet) is None


def test_reachable_hour_is_the_same_rule_in_python():
    from campaigns.policy import reachable_hour

    quiet = {"quiet_start": time(21, 0), "quiet_end": time(8, 30)}
    assert [reachable_hour(h, **quiet) for h in (7, 8, 9, 20, 21, 23)] == [20, 20, 9, 20, 20, 20]
    assert reachable_hour(23, quiet_start=None, quiet_end=None) == 23
    assert reachable_hour(13, quiet_start=time(12, 0), quiet_end=time(14, 0)) == 11


def test_holdout_is_stable_and_recorded(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    people = make_audience(plan_account, 40)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    segment = static_segment([c for c, _ in people])
    campaign = make_campaign(plan_account, segment, priority_class="transactional", holdout_percent=50)
    plan(campaign)
    held = {cid for cid, r in reasons(campaign).items() if r == "holdout"}
    assert 5 < len(held) < 35
    assert Delivery.objects.filter(campaign=campaign).count() == 40 - len(held)
    Suppression.objects.filter(campaign=campaign).delete()
    Delivery.objects.filter(campaign=campaign).delete()
    plan(campaign)
    assert {cid for cid, r in reasons(campaign).items() if r == "holdout"} == held


def test_account_daily_quota_and_top_percent(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    people = make_audience(plan_account, 10)
    for index, (customer, identity) in enumerate(people):
        identity.last_interaction_at = timezone.now()
        identity.save()
        EngagementProfile.objects.create(customer=customer, score=index / 10)
    plan_account.daily_quota = 3
    plan_account.save()
    segment = static_segment([c for c, _ in people])
    campaign = make_campaign(plan_account, segment, priority_class="transactional", top_percent=50)
    plan(campaign)
    by_reason = {}
    for cid, r in reasons(campaign).items():
        by_reason.setdefault(r, set()).add(cid)
    assert by_reason["low_predicted_engagement"] == {c.pk for c, _ in people[:5]}
    assert len(by_reason["account_quota"]) == 2
    assert set(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True)) == {c.pk for c, _ in people[7:]}


def test_min_gap_boundary(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(daily_cap=10, weekly_cap=10, min_gap_hours=4)
    start = timezone.now()
    (inside, i1), (outside, i2) = make_audience(plan_account, 2, timezone="UTC")
    for identity in (i1, i2):
        identity.last_interaction_at = start
        identity.save()
    segment = static_segment([inside, outside])
    pushed(inside, plan_account, at=start - timedelta(hours=3, minutes=59))
    pushed(outside, plan_account, at=start - timedelta(hours=4))
    campaign = make_campaign(plan_account, segment)
    plan(campaign, start_at=start)
    assert reasons(campaign) == {inside.pk: "min_gap"}


def test_mass_send_stops_at_four_per_calendar_month(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    start = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)  # noon in Shanghai
    (four, _), (three, _) = make_audience(plan_account, 2)
    segment = static_segment([four, three])
    for day in (1, 5, 9, 13):
        pushed(four, plan_account, at=datetime(2026, 5, day, 4, 0, tzinfo=UTC), message_type="mass", marketing=False)
    for day in (5, 9, 13):
        pushed(three, plan_account, at=datetime(2026, 5, day, 4, 0, tzinfo=UTC), message_type="mass", marketing=False)
    # April 30th 17:00 UTC is already May 1st in Shanghai: it counts for May.
    pushed(three, plan_account, at=datetime(2026, 4, 30, 17, 0, tzinfo=UTC), message_type="mass", marketing=False)
    campaign = make_campaign(plan_account, segment, message_type="mass", priority_class="transactional", content={"text": "News"})
    plan(campaign, start_at=start)
    assert reasons(campaign) == {four.pk: "mass_monthly_limit", three.pk: "mass_monthly_limit"}


def test_customer_preference_quiet_hours_replace_the_policys(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    start = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    (early_sleeper, i1), = make_audience(plan_account, 1, timezone="Asia/Shanghai")
    i1.last_interaction_at = start
    i1.save()
    CustomerPreference.objects.create(customer=early_sleeper, quiet_start=time(19, 0), quiet_end=time(7, 0))
    campaign = make_campaign(plan_account, static_segment([early_sleeper]), priority_class="transactional")
    plan(campaign, start_at=start)
    assert Delivery.objects.get(campaign=campaign).send_after == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # 07:00 local


def test_inbox_items_are_not_pushes_no_caps_no_quiet_hours(make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    mp = ChannelAccountFactory(kind="miniprogram")
    start = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    (customer, _), = make_audience(mp, 1, timezone="Asia/Shanghai")
    segment = static_segment([customer])
    pushed(customer, mp, at=start - timedelta(hours=1))
    campaign = make_campaign(mp, segment, message_type="inbox", content={"title": "New in store"})
    plan(campaign, start_at=start)
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.send_after == start and not delivery.is_marketing


def test_a_time_zone_postgresql_does_not_know_falls_back_to_the_accounts(plan_account, make_audience, static_segment, make_campaign, db):
    ContactPolicyFactory(quiet_hours=True)  # 21:00–08:30
    start = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai (the account's zone), 13:00 in London
    (unknown, i1), = make_audience(plan_account, 1, timezone="Mars/Olympus_Mons")
    (london, i2), = make_audience(plan_account, 1, timezone="Europe/London")
    for identity in (i1, i2):
        identity.last_interaction_at = start
        identity.save()
    campaign = make_campaign(plan_account, static_segment([unknown, london]), priority_class="transactional")
    result = plan(campaign, start_at=start)
    assert result.planned == 2
    send_after = dict(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "send_after"))
    assert send_after[unknown.pk] == datetime(2026, 1, 16, 0, 30, tzinfo=UTC)  # 08:30 next day, Shanghai time
    assert send_after[london.pk] == start


def test_the_following_identity_is_chosen_when_a_customer_has_several_on_the_account(plan_account, make_audience, static_segment, make_campaign, contact_policy):
    (customer, following), = make_audience(plan_account, 1)
    newer_unfollowed = ChannelIdentityFactory(customer=customer, account=plan_account, follow_state="unfollowed")
    (other, old), = make_audience(plan_account, 1, follow_state="unfollowed")
    newest = ChannelIdentityFactory(customer=other, account=plan_account, follow_state="unfollowed")
    assert newer_unfollowed.pk > following.pk and newest.pk > old.pk
    for identity in (following, newer_unfollowed, old, newest):
        identity.last_interaction_at = timezone.now()
        identity.save()
    campaign = make_campaign(plan_account, static_segment([customer, other]), message_type="customer_service", priority_class="transactional")
    result = plan(campaign)
    assert result.audience == 2 and result.planned == 1
    assert Delivery.objects.get(campaign=campaign).identity_id == following.pk
    # Nobody following: the newest identity decides, and it is unfollowed.
    assert reasons(campaign) == {other.pk: "unfollowed"}


def test_rows_written_meanwhile_by_another_planning_are_skipped_not_duplicated(plan_account, make_audience, static_segment, make_campaign, contact_policy, monkeypatch):
    people = make_audience(plan_account, 4)
    for _, identity in people:
        identity.last_interaction_at = timezone.now()
        identity.save()
    (raced_delivery, raced_identity), (raced_suppression, dnd_identity), *_ = people
    dnd_identity.do_not_disturb = True
    dnd_identity.save()
    campaign = make_campaign(plan_account, static_segment([c for c, _ in people]), message_type="customer_service", priority_class="transactional")
    real_create_audience = planning._create_audience

    def create_audience_then_race(cursor, *, campaign, **kwargs):
        size = real_create_audience(cursor, campaign=campaign, **kwargs)
        # What a concurrent planning (e.g. a preview) would have committed after the audience was read.
        DeliveryFactory(campaign=campaign, customer=raced_delivery, identity=raced_identity, state="planned")
        Suppression.objects.create(campaign=campaign, customer=raced_suppression, reason="do_not_disturb")
        return size

    monkeypatch.setattr(planning, "_create_audience", create_audience_then_race)
    result = plan(campaign)
    assert result.planned == 2 and result.suppressed == {}
    assert Delivery.objects.filter(campaign=campaign).count() == 3
    assert Delivery.objects.filter(campaign=campaign, customer=raced_delivery).count() == 1
    assert reasons(campaign) == {raced_suppression.pk: "do_not_disturb"}
