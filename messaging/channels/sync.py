"""Running sync jobs: importing an account's existing audience (service-account followers: user/get
pages of 10,000, then user/info/batchget 100 at a time; WeCom external contacts: batch/get_by_user
for up to 100 staff members a call, 100 pairs a page) and pushing tags.

A SyncJob row carries the cursor. Each page is imported and the cursor advanced in one
transaction, so a run that dies mid-page repeats only that page, and repeating it changes nothing
(the import is customers' bulk upsert, idempotent per identity; see messaging.channels.audience).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from customers.models import TagSource
from messaging.channels.audience import follower_row, identities_import
from messaging.channels.clients import wechat_client, wecom_client
from messaging.channels.errors import classify_exception
from messaging.channels.models import SyncJob, SyncJobKind, SyncJobState
from messaging.channels.tagsync import tags_pull, tags_push_job_run
from messaging.channels.wecom_contacts import Page, PageReader, contacts_step_write, corp_tag_names, mirrored_tags
from messaging.channels.wecom_directory import staff_directory_sync

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# A run stops after this long and re-enqueues itself, well inside Celery's time limit.
RUN_BUDGET_SECONDS = 240.0
USER_INFO_BATCH = 100


@dataclass
class RunResult:
    job: SyncJob
    # "done", "more" (budget used, run again), "paused" (temporary error), "failed", "busy"
    status: str
    retry_after: float | None = None


# --- running a job ---------------------------------------------------------------------------------


STALL_AFTER = timedelta(minutes=5)


def sync_jobs_stalled():
    """Unfinished jobs with no live lease and no progress for a while: lost by their worker."""
    now = timezone.now()
    return SyncJob.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        state__in=[SyncJobState.PENDING, SyncJobState.RUNNING, SyncJobState.PAUSED],
        updated_at__lt=now - STALL_AFTER,
    )


def _lease(job_id: int) -> SyncJob | None:
    now = timezone.now()
    taken = SyncJob.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        pk=job_id,
        state__in=[SyncJobState.PENDING, SyncJobState.RUNNING, SyncJobState.PAUSED],
    ).update(state=SyncJobState.RUNNING, lease_until=now + LEASE, attempts=F("attempts") + 1, updated_at=now)
    if not taken:
        return None
    job = SyncJob.objects.select_related("account").get(pk=job_id)
    if job.started_at is None:
        SyncJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return job


def _page_commit(
    job: SyncJob, *, cursor: dict[str, Any], processed: int, created: int, total: int | None = None
) -> None:
    values: dict[str, Any] = {
        "cursor": cursor,
        "processed": F("processed") + processed,
        "created_count": F("created_count") + created,
        "pages_done": F("pages_done") + 1,
        "lease_until": timezone.now() + LEASE,
        "last_error": "",
        "updated_at": timezone.now(),
    }
    if total is not None:
        values["total"] = total
    SyncJob.objects.filter(pk=job.pk).update(**values)
    job.cursor = cursor


def sync_job_run(*, job_id: int, max_pages: int | None = None, budget_seconds: float = RUN_BUDGET_SECONDS) -> RunResult:
    """Run a sync job from its cursor until done, out of budget, or stopped by an error."""

    job = _lease(job_id)
    if job is None:
        current = SyncJob.objects.select_related("account").get(pk=job_id)
        finished = current.state in (SyncJobState.DONE, SyncJobState.FAILED)
        # Finished already, or another worker holds the lease: nothing to do either way.
        return RunResult(job=current, status=current.state if finished else "busy")
    steppers = {
        SyncJobKind.OA_FOLLOWERS: _oa_followers_page,
        SyncJobKind.WECOM_CONTACTS: _wecom_contacts_page,
    }
    deadline = time.monotonic() + budget_seconds
    try:
        return _steps_run(job, steppers, deadline=deadline, max_pages=max_pages)
    finally:
        reader = getattr(job, "_pages", None)
        if reader is not None:
            reader.close()


def _steps_run(job: SyncJob, steppers, *, deadline: float, max_pages: int | None) -> RunResult:
    pages = 0
    try:
        if job.kind == SyncJobKind.TAGS_PUSH:
            report = tags_push_job_run(job=job)
            _finish(job, SyncJobState.DONE, report=report)
            return RunResult(job=_reload(job), status="done")
        step = steppers[job.kind]
        while True:
            if step(job):
                _finish(job, SyncJobState.DONE)
                return RunResult(job=_reload(job), status="done")
            pages += 1
            if (max_pages is not None and pages >= max_pages) or time.monotonic() > deadline:
                SyncJob.objects.filter(pk=job.pk).update(lease_until=None, updated_at=timezone.now())
                return RunResult(job=_reload(job), status="more")
    except Exception as exc:
        try:
            outcome = classify_exception(exc)
        except Exception:
            logger.exception("sync job %s failed", job.pk)
            _finish(job, SyncJobState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
            return RunResult(job=_reload(job), status="failed")
        error = f"{outcome.error_code}: {outcome.error_message}"[:2000]
        if outcome.status == "retryable":
            logger.warning("sync job %s paused: %s", job.pk, error)
            SyncJob.objects.filter(pk=job.pk).update(
                state=SyncJobState.PAUSED, lease_until=None, last_error=error, updated_at=timezone.now()
            )
            return RunResult(job=_reload(job), status="paused", retry_after=outcome.retry_after)
        _finish(job, SyncJobState.FAILED, error=error)
        return RunResult(job=_reload(job), status="failed")


def _finish(job: SyncJob, state: str, *, error: str = "", report: dict | None = None) -> None:
    values: dict[str, Any] = {
        "state": state,
        "lease_until": None,
        "finished_at": timezone.now(),
        "updated_at": timezone.now(),
    }
    if error:
        values["last_error"] = error
    if report is not None:
        values["report"] = report
    SyncJob.objects.filter(pk=job.pk).update(**values)


def _reload(job: SyncJob) -> SyncJob:
    return SyncJob.objects.select_related("account").get(pk=job.pk)


def _oa_followers_page(job: SyncJob) -> bool:
    """Import one user/get page; True when there is nothing left."""

    account = job.account
    client = wechat_client(account)
    if not job.cursor.get("tags_pulled"):
        tags_pull(account=account)
        job.cursor = {**job.cursor, "tags_pulled": True}
        SyncJob.objects.filter(pk=job.pk).update(cursor=job.cursor)
    next_openid = job.cursor.get("next_openid") or None
    if job.cursor.get("finished"):
        return True
    page = client.user.get_followers(next_openid)
    openids = (page.get("data") or {}).get("openid") or []
    if not openids:
        return True
    infos: list[dict[str, Any]] = []
    for start in range(0, len(openids), USER_INFO_BATCH):
        infos += client.user.get_batch(openids[start : start + USER_INFO_BATCH])
    rows = [follower_row(info) for info in infos if info.get("openid") and int(info.get("subscribe", 1)) == 1]
    following_next = page.get("next_openid") or ""
    with transaction.atomic():
        created = identities_import(account=account, rows=rows)
        cursor = {**job.cursor, "next_openid": following_next, "finished": not following_next}
        _page_commit(job, cursor=cursor, processed=len(openids), created=created, total=page.get("total"))
    return not following_next


# 批量获取客户详情 (externalcontact/batch/get_by_user, https://developer.work.weixin.qq.com/document/path/92994):
# up to 100 staff members a call, up to 100 pairs a page. Pages are read ahead on a thread
# (wecom_contacts.PageReader) and gathered up to ROWS_PER_STEP pairs, applied with set-based writes
# in one transaction with the cursor.
BATCH_STAFF = 100
BATCH_LIMIT = 100
ROWS_PER_STEP = 10_000


def _page_reader(job: SyncJob, client, staff: list[str], chunk: int, page_cursor: str) -> PageReader:
    """The run's reader of pages; a fresh one when the job's cursor is not where it stands."""
    reader = getattr(job, "_pages", None)
    if reader is not None and reader.position != (chunk, page_cursor):
        reader.close()
        reader = None
    if reader is None:
        reader = job._pages = PageReader(
            client, staff, chunk=chunk, cursor=page_cursor, batch_staff=BATCH_STAFF, limit=BATCH_LIMIT,
            ahead=2 * max(1, ROWS_PER_STEP // max(1, BATCH_LIMIT)),
        )
    return reader


def _wecom_contacts_page(job: SyncJob) -> bool:
    """Import up to ROWS_PER_STEP (staff member, contact) pairs; True when every staff member is done."""

    account = job.account
    client = wecom_client(account)
    cursor = dict(job.cursor)
    if "staff" not in cursor:
        tags_pull(account=account)
        staff_directory_sync(account)
        cursor = {"staff": list(client.external_contact.get_follow_user_list().get("follow_user") or []), "chunk": 0, "page": ""}
        SyncJob.objects.filter(pk=job.pk).update(cursor=cursor)
        job.cursor = cursor
    staff = cursor["staff"]
    chunk, page_cursor = int(cursor.get("chunk", 0)), cursor.get("page") or ""
    if chunk * BATCH_STAFF >= len(staff):
        return True
    if getattr(job, "_tag_names", None) is None:
        job._tag_names = corp_tag_names(client)
        job._tag_mirror = mirrored_tags(account)
    reader = _page_reader(job, client, staff, chunk, page_cursor)
    pages: list[Page] = []
    pairs = 0
    while pairs < ROWS_PER_STEP and chunk * BATCH_STAFF < len(staff):
        page = reader.next()
        if page is None:
            break
        pages.append(page)
        pairs += len(page.items)
        chunk, page_cursor = page.chunk, page.cursor
    with transaction.atomic():
        pairs, created = contacts_step_write(
            account, pages, fetched_at=pages[0].fetched_at if pages else timezone.now(), tag_names=job._tag_names,
            tag_for_remote=job._tag_mirror, tag_source=TagSource.WECOM,
        )
        _page_commit(job, cursor={**cursor, "chunk": chunk, "page": page_cursor}, processed=pairs, created=created)
    return chunk * BATCH_STAFF >= len(staff)
