"""Celery tasks of this feature (thin: load by id, call a service).

`sync_*` tasks route to the planning queue, `welcome_*` to the welcome queue (WeCom's 20 seconds: a
lane of its own), the others to dispatch (scrm/settings.py)."""

from __future__ import annotations

from celery import shared_task

from accounts.models import ChannelAccount
from messaging.channels.errors import backoff_delay
from messaging.channels.handover import handover_poll, handover_submit, handovers_poll_due
from messaging.channels.models import SyncJob, SyncJobState
from messaging.channels.sync import sync_job_run, sync_jobs_stalled
from messaging.channels.wecom import group_message_reports_dispatch
from messaging.channels.wecom_moments import moment_poll, moment_submit, moments_poll_due
from messaging.channels.welcome import WELCOME_WINDOW, welcome_media_refresh, welcome_send

__all__ = [
    "handover_poll_task", "handover_submit_task", "handovers_poll_due_task", "media_refresh_for_welcomes_task", "moment_poll_task",
    "moment_submit_task", "moments_poll_due_task", "sync_job_run_task",
    "sync_jobs_sweep_task", "wecom_group_reports_fetch_task", "welcome_send_task",
]


@shared_task
def sync_job_run_task(job_id: int) -> str:
    job = SyncJob.objects.filter(pk=job_id).only("state").first()
    if job is None or job.state in (SyncJobState.DONE, SyncJobState.FAILED):
        return "skipped"
    result = sync_job_run(job_id=job_id)
    if result.status == "more":
        sync_job_run_task.delay(job_id)
    elif result.status == "paused":
        sync_job_run_task.apply_async(
            (job_id,), countdown=backoff_delay(result.job.attempts, retry_after=result.retry_after)
        )
    return result.status


@shared_task
def wecom_group_reports_fetch_task(account_id: int, msgid: str) -> dict:
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {}
    return group_message_reports_dispatch(account, msgid=msgid)


@shared_task
def sync_jobs_sweep_task() -> int:
    """Periodic: re-enqueue unfinished sync jobs nobody is running (worker lost, task dropped)."""

    job_ids = list(sync_jobs_stalled().values_list("pk", flat=True))
    for job_id in job_ids:
        sync_job_run_task.delay(job_id)
    return len(job_ids)


# No Celery retries: welcome_send retries inside WeCom's 20 seconds itself, and after them nothing can be sent.
@shared_task(soft_time_limit=WELCOME_WINDOW.total_seconds() + 10, time_limit=WELCOME_WINDOW.total_seconds() + 20)
def welcome_send_task(inbound_id: int) -> str:
    return welcome_send(inbound_id=inbound_id)


# On `dispatch` (not `welcome`): an upload of a big file must never hold up a welcome.
@shared_task
def media_refresh_for_welcomes_task() -> int:
    return welcome_media_refresh()


@shared_task
def handover_submit_task(handover_id: int) -> dict:
    """Send a hand-over's pending customers to WeCom (items move with conditional updates)."""
    return handover_submit(handover_id=handover_id)


@shared_task
def handover_poll_task(handover_id: int) -> dict:
    """Read a hand-over's results from WeCom and apply the decided customers."""
    return handover_poll(handover_id=handover_id)


@shared_task
def handovers_poll_due_task() -> dict:
    """Beat: read transfer_result for open hand-overs with customers waiting (each at most hourly)."""
    return handovers_poll_due()


# Transport errors (no errcode) are retried; WeCom's refusals are recorded on the moment.
@shared_task(autoretry_for=(ConnectionError, OSError), retry_backoff=30, max_retries=5)
def moment_submit_task(moment_id: int) -> str:
    """Send a recorded moment to WeCom (add_moment_task) once."""
    return moment_submit(moment_id=moment_id)


@shared_task
def moment_poll_task(moment_id: int) -> dict:
    """One moment's job result or engagement (comments and likes as customers' events)."""
    return moment_poll(moment_id=moment_id)


@shared_task
def moments_poll_due_task() -> dict:
    """Every due moment (scrm/celery.py schedules it every 10 minutes)."""
    return moments_poll_due()
