"""Importing an account's existing audience: service-account followers (user/get pages of 10,000,
then user/info/batchget 100 at a time) and WeCom external contacts (per staff member
externalcontact/list, then get).

A SyncJob row carries the cursor. Each page is imported and the cursor advanced in one
transaction, so a run that dies mid-page repeats only that page, and repeating it changes nothing
(identities are unique per account). Imports are set-based: new customers and identities go in
with bulk inserts; only the rare unionid collisions go through identity_resolve one by one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId, FollowState, TagSource
from customers.services import identity_resolve
from messaging.channels.bulk import allocate_ids, bulk_insert
from messaging.channels.errors import classify_exception
from messaging.channels.models import SyncJob, SyncJobKind, SyncJobState, TagMirror
from accounts.models import ChannelAccount

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# A run stops after this long and re-enqueues itself, well inside Celery's time limit.
RUN_BUDGET_SECONDS = 240.0
USER_INFO_BATCH = 100
BULK_BATCH = 2000

_GENDER = {1: 1, 2: 2}


@dataclass
class ImportRow:
    external_id: str
    unionid: str = ""
    profile: dict[str, Any] = field(default_factory=dict)
    followed_at: datetime | None = None
    scene: str = ""
    owner_staff_id: str = ""
    remote_tag_ids: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    job: SyncJob
    # "done", "more" (budget used, run again), "paused" (temporary error), "failed", "busy"
    status: str
    retry_after: float | None = None


# --- the set-based import -------------------------------------------------------------------------


@transaction.atomic
def identities_import(
    *, account: ChannelAccount, rows: list[ImportRow], tag_source: str = TagSource.WECHAT_SYNC
) -> int:
    """Create missing customers and identities for `rows` in bulk, refresh follow state of the
    existing ones, link unionids and mirrored tags; returns how many identities were created."""
    rows = list({row.external_id: row for row in rows if row.external_id}.values())
    if not rows:
        return 0
    kind = account.identity_kind
    now = timezone.now()
    by_id = {row.external_id: row for row in rows}
    existing = {
        i.external_id: i
        for i in ChannelIdentity.objects.filter(account=account, kind=kind, external_id__in=list(by_id)).only(
            "id",
            "external_id",
            "customer_id",
            "unionid",
            "follow_state",
            "followed_at",
            "unfollowed_at",
            "subscribe_scene",
            "owner_staff_id",
        )
    }
    new_rows = [row for eid, row in by_id.items() if eid not in existing]

    # New identities whose unionid already belongs to a customer join that customer.
    union_owner = dict(
        CustomerUnionId.objects.filter(unionid__in=[r.unionid for r in new_rows if r.unionid]).values_list(
            "unionid", "customer_id"
        )
    )
    needs_customer = [r for r in new_rows if not (r.unionid and r.unionid in union_owner)]
    customer_for = dict(
        zip((r.external_id for r in needs_customer), _customers_create(needs_customer, now), strict=True)
    )
    bulk_insert(
        ChannelIdentity,
        [
            {
                "customer_id": customer_for.get(row.external_id) or union_owner[row.unionid],
                "account_id": account.pk,
                "kind": kind,
                "external_id": row.external_id,
                "unionid": row.unionid,
                "follow_state": FollowState.FOLLOWING,
                "followed_at": row.followed_at,
                "subscribe_scene": row.scene,
                "owner_staff_id": row.owner_staff_id,
            }
            for row in new_rows
        ],
        ignore_conflicts=True,
    )
    identities = dict(
        ChannelIdentity.objects.filter(account=account, kind=kind, external_id__in=list(by_id)).values_list(
            "external_id", "customer_id"
        )
    )
    # A concurrent callback may have created some identity first: its fresh customer is unused.
    created_customer_ids = set(customer_for.values())
    orphans = created_customer_ids - set(identities.values())
    if orphans:
        Customer.objects.filter(pk__in=orphans, identities__isnull=True).delete()
    created = sum(
        1 for row in new_rows if identities[row.external_id] in created_customer_ids or row.unionid in union_owner
    )

    _unionids_link(account=account, rows=rows, customer_of=identities, existing=existing)
    _follow_state_refresh(rows=[by_id[eid] for eid in existing], existing=existing, now=now)
    _mirrored_tags_assign(account=account, rows=rows, source=tag_source)
    return created


_PROFILE_DEFAULTS = {
    "display_name": "",
    "avatar_url": "",
    "gender": 0,
    "city": "",
    "province": "",
    "country": "",
    "language": "",
}


def _customers_create(rows: list[ImportRow], now: datetime) -> list[int]:
    """New customers for `rows`, in order; their ids."""
    if not rows:
        return []
    values = [{**_PROFILE_DEFAULTS, **row.profile, "first_seen_at": row.followed_at or now} for row in rows]
    if connection.vendor != "postgresql":
        return [c.pk for c in Customer.objects.bulk_create([Customer(**v) for v in values], batch_size=BULK_BATCH)]
    ids = allocate_ids(Customer, len(rows))
    bulk_insert(Customer, [{"id": pk, **v} for pk, v in zip(ids, values, strict=True)])
    return ids


def _unionids_link(
    *, account: ChannelAccount, rows: list[ImportRow], customer_of: dict[str, int], existing: dict[str, ChannelIdentity]
) -> None:
    with_union = [r for r in rows if r.unionid]
    if not with_union:
        return
    bulk_insert(
        CustomerUnionId,
        [{"unionid": r.unionid, "customer_id": customer_of[r.external_id]} for r in with_union],
        ignore_conflicts=True,
    )
    owners = dict(
        CustomerUnionId.objects.filter(unionid__in=[r.unionid for r in with_union]).values_list(
            "unionid", "customer_id"
        )
    )
    for row in with_union:
        known = existing.get(row.external_id)
        if owners.get(row.unionid) != customer_of[row.external_id] or (
            known is not None and known.unionid != row.unionid
        ):
            # Rare: the person is already a customer through another channel; merge as any path would.
            identity_resolve(account=account, external_id=row.external_id, unionid=row.unionid)


def _follow_state_refresh(*, rows: list[ImportRow], existing: dict[str, ChannelIdentity], now: datetime) -> None:
    changed = []
    for row in rows:
        identity = existing[row.external_id]
        if (
            identity.follow_state == FollowState.FOLLOWING
            and identity.followed_at
            and (identity.owner_staff_id or not row.owner_staff_id)
        ):
            continue
        # WeChat lists them as following now; an unfollow recorded after this import started wins.
        if identity.unfollowed_at and identity.unfollowed_at > now:
            continue
        identity.follow_state = FollowState.FOLLOWING
        identity.followed_at = identity.followed_at or row.followed_at or now
        identity.subscribe_scene = identity.subscribe_scene or row.scene
        identity.owner_staff_id = identity.owner_staff_id or row.owner_staff_id
        identity.updated_at = now
        changed.append(identity)
    if changed:
        ChannelIdentity.objects.bulk_update(
            changed,
            ["follow_state", "followed_at", "subscribe_scene", "owner_staff_id", "updated_at"],
            batch_size=BULK_BATCH,
        )


def _mirrored_tags_assign(*, account: ChannelAccount, rows: list[ImportRow], source: str) -> None:
    remote_ids = {rid for row in rows for rid in row.remote_tag_ids}
    if not remote_ids:
        return
    tag_for = dict(
        TagMirror.objects.filter(account=account, remote_id__in=remote_ids).values_list("remote_id", "tag_id")
    )
    if not tag_for:
        return
    customer_for = dict(
        ChannelIdentity.objects.filter(
            account=account,
            kind=account.identity_kind,
            external_id__in=[r.external_id for r in rows if r.remote_tag_ids],
        ).values_list("external_id", "customer_id")
    )
    links = {
        (customer_for[row.external_id], tag_for[rid])
        for row in rows
        if row.external_id in customer_for
        for rid in row.remote_tag_ids
        if rid in tag_for
    }
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer_id=c, tag_id=t, source=source) for c, t in links],
        batch_size=BULK_BATCH,
        ignore_conflicts=True,
    )


# --- rows from WeChat's JSON ------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def follower_row(info: dict[str, Any]) -> ImportRow:
    """An ImportRow from one user/info entry."""
    profile = {
        "gender": _GENDER.get(int(info.get("sex") or 0), 0),
        "city": (info.get("city") or "")[:64],
        "province": (info.get("province") or "")[:64],
        "country": (info.get("country") or "")[:64],
        "language": (info.get("language") or "")[:16],
        "display_name": (info.get("nickname") or "")[:128],
        "avatar_url": (info.get("headimgurl") or "")[:512],
    }
    return ImportRow(
        external_id=info["openid"],
        unionid=info.get("unionid") or "",
        profile={k: v for k, v in profile.items() if v},
        followed_at=_ts(info.get("subscribe_time")),
        scene=(info.get("qr_scene_str") or info.get("subscribe_scene") or "")[:64],
        remote_tag_ids=[str(t) for t in info.get("tagid_list") or []],
    )


def contact_row(data: dict[str, Any], staff_userid: str) -> ImportRow:
    """An ImportRow from one externalcontact/get answer, as seen by `staff_userid`."""
    contact = data.get("external_contact") or {}
    follow = next((f for f in data.get("follow_user") or [] if f.get("userid") == staff_userid), {})
    profile = {
        "display_name": (contact.get("name") or "")[:128],
        "avatar_url": (contact.get("avatar") or "")[:512],
        "gender": _GENDER.get(int(contact.get("gender") or 0), 0),
    }
    return ImportRow(
        external_id=contact["external_userid"],
        unionid=contact.get("unionid") or "",
        profile={k: v for k, v in profile.items() if v},
        followed_at=_ts(follow.get("createtime")),
        scene=(follow.get("state") or "")[:64],
        owner_staff_id=staff_userid,
        remote_tag_ids=[
            str(t["tag_id"]) for t in follow.get("tags") or [] if t.get("tag_id") and int(t.get("type") or 1) == 1
        ],
    )


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
    from messaging.channels.tagsync import tags_push_job_run

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
    from messaging.channels.clients import wechat_client
    from messaging.channels.tagsync import tags_pull

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


def _wecom_contacts_page(job: SyncJob) -> bool:
    """Import the external contacts of one staff member; True when every staff member is done."""
    from messaging.channels.clients import wecom_client
    from messaging.channels.tagsync import tags_pull

    account = job.account
    client = wecom_client(account)
    cursor = dict(job.cursor)
    if "staff" not in cursor:
        tags_pull(account=account)
        cursor = {"staff": list(client.external_contact.get_follow_user_list().get("follow_user") or []), "index": 0}
        SyncJob.objects.filter(pk=job.pk).update(cursor=cursor)
        job.cursor = cursor
    index = int(cursor.get("index", 0))
    staff = cursor["staff"]
    if index >= len(staff):
        return True
    userid = staff[index]
    external_ids = client.external_contact.list(userid).get("external_userid") or []
    rows = [contact_row(client.external_contact.get(eid), userid) for eid in external_ids]
    with transaction.atomic():
        created = identities_import(account=account, rows=rows, tag_source=TagSource.WECOM_SYNC)
        _page_commit(job, cursor={**cursor, "index": index + 1}, processed=len(rows), created=created)
    return index + 1 >= len(staff)
