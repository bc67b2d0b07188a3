"""Customer moments (客户朋友圈) through WeCom: a moment task is recorded, sent with add_moment_task
(asynchronous: a jobid, then get_moment_task_result gives the moment_id), published by each staff
member in the WeCom client (get_moment_task), seen by their customers (get_moment_send_result), and
commented on and liked (get_moment_comments): each comment and like becomes an engagement event of
the customer, once (a dedupe key per moment, staff member, customer, kind and time), however often
the moment is polled.

Attachments go up through 上传附件资源 (media/upload_attachment, attachment_type=1,
https://developer.work.weixin.qq.com/document/path/95098; wecom_media.moment_media_id), not as
temporary media: add_moment_task takes only those media_ids.

Limits (企业发表内容到客户的朋友圈, https://developer.work.weixin.qq.com/document/path/95094;
获取客户朋友圈全部的发表记录, /93333): text ≤ 2000 characters (4000 bytes); at most 9 images, or 1
video, or 1 link (one kind only); ≤ 100,000 staff members; tags are corp tags; a jobid lives 24
hours; get_moment_task pages of 1000, get_moment_send_result of 5000. Comments and likes are not
pushed by WeCom: they are polled (moments_poll_due, every 10 minutes for moments due: the job result
at once, engagement every POLL_INTERVAL while the moment is younger than POLL_DAYS), far inside
WeCom's 10,000 calls a minute per API.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind
from audit.models import AuditAction
from audit.services import audit_record
from customers.models import ChannelIdentity
from customers.services.events import events_record_bulk
from customers.wecom.models import WeComStaff
from messaging.channels.clients import wecom_client
from messaging.channels.models import MediaFile, TagMirror
from messaging.channels.moment_models import MomentState, WeComMoment
from messaging.channels.wecom_media import MEDIA_ID_INVALID, attachments_validate, media_invalidate, moment_media_id
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

TEXT_MAX_CHARS, TEXT_MAX_BYTES = 2000, 4000
MAX_IMAGES = 9
MAX_SENDERS = 100_000
MOMENT_TYPES = ("image", "video", "link")
TASK_PAGE, SEND_RESULT_PAGE = 1000, 5000
POLL_DAYS = 30
POLL_INTERVAL = timedelta(minutes=30)
POLL_BATCH = 100
JOB_LIFE = timedelta(hours=24)
EVENT_COMMENT, EVENT_LIKE = "wecom.moment_comment", "wecom.moment_like"


def _invalid(message: str, **detail: Any) -> ApplicationError:
    return ApplicationError(message, code=MessagingError.MOMENT_INVALID, detail=detail or None)


def _moment_attachments(specs: Any) -> list[dict]:
    clean = attachments_validate(specs)
    kinds = {item["msgtype"] for item in clean}
    if not kinds <= set(MOMENT_TYPES):
        raise _invalid(_("A moment takes images, one video or one link (WeCom's moments have no mini-program or file)."),
                       allowed=list(MOMENT_TYPES))
    if len(kinds) > 1:
        raise _invalid(_("A moment takes one kind of attachment: images, a video or a link."))
    if kinds and len(clean) > (MAX_IMAGES if kinds == {"image"} else 1):
        raise _invalid(_("A moment takes at most 9 images, or one video, or one link."), count=len(clean))
    return clean


@transaction.atomic
def moment_create(
    *, account, text: str = "", attachments: Any = None, sender_userids: list[str] | None = None,
    tag_ids: list[int] | None = None, user=None, idempotency_key: str | None = None, ip: str | None = None,
) -> WeComMoment:
    """Record a moment task and send it to WeCom after commit. Customers who see it: those of the
    staff members (all in the app's visible range when none is named) carrying one of the tags (all
    their customers when none). A repeated `idempotency_key` returns the first moment."""
    if idempotency_key and account.kind == AccountKind.WECOM:
        existing = WeComMoment.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    clean = moment_validate(account=account, text=text, attachments=attachments, sender_userids=sender_userids, tag_ids=tag_ids)
    moment = WeComMoment.objects.create(
        account=account, text=clean["text"], attachments=clean["attachments"], sender_userids=clean["sender_userids"],
        tag_ids=clean["tag_ids"], remote_tag_ids=clean["remote_tag_ids"], created_by=user, idempotency_key=idempotency_key or None,
    )
    audit_record(user=user, action=AuditAction.ADD, obj=moment, ip=ip,
                 detail={"staff": len(clean["sender_userids"]), "tags": clean["tag_ids"],
                         "attachments": [a["msgtype"] for a in clean["attachments"]]})
    transaction.on_commit(lambda: _submit_enqueue(moment.pk))
    return moment


def moment_validate(
    *, account, text: str = "", attachments: Any = None, sender_userids: list[str] | None = None, tag_ids: list[int] | None = None,
) -> dict[str, Any]:
    """A moment's fields checked against WeCom's limits (page 95094) and the corp's directory and tag
    mirror, normalized; a 400 `wecom_moment_invalid` (or `media_invalid`) names the first problem.
    The API and the console's form check with it before anything is written."""
    if account.kind != AccountKind.WECOM:
        raise _invalid(_("Moments need a WeCom corp account."))
    text = text or ""
    if len(text) > TEXT_MAX_CHARS or len(text.encode()) > TEXT_MAX_BYTES:
        raise _invalid(_("The text has at most 2000 characters."), length=len(text))
    clean = _moment_attachments(attachments)
    if not text.strip() and not clean:
        raise _invalid(_("Write a text or add attachments."))
    senders = list(dict.fromkeys(sender_userids or []))
    if len(senders) > MAX_SENDERS:
        raise _invalid(_("At most 100,000 staff members."), count=len(senders))
    if senders:
        present = set(
            WeComStaff.objects.filter(account=account, userid__in=senders, departed_at__isnull=True).values_list("userid", flat=True)
        )
        unknown = [s for s in senders if s not in present]
        if unknown:
            raise _invalid(_("Some staff members are unknown or have left the corp."), sender_userids=unknown[:100])
    tags = list(dict.fromkeys(tag_ids or []))
    remote = dict(TagMirror.objects.filter(account=account, tag_id__in=tags).values_list("tag_id", "remote_id"))
    missing = [t for t in tags if t not in remote]
    if missing:
        raise _invalid(_("Only tags mirrored as WeCom corp tags can choose who sees a moment."), tag_ids=missing)
    return {"text": text, "attachments": clean, "sender_userids": senders, "tag_ids": tags, "remote_tag_ids": [remote[t] for t in tags]}


def _submit_enqueue(moment_id: int) -> None:
    # tasks.py imports this module: the task is looked up late.
    from messaging.channels.tasks import moment_submit_task

    moment_submit_task.delay(moment_id)


def _render(account, specs: list[dict]) -> list[dict]:
    # Every media_id of a moment — images, the video, a link's picture — comes from 上传附件资源
    # (upload_attachment, attachment_type=1), as page 95094 asks: add_moment_task refuses others.
    files = {f.pk: f for f in MediaFile.objects.defer("content").filter(pk__in=[s["media_file"] for s in specs if s.get("media_file")])}
    rendered = []
    for spec in specs:
        media = files.get(spec.get("media_file")) if spec.get("media_file") else None
        if spec["msgtype"] == "link":
            link = {"title": spec["title"], "url": spec["url"]}
            if media is not None:
                link["media_id"] = moment_media_id(account, media)
            rendered.append({"msgtype": "link", "link": link})
        else:
            rendered.append({"msgtype": spec["msgtype"], spec["msgtype"]: {"media_id": moment_media_id(account, media)}})
    return rendered


def _body(moment: WeComMoment) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if moment.text:
        body["text"] = {"content": moment.text}
    if moment.attachments:
        body["attachments"] = _render(moment.account, moment.attachments)
    visible: dict[str, Any] = {}
    if moment.sender_userids:
        visible["sender_list"] = {"user_list": list(moment.sender_userids)}
    if moment.remote_tag_ids:
        visible["external_contact_list"] = {"tag_list": list(moment.remote_tag_ids)}
    if visible:
        body["visible_range"] = visible
    return body


def moment_submit(*, moment_id: int) -> str:
    """Send a pending moment with add_moment_task (once: the row is locked and must still be pending);
    returns its state. A media_id WeCom no longer knows (40007) is uploaded again once."""
    with transaction.atomic():
        moment = WeComMoment.objects.select_for_update().select_related("account").filter(pk=moment_id).first()
        if moment is None or moment.state != MomentState.PENDING:
            return moment.state if moment else ""
        client = wecom_client(moment.account)
        for attempt in (1, 2):
            body = _body(moment)
            try:
                answer = client.post("externalcontact/add_moment_task", data=body)
                break
            except WeChatClientException as exc:
                if exc.errcode == MEDIA_ID_INVALID and attempt == 1:
                    media_invalidate(moment.account, _media_ids(body))
                    continue
                if exc.errcode is None:
                    raise  # transport: the task retries
                WeComMoment.objects.filter(pk=moment.pk).update(
                    state=MomentState.FAILED, errcode=exc.errcode, error=str(exc.errmsg or "")[:2000], updated_at=timezone.now()
                )
                return MomentState.FAILED
        WeComMoment.objects.filter(pk=moment.pk).update(
            state=MomentState.SUBMITTED, jobid=str(answer.get("jobid", "")), submitted_at=timezone.now(), updated_at=timezone.now()
        )
    return MomentState.SUBMITTED


def _media_ids(body: dict) -> list[str]:
    return [item[item["msgtype"]]["media_id"] for item in body.get("attachments") or [] if item[item["msgtype"]].get("media_id")]


def moment_result_poll(*, moment_id: int) -> str:
    """Read a submitted moment's job (get_moment_task_result): done → created with its moment_id and
    WeCom's invalid staff members and tags, or failed with WeCom's errcode; running → unchanged."""
    moment = WeComMoment.objects.select_related("account").get(pk=moment_id)
    if moment.state != MomentState.SUBMITTED:
        return moment.state
    now = timezone.now()
    try:
        answer = wecom_client(moment.account).get("externalcontact/get_moment_task_result", params={"jobid": moment.jobid})
    except WeChatClientException as exc:
        if exc.errcode is not None and moment.submitted_at and now - moment.submitted_at > JOB_LIFE:
            WeComMoment.objects.filter(pk=moment.pk, state=MomentState.SUBMITTED).update(
                state=MomentState.FAILED, errcode=exc.errcode, error=_("WeCom's job expired before its result was read."), updated_at=now
            )
            return MomentState.FAILED
        raise
    WeComMoment.objects.filter(pk=moment.pk).update(last_polled_at=now)
    if int(answer.get("status") or 0) != 3:
        return moment.state
    result = answer.get("result") or {}
    if int(result.get("errcode") or 0) != 0:
        WeComMoment.objects.filter(pk=moment.pk, state=MomentState.SUBMITTED).update(
            state=MomentState.FAILED, errcode=int(result["errcode"]), error=str(result.get("errmsg") or "")[:2000], updated_at=now
        )
        return MomentState.FAILED
    WeComMoment.objects.filter(pk=moment.pk, state=MomentState.SUBMITTED).update(
        state=MomentState.CREATED, moment_id=str(result.get("moment_id", "")),
        invalid_senders=list((result.get("invalid_sender_list") or {}).get("user_list") or []),
        invalid_tags=list((result.get("invalid_external_contact_list") or {}).get("tag_list") or []),
        last_polled_at=None, updated_at=now,
    )
    return MomentState.CREATED


def _pages(client, path: str, body: dict, key: str, limit: int) -> list[dict]:
    rows: list[dict] = []
    cursor = ""
    while True:
        page = client.post(path, data={**body, "cursor": cursor, "limit": limit})
        rows += page.get(key) or []
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return rows


def _dedupe_key(moment: WeComMoment, staff: str, kind: str, external: str, at: int) -> str:
    digest = hashlib.sha256(f"{moment.account_id}|{moment.moment_id}|{staff}|{kind}|{external}|{at}".encode()).hexdigest()
    return f"wecom.moment:{digest}"


def moment_engagement_poll(*, moment_id: int) -> dict[str, int]:
    """Who published the moment (and how many customers see it), then each publisher's comments and
    likes as engagement events of the customers (stored once); returns counts of new events."""
    moment = WeComMoment.objects.select_related("account").get(pk=moment_id)
    if moment.state != MomentState.CREATED or not moment.moment_id:
        return {}
    client = wecom_client(moment.account)
    publishers = dict(moment.publishers or {})
    for row in _pages(client, "externalcontact/get_moment_task", {"moment_id": moment.moment_id}, "task_list", TASK_PAGE):
        userid = row.get("userid") or ""
        entry = publishers.setdefault(userid, {"published": False, "reach": 0})
        if int(row.get("publish_status") or 0) == 1 and not entry["published"]:
            seen = _pages(client, "externalcontact/get_moment_send_result", {"moment_id": moment.moment_id, "userid": userid},
                          "customer_list", SEND_RESULT_PAGE)
            entry.update(published=True, reach=len(seen))
    interactions: list[tuple[str, str, str, int]] = []  # (staff, kind, external_userid, create_time)
    for userid, entry in publishers.items():
        if not entry["published"]:
            continue
        answer = client.post("externalcontact/get_moment_comments", data={"moment_id": moment.moment_id, "userid": userid})
        for kind, key in (("comment", "comment_list"), ("like", "like_list")):
            # Entries with `userid` are staff members' own comments: not a customer's engagement.
            interactions += [(userid, kind, row["external_userid"], int(row.get("create_time") or 0))
                             for row in answer.get(key) or [] if row.get("external_userid")]
    customer_of = dict(
        ChannelIdentity.objects.filter(
            account_id=moment.account_id, kind=moment.account.identity_kind, external_id__in={i[2] for i in interactions}
        ).values_list("external_id", "customer_id")
    )
    events = [
        {
            "customer_id": customer_of[external],
            "event_type": EVENT_COMMENT if kind == "comment" else EVENT_LIKE,
            "occurred_at": datetime.fromtimestamp(at, tz=UTC) if at else timezone.now(),
            "properties": {"moment": moment.pk, "moment_id": moment.moment_id, "staff_userid": staff},
            "account_id": moment.account_id,
            "dedupe_key": _dedupe_key(moment, staff, kind, external, at),
        }
        for staff, kind, external, at in interactions
        if external in customer_of
    ]
    with transaction.atomic():
        new = events_record_bulk(events) if events else []
        WeComMoment.objects.filter(pk=moment.pk).update(
            publishers=publishers, comments=sum(1 for i in interactions if i[1] == "comment"),
            likes=sum(1 for i in interactions if i[1] == "like"), last_polled_at=timezone.now(), updated_at=timezone.now(),
        )
    return {"events": len(new), "interactions": len(interactions), "unknown_customers": len(interactions) - len(events)}


def moments_due(*, now: datetime | None = None):
    """Moments to poll now: jobs not read yet, and created moments younger than POLL_DAYS whose last
    poll is older than POLL_INTERVAL (oldest first, POLL_BATCH at most)."""
    now = now or timezone.now()
    return (
        WeComMoment.objects.filter(
            Q(state=MomentState.SUBMITTED)
            | Q(state=MomentState.CREATED, submitted_at__gte=now - timedelta(days=POLL_DAYS))
            & (Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=now - POLL_INTERVAL))
        )
        .order_by("last_polled_at", "pk")
        .values_list("pk", flat=True)[:POLL_BATCH]
    )


def moment_poll(*, moment_id: int) -> dict[str, Any]:
    """One moment's next step: its job result while submitted, its engagement once created."""
    state = moment_result_poll(moment_id=moment_id)
    if state != MomentState.CREATED:
        return {"state": state}
    return {"state": state, **moment_engagement_poll(moment_id=moment_id)}


PENDING_RETRY_AFTER = timedelta(minutes=5)


def moments_poll_due() -> dict[str, int]:
    """Send again the moments still pending a while after they were recorded (their task met a
    transport error or was lost), then poll every due moment; one failing moment (logged) does not
    stop the others."""
    counts = {"polled": 0, "failed": 0, "resubmitted": 0}
    stale = WeComMoment.objects.filter(state=MomentState.PENDING, created_at__lt=timezone.now() - PENDING_RETRY_AFTER)
    for moment_id in list(stale.values_list("pk", flat=True)[:POLL_BATCH]):
        try:
            moment_submit(moment_id=moment_id)
            counts["resubmitted"] += 1
        except Exception:
            logger.exception("moment %s submit failed", moment_id)
            counts["failed"] += 1
    for moment_id in list(moments_due()):
        try:
            moment_poll(moment_id=moment_id)
            counts["polled"] += 1
        except Exception:
            logger.exception("moment %s poll failed", moment_id)
            counts["failed"] += 1
    return counts
