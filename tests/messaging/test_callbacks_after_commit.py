"""A callback whose processing committed stays processed when an after-commit hand-over fails: the
engagement events it recorded are handed to the analytics queue after the commit, and with the
broker down that fails; the events are applied by the engagement sweep instead."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.engagement.models import EngagementAppliedEvent
from customers.engagement.sweep import engagement_events_sweep
from customers.models import EngagementEvent
from messaging.callbacks import enqueue, services
from messaging.callbacks.models import InboundMessage
from tests.plugins.callbacks import wechat_payload

# Real commits: the after-commit hooks run inside inbound_process, as in a worker.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_broker_outage_after_the_commit_leaves_the_row_processed_and_the_events_swept(
    callback_client, callback_oa_account, broker_down, caplog
):
    caplog.set_level(logging.WARNING)
    response = callback_client(callback_oa_account).post(wechat_payload("subscribe.xml", openid="o-after-commit"))
    assert response.content == b"success"
    assert enqueue.flush(timeout=10)
    row = InboundMessage.objects.get()

    # A worker processes the row while the broker is down (it went away after the task was taken).
    assert services.inbound_process(inbound_id=row.pk) is True
    row.refresh_from_db()
    assert (row.state, row.last_error) == ("processed", "")
    events = list(EngagementEvent.objects.values_list("pk", flat=True))
    assert events, "the subscribe was recorded as an engagement event"
    assert "the sweep applies them" in caplog.text
    assert not EngagementAppliedEvent.objects.exists()

    # Too recent for the sweep (it may still be in a queue); a minute later it is applied, once.
    broker_down.restore()
    assert engagement_events_sweep() == 0
    EngagementEvent.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert engagement_events_sweep() == len(events)
    assert set(EngagementAppliedEvent.objects.values_list("event_id", flat=True)) == set(events)
    assert engagement_events_sweep() == 0
