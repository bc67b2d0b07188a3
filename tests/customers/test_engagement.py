from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.engagement.learning import BEHAVIOUR_TAG_THRESHOLD, RESPONSE_HOUR_WEIGHT, decay_factor
from customers.engagement.models import EngagementAppliedEvent, EngagementDailyRollup
from customers.engagement.services import (
    engagement_events_apply,
    engagement_events_rollup,
    engagement_profiles_recompute,
)
from customers.engagement.tasks import engagement_events_apply_task
from customers.models import Customer, CustomerTag, EngagementEvent, EngagementProfile
from customers.services import event_record, events_record_bulk
from tests.factories import ChannelAccountFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def _event(customer, event_type, at, topics=None, account=None):
    return EngagementEvent.objects.create(
        customer=customer, event_type=event_type, occurred_at=at, properties={"topics": topics} if topics else {}, account=account
    )


def _profile_tuple(customer_id):
    p = EngagementProfile.objects.get(customer_id=customer_id)
    tags = set(CustomerTag.objects.filter(customer_id=customer_id, source="behaviour").values_list("tag_id", flat=True))
    return p, tags


def _assert_same(a, b):
    assert a.score == pytest.approx(b.score, rel=1e-9, abs=1e-9)
    assert a.score_updated_at == b.score_updated_at
    ha = a.hour_of_week or [0.0] * 168
    hb = b.hour_of_week or [0.0] * 168
    assert ha == pytest.approx(hb, rel=1e-9, abs=1e-5)
    assert a.best_hour == b.best_hour
    assert a.ignored_push_streak == b.ignored_push_streak
    assert (a.last_push_at, a.last_click_at) == (b.last_push_at, b.last_click_at)
    assert (a.push_hours or [0.0] * 24) == pytest.approx(b.push_hours or [0.0] * 24, rel=1e-9, abs=1e-5)
    for field in ("topic_affinity", "topic_pushes", "topic_clicks"):
        mine, theirs = getattr(a, field), getattr(b, field)
        assert set(mine) == set(theirs), field
        for key, value in mine.items():
            assert value == pytest.approx(theirs[key], rel=1e-9, abs=1e-5), field


EVENT_TYPES = ["push.sent", "push.sent", "link.click", "inbox.read", "mp.page_view", "wechat.message", "push.delivered", "conversion"]

history = st.lists(
    st.tuples(
        st.sampled_from(EVENT_TYPES),
        st.integers(min_value=0, max_value=90 * 24 * 60),  # minutes after T0
        st.lists(st.sampled_from([0, 1, 2]), max_size=2, unique=True),  # topic indexes
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=history, data=st.data())
def test_incremental_updates_equal_a_full_recompute(events, data):
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    customer = CustomerFactory()
    topics = [TagFactory(), TagFactory(), TagFactory()]
    rows = [
        _event(customer, etype, T0 + timedelta(minutes=minutes), [topics[i].pk for i in topic_idx] or None, account)
        for etype, minutes, topic_idx in events
    ]
    # Arrival order and batching are arbitrary (late events, retries): apply them that way.
    ids = data.draw(st.permutations([r.pk for r in rows]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ids)), max_size=4)))
    batches = [ids[a:b] for a, b in zip([0, *cuts], [*cuts, len(ids)], strict=True)]
    for batch in batches:
        engagement_events_apply(event_ids=batch)
        engagement_events_apply(event_ids=batch)  # a redelivered task changes nothing
    incremental, incremental_tags = _profile_tuple(customer.pk)

    engagement_profiles_recompute(customer_ids=[customer.pk])
    full, full_tags = _profile_tuple(customer.pk)

    _assert_same(incremental, full)
    assert incremental_tags == full_tags


def test_redelivered_task_applies_each_event_once():
    customer = CustomerFactory()
    e = _event(customer, "link.click", T0)
    assert engagement_events_apply(event_ids=[e.pk]) == 1
    assert engagement_events_apply(event_ids=[e.pk]) == 0
    assert EngagementProfile.objects.get(customer=customer).score == pytest.approx(3.0)


def test_score_decays_by_half_per_half_life():
    customer = CustomerFactory()
    a = _event(customer, "link.click", T0)
    b = _event(customer, "link.click", T0 + timedelta(days=30))
    engagement_events_apply(event_ids=[b.pk])
    engagement_events_apply(event_ids=[a.pk])
    profile = EngagementProfile.objects.get(customer=customer)
    assert profile.score_updated_at == T0 + timedelta(days=30)
    assert profile.score == pytest.approx(3.0 + 1.5)
    assert decay_factor(30 * 86400) == pytest.approx(0.5)


def test_interest_evidence_fades_twice_as_fast_as_the_score_and_hours():
    customer, coffee = CustomerFactory(), TagFactory()
    # Two clicks on coffee, 28 days apart, applied newest first (the order does not matter).
    old, new = (_event(customer, "link.click", T0 + timedelta(days=d), topics=[coffee.pk]) for d in (0, 28))
    engagement_events_apply(event_ids=[new.pk])
    engagement_events_apply(event_ids=[old.pk])
    profile = EngagementProfile.objects.get(customer=customer)
    key = str(coffee.pk)
    # After 28 days the old click weighs a quarter as interest (half-life 14 days) …
    assert profile.topic_affinity[key] == pytest.approx(1.25)
    assert profile.topic_clicks[key] == pytest.approx(1.25)
    # … and 2^(-28/30) ≈ 0.52 as engagement and as an hour of activity.
    assert profile.score == pytest.approx(3.0 * (1 + decay_factor(28 * 86400)))
    # (a response to a push counts RESPONSE_HOUR_WEIGHT times in the hours: when they read pushes)
    assert sum(profile.hour_of_week) == pytest.approx(RESPONSE_HOUR_WEIGHT * (1 + decay_factor(28 * 86400)))


def test_best_hour_is_the_local_hour_of_most_activity():
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    customer = CustomerFactory()
    # 12:30 UTC is 20:30 in Shanghai; a single 03:00 local read does not outweigh four evening clicks.
    ids = [_event(customer, "link.click", T0 + timedelta(days=d, hours=12, minutes=30), account=account).pk for d in range(4)]
    ids.append(_event(customer, "inbox.read", T0 + timedelta(days=5, hours=19), account=account).pk)
    engagement_events_apply(event_ids=ids)
    profile = EngagementProfile.objects.get(customer=customer)
    assert profile.best_hour == 20
    # Monday 20:00 local is bucket 20, Tuesday 20:00 is 44.
    assert profile.hour_of_week[20] > 0 and profile.hour_of_week[44] > 0


def test_best_hour_is_the_middle_of_activity_scattered_around_a_habit():
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    customer = CustomerFactory()
    # Two visits at 08:10 Shanghai, then three evenings at 17:10, 19:10 and 22:10 (UTC + 8).
    at = [(0, 0), (1, 0), (2, 9), (3, 11), (4, 14)]
    engagement_events_apply(event_ids=[
        _event(customer, "mp.page_view", T0 + timedelta(days=d, hours=h, minutes=10), account=account).pk for d, h in at
    ])
    # The busiest single hour is 08:00 (two visits); the evening habit holds more, and its middle is 19:00.
    assert EngagementProfile.objects.get(customer=customer).best_hour == 19


def test_the_hour_they_answer_a_push_outweighs_visits_at_another_hour():
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    customer = CustomerFactory()
    # Two mini-program visits at 08:10 Shanghai, then a click on a push at 20:30 (UTC + 8).
    engagement_events_apply(event_ids=[
        _event(customer, "mp.page_view", T0 + timedelta(hours=0, minutes=10), account=account).pk,
        _event(customer, "mp.page_view", T0 + timedelta(days=1, minutes=10), account=account).pk,
        _event(customer, "link.click", T0 + timedelta(days=2, hours=12, minutes=30), account=account).pk,
    ])
    # They browse in the morning and read pushes in the evening: pushes go at 20:00, not 08:00.
    assert EngagementProfile.objects.get(customer=customer).best_hour == 20


def test_best_hour_uses_the_customers_own_time_zone_over_the_accounts():
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    customer = CustomerFactory(timezone="Europe/Berlin")  # UTC+1 in March
    ids = [_event(customer, "link.click", T0 + timedelta(days=d, hours=12, minutes=30), account=account).pk for d in range(3)]
    engagement_events_apply(event_ids=ids)
    assert EngagementProfile.objects.get(customer=customer).best_hour == 13


def test_best_hour_is_unknown_without_an_action_of_the_customers_own():
    customer = CustomerFactory()
    # A push is done to them, not by them: no hour of theirs.
    engagement_events_apply(event_ids=[_event(customer, "push.sent", T0, topics=[1]).pk])
    assert EngagementProfile.objects.get(customer=customer).best_hour is None


def test_one_recent_action_gives_its_hour_and_an_old_one_is_not_enough():
    recent, stale = CustomerFactory(), CustomerFactory()
    account = ChannelAccountFactory(timezone="Asia/Shanghai")
    # 13:10 UTC is 21:10 in Shanghai; a later push moves the profile's "now" 10 days on.
    engagement_events_apply(event_ids=[
        _event(recent, "mp.page_view", T0 + timedelta(hours=13, minutes=10), account=account).pk,
        _event(recent, "push.sent", T0 + timedelta(days=10), topics=[1], account=account).pk,
        # 70 days before its profile's newest event: weighs ½^(70/30) ≈ 0.2, under the half an action needed.
        _event(stale, "mp.page_view", T0 + timedelta(hours=13), account=account).pk,
        _event(stale, "push.sent", T0 + timedelta(days=70), topics=[1], account=account).pk,
    ])
    assert EngagementProfile.objects.get(customer=recent).best_hour == 21
    assert EngagementProfile.objects.get(customer=stale).best_hour is None


def test_ignored_push_streak_counts_pushes_whose_successor_came_without_a_response():
    customer = CustomerFactory()

    def apply(event_type, hours):
        engagement_events_apply(event_ids=[_event(customer, event_type, T0 + timedelta(hours=hours)).pk])
        return EngagementProfile.objects.get(customer=customer).ignored_push_streak

    assert apply("push.sent", 0) == 0  # the newest push may still be read
    assert apply("push.sent", 24) == 1
    assert apply("push.sent", 48) == 2
    assert apply("push.delivered", 49) == 2  # delivery is not a response
    assert apply("link.click", 50) == 0
    assert apply("push.sent", 72) == 0
    assert apply("push.sent", 96) == 1
    assert apply("inbox.read", 97) == 0


def test_late_click_recounts_only_pushes_after_it():
    customer = CustomerFactory()
    pushes = [_event(customer, "push.sent", T0 + timedelta(days=d)).pk for d in range(4)]
    engagement_events_apply(event_ids=pushes)
    assert EngagementProfile.objects.get(customer=customer).ignored_push_streak == 3
    late_click = _event(customer, "link.click", T0 + timedelta(days=1, hours=2))
    engagement_events_apply(event_ids=[late_click.pk])
    # Pushes of day 2 and 3 came after the click: the day-2 push is ignored, day 3 is the newest.
    assert EngagementProfile.objects.get(customer=customer).ignored_push_streak == 1


def test_topic_clicks_above_threshold_become_behaviour_tags_and_leave_manual_tags_alone():
    customer = CustomerFactory()
    coffee, tea, manual = TagFactory(), TagFactory(), TagFactory()
    CustomerTag.objects.create(customer=customer, tag=manual, source="manual")
    ids = [_event(customer, "link.click", T0 + timedelta(hours=h), topics=[coffee.pk, manual.pk]).pk for h in range(3)]
    ids.append(_event(customer, "mp.page_view", T0 + timedelta(hours=4), topics=[tea.pk]).pk)
    engagement_events_apply(event_ids=ids)

    profile = EngagementProfile.objects.get(customer=customer)
    assert profile.topic_affinity[str(coffee.pk)] >= BEHAVIOUR_TAG_THRESHOLD
    assert profile.topic_affinity[str(tea.pk)] == pytest.approx(0.5, rel=1e-3)
    links = dict(CustomerTag.objects.filter(customer=customer).values_list("tag_id", "source"))
    assert links == {coffee.pk: "behaviour", manual.pk: "manual"}


def test_behaviour_tag_is_removed_when_affinity_decays_below_threshold():
    customer = CustomerFactory()
    coffee = TagFactory()
    ids = [_event(customer, "link.click", T0 + timedelta(hours=h), topics=[coffee.pk]).pk for h in range(3)]
    engagement_events_apply(event_ids=ids)
    assert CustomerTag.objects.filter(customer=customer, tag=coffee, source="behaviour").exists()
    # Three months later, one unrelated action moves the reference time: 3 clicks decayed to ~0.375.
    engagement_events_apply(event_ids=[_event(customer, "wechat.message", T0 + timedelta(days=90)).pk])
    assert not CustomerTag.objects.filter(customer=customer, tag=coffee).exists()


def test_event_record_enqueues_learning_after_commit(eng_eager_celery, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event_record(customer_id=customer.pk, event_type="link.click", occurred_at=T0)
        event_record(customer_id=customer.pk, event_type="inbox.read", occurred_at=T0 + timedelta(minutes=5))
    assert len(callbacks) == 1  # one task for every event of the transaction
    profile = EngagementProfile.objects.get(customer=customer)
    assert profile.score == pytest.approx(3.0 * decay_factor(300) + 2.0)
    assert EngagementAppliedEvent.objects.count() == 2


def test_events_record_bulk_skips_known_dedupe_keys_and_touches_last_engaged(eng_eager_celery, django_capture_on_commit_callbacks):
    a, b = CustomerFactory(), CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = events_record_bulk(
            [
                {"customer_id": a.pk, "event_type": "push.sent", "occurred_at": T0, "dedupe_key": "push:1"},
                {"customer_id": b.pk, "event_type": "link.click", "occurred_at": T0, "properties": {"topics": [1]}, "dedupe_key": "c:1"},
            ]
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = events_record_bulk(
            [
                {"customer_id": a.pk, "event_type": "push.sent", "occurred_at": T0, "dedupe_key": "push:1"},
                {"customer_id": a.pk, "event_type": "push.sent", "occurred_at": T0 + timedelta(days=1)},
            ]
        )
    assert len(first) == 2 and len(second) == 1
    assert EngagementEvent.objects.count() == 3
    assert Customer.objects.get(pk=b.pk).last_engaged_at == T0
    assert Customer.objects.get(pk=a.pk).last_engaged_at is None  # a push is not the customer's action
    assert EngagementProfile.objects.get(customer=a).ignored_push_streak == 1
    assert EngagementEvent.objects.get(dedupe_key="c:1").properties == {"topics": [1]}


def test_rollup_moves_old_events_into_daily_counts_and_keeps_recent_ones():
    customer = CustomerFactory()
    old = [_event(customer, "push.sent", T0 + timedelta(hours=h)) for h in (1, 2, 30)]
    recent = _event(customer, "push.sent", T0 + timedelta(days=200))
    engagement_events_apply(event_ids=[e.pk for e in [*old, recent]])
    profile_before = EngagementProfile.objects.get(customer=customer)

    removed = engagement_events_rollup(older_than=T0 + timedelta(days=100), batch_size=2)

    assert removed == 3
    assert list(EngagementEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert dict(EngagementDailyRollup.objects.values_list("day", "count")) == {T0.date(): 2, (T0 + timedelta(days=1)).date(): 1}
    assert list(EngagementAppliedEvent.objects.values_list("event_id", flat=True)) == [recent.pk]
    assert EngagementProfile.objects.get(customer=customer).last_push_at == profile_before.last_push_at
    assert engagement_events_rollup(older_than=T0 + timedelta(days=100)) == 0


def test_apply_task_run_twice_changes_nothing_the_second_time():
    customer = CustomerFactory()
    ids = [_event(customer, "link.click", T0).pk, _event(customer, "push.sent", T0 + timedelta(hours=1)).pk]
    assert engagement_events_apply_task(event_ids=ids) == 2
    first = EngagementProfile.objects.get(customer=customer)
    assert engagement_events_apply_task(event_ids=ids) == 0
    again = EngagementProfile.objects.get(customer=customer)
    assert (again.score, again.last_push_at, again.ignored_push_streak) == (first.score, first.last_push_at, first.ignored_push_streak)


def test_events_after_a_rolled_back_savepoint_are_still_enqueued(eng_eager_celery, django_capture_on_commit_callbacks):
    lost, kept = CustomerFactory(), CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                event_record(customer_id=lost.pk, event_type="link.click", occurred_at=T0)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        event_record(customer_id=kept.pk, event_type="link.click", occurred_at=T0)
    assert EngagementProfile.objects.filter(customer=kept, score__gt=0).exists()
    assert not EngagementProfile.objects.filter(customer=lost).exists()


def test_recompute_command_rebuilds_a_profile_and_marks_events_applied():
    customer = CustomerFactory()
    for h in range(3):
        _event(customer, "link.click", T0 + timedelta(hours=h))
    call_command("recompute_engagement", customer=[customer.pk])
    profile = EngagementProfile.objects.get(customer=customer)
    assert profile.score == pytest.approx(3 * (1 + decay_factor(3600) + decay_factor(7200)), rel=1e-9)
    assert EngagementAppliedEvent.objects.count() == 3
    assert engagement_events_apply(event_ids=list(EngagementEvent.objects.values_list("pk", flat=True))) == 0
