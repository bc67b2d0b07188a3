"""Celery tasks of campaigns (thin: load by id, call a service). dispatch_* run on the dispatch queue,
the rest on planning (see CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from campaigns import dispatch, services
from campaigns.dispatch.group_results import dispatch_group_results_poll, poll_interval
from campaigns.groups.send import group_campaign_send, group_send_results_poll
from campaigns.receivers import pending_reports_sweep
from campaigns.reports.tasks import *  # noqa: F403 (registered with the app's tasks)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def campaign_plan_task(campaign_id: int) -> None:
    services.campaign_plan(campaign_id=campaign_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def campaign_run_recurring_task(campaign_id: int) -> None:
    services.campaign_run_recurring(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def campaign_due_plan_task() -> None:
    services.campaign_due_plan()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch_campaign_task(self, campaign_id: int, generation: int | None = None) -> None:
    # A pump: sends for a time slice, then re-enqueues itself so pause/cancel and other campaigns get a turn.
    result = dispatch.campaign_dispatch(campaign_id=campaign_id, generation=generation)
    if result.requeue_in is not None:
        dispatch_campaign_task.apply_async(args=[campaign_id, result.generation], countdown=result.requeue_in)


@shared_task(ignore_result=True)
def campaign_pumps_watchdog_task() -> None:
    # On the default queue (CELERY_TASK_ROUTES), not behind the pumps it watches.
    for campaign_id, generation in dispatch.pumps_watchdog():
        for _ in range(settings.CAMPAIGN_DISPATCH_CONCURRENCY):
            dispatch_campaign_task.apply_async(args=[campaign_id, generation])


@shared_task(ignore_result=True)
def dispatch_sweep_task() -> None:
    pending_reports_sweep()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch_group_results_poll_task(self, account_id: int, msgid: str, attempt: int = 0) -> None:
    # Re-schedules itself with a growing countdown until the task's deliveries are final or too old
    # (not when run eagerly: the countdown would be ignored and the poll would spin).
    result = dispatch_group_results_poll(account_id=account_id, msgid=msgid, attempt=attempt)
    if result.again_in is not None and not self.request.is_eager:
        dispatch_group_results_poll_task.apply_async(args=[account_id, msgid, attempt + 1], countdown=result.again_in)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def group_campaign_send_task(self, campaign_id: int) -> None:
    # A group campaign's owner tasks; held until quiet hours and the send window allow them.
    result = group_campaign_send(campaign_id=campaign_id)
    if result.wait is not None and not self.request.is_eager:
        group_campaign_send_task.apply_async(args=[campaign_id], countdown=result.wait)
    campaign_account = services.Campaign.objects.filter(pk=campaign_id).values_list("account_id", flat=True).first()
    for msgid in result.msgids:
        group_send_results_poll_task.apply_async(args=[campaign_account, msgid, 0], countdown=poll_interval(0))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def group_send_results_poll_task(self, account_id: int, msgid: str, attempt: int = 0) -> None:
    again_in = group_send_results_poll(account_id=account_id, msgid=msgid, attempt=attempt)
    if again_in is not None and not self.request.is_eager:
        group_send_results_poll_task.apply_async(args=[account_id, msgid, attempt + 1], countdown=again_in)
