from datetime import UTC, datetime, timedelta

import pytest

from customers.engagement.services import engagement_profiles_recompute
from customers.models import EngagementProfile
from customers.services import customer_merge, event_record
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _profile(customer_id):
    p = EngagementProfile.objects.get(customer_id=customer_id)
    return (round(p.score, 9), p.score_updated_at, p.best_hour, p.ignored_push_streak, p.last_push_at, p.last_click_at,
            [round(x, 6) for x in p.hour_of_week or []], {k: round(v, 6) for k, v in p.topic_affinity.items()})  # fmt: skip


def test_after_a_merge_the_survivors_profile_includes_the_merged_customers_events(celery_eager, django_capture_on_commit_callbacks):
    survivor, merged = CustomerFactory(), CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        event_record(customer_id=survivor.pk, event_type="push.sent", occurred_at=T0)
        event_record(customer_id=survivor.pk, event_type="inbox.read", occurred_at=T0 + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        for day in range(3):
            event_record(customer_id=merged.pk, event_type="link.click", occurred_at=T0 + timedelta(days=day, hours=2))
        event_record(customer_id=merged.pk, event_type="push.sent", occurred_at=T0 + timedelta(days=4))
    before = _profile(survivor.pk)

    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=survivor, merged=merged, reason="test")
    after_merge = _profile(survivor.pk)

    engagement_profiles_recompute(customer_ids=[survivor.pk])
    assert after_merge == _profile(survivor.pk)
    assert after_merge != before
