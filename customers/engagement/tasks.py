"""Celery tasks of this feature (thin: ids in, call a service). Routed to the `analytics` queue."""

from __future__ import annotations

from celery import shared_task

from customers.engagement.services import (
    engagement_events_apply,
    engagement_events_rollup,
    engagement_profiles_recompute,
)
from customers.engagement.sweep import engagement_events_sweep


@shared_task(name="customers.engagement.tasks.engagement_events_apply_task")
def engagement_events_apply_task(*, event_ids: list[int]) -> int:
    # Idempotent: events already applied are skipped (EngagementAppliedEvent).
    return engagement_events_apply(event_ids=event_ids)


@shared_task(name="customers.engagement.tasks.engagement_events_rollup_task")
def engagement_events_rollup_task() -> int:
    return engagement_events_rollup()


@shared_task(name="customers.engagement.tasks.engagement_profile_recompute_task")
def engagement_profile_recompute_task(*, customer_ids: list[int]) -> int:
    # After a merge the survivor's profile must include the merged customer's events: rebuild it.
    return engagement_profiles_recompute(customer_ids=customer_ids)


@shared_task(name="customers.engagement.tasks.engagement_events_sweep_task")
def engagement_events_sweep_task() -> int:
    # Events whose hand-over to the broker failed after their commit.
    return engagement_events_sweep()
