"""Celery tasks of campaign reports (analytics queue, CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

from campaigns.reports.lift import campaign_lift_refresh


@shared_task(ignore_result=True)
def campaign_lift_refresh_task() -> int:
    return campaign_lift_refresh()
