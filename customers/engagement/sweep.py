"""Events recorded but never handed to the analytics queue (the broker was down after their commit,
customers.engagement.services._enqueue) are applied by this sweep (beat, every 60 s)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from customers.engagement.models import EngagementAppliedEvent
from customers.engagement.services import APPLY_BATCH_SIZE, engagement_events_apply
from customers.models import EngagementEvent

# Events recorded at least this long ago and still not applied were never handed over (the broker
# was down after their commit); the sweep looks at the newest SWEEP_WINDOW events only (a primary
# key range: no scan of the event store).
SWEEP_MIN_AGE_SECONDS = 60
SWEEP_WINDOW = 20_000


def engagement_events_sweep(*, min_age_seconds: float = SWEEP_MIN_AGE_SECONDS) -> int:
    """Apply the recent events that were recorded but never applied; returns how many were applied."""
    newest = EngagementEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    if newest is None:
        return 0
    applied = EngagementAppliedEvent.objects.filter(event_id=OuterRef("pk"))
    ids = list(
        EngagementEvent.objects.filter(pk__gt=newest - SWEEP_WINDOW, created_at__lt=timezone.now() - timedelta(seconds=min_age_seconds))
        .exclude(Exists(applied)).order_by("pk").values_list("pk", flat=True)
    )
    done = 0
    for start in range(0, len(ids), APPLY_BATCH_SIZE):
        with transaction.atomic():
            done += engagement_events_apply(event_ids=ids[start : start + APPLY_BATCH_SIZE])
    return done
