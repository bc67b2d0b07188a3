"""Hand-over of customers between staff members (在职继承 / 离职继承) through WeCom.

A WeComHandover row and one item per customer are written first (the outbox); submission sends
pending items 100 at a time (transfer_customer, or resigned/transfer_customer for a departed staff
member) and moves each by WeCom's per-customer errcode, with a conditional update so a repeated run
sends nothing twice; polling reads transfer_result and applies each decided customer: done
(customers' relation_record_transferred), refused by the customer, or the takeover staff member's
limit. transfer_fail events decide an item early. WeCom's limits (docs/wecom.md): 100 customers a
call, a notice of at most 200 characters (on-job only), 24 hours for the customer to refuse, twice in
90 days per customer (on-job).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountKind
from audit.models import AuditAction
from audit.services import audit_record
from customers.models import ChannelIdentity
from customers.segments.selectors import segment_customer_queryset
from customers.wecom.models import RelationState, WeComRelation, WeComStaff
from customers.wecom.services import relation_record_transferred
from messaging.channels.clients import wecom_client
from messaging.channels.models import HandoverItemState, HandoverKind, WeComHandover, WeComHandoverItem
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

TRANSFER_BATCH = 100
POLL_EVERY = timedelta(hours=1)
POLL_PER_RUN = 50
NOTICE_MAX = 200
RESULT_STATES = {1: HandoverItemState.DONE, 3: HandoverItemState.CUSTOMER_REFUSED, 4: HandoverItemState.LIMIT_EXCEEDED}
FAIL_REASONS = {"customer_refused": HandoverItemState.CUSTOMER_REFUSED, "customer_limit_exceed": HandoverItemState.LIMIT_EXCEEDED}


def _invalid(message: str, **detail: Any) -> ApplicationError:
    return ApplicationError(message, code=MessagingError.HANDOVER_INVALID, detail=detail or None)


@transaction.atomic
def handover_create(
    *, account, handover_userid: str, takeover_userid: str, external_userids: list[str] | None = None,
    transfer_message: str = "", kind: str | None = None, user=None, ip: str | None = None,
) -> WeComHandover:
    """Record a hand-over of `external_userids` (None: every active customer of the handover staff
    member) and submit it after commit. The kind follows the directory: a departed staff member's
    customers go through 离职继承; a `kind` the caller names must agree with it."""
    if account.kind != AccountKind.WECOM:
        raise _invalid(_("Hand-over needs a WeCom corp account."))
    if not handover_userid or not takeover_userid or handover_userid == takeover_userid:
        raise _invalid(_("Name two different staff members."))
    if len(transfer_message) > NOTICE_MAX:
        raise _invalid(_("The message to the customer has at most 200 characters."), length=len(transfer_message))
    staff = {s.userid: s for s in WeComStaff.objects.filter(account=account, userid__in=[handover_userid, takeover_userid])}
    if takeover_userid in staff and staff[takeover_userid].departed_at is not None:
        raise _invalid(_("The takeover staff member has left the corp."))
    resigned = handover_userid in staff and staff[handover_userid].departed_at is not None
    if kind == HandoverKind.RESIGNED and not resigned:
        raise _invalid(_("%(userid)s has not left the corp: hand their customers over as a serving staff member.") % {"userid": handover_userid})
    if kind == HandoverKind.ON_JOB and resigned:
        raise _invalid(_("%(userid)s has left the corp: hand their customers over as a departed staff member.") % {"userid": handover_userid})
    if resigned and transfer_message:
        raise _invalid(_("WeCom sends no message for a departed staff member's customers."))
    active = set(
        WeComRelation.objects.filter(
            identity__account=account, staff_userid=handover_userid, state=RelationState.ACTIVE
        ).values_list("identity__external_id", flat=True)
    )
    wanted = list(dict.fromkeys(external_userids)) if external_userids is not None else sorted(active)
    unknown = [e for e in wanted if e not in active]
    if unknown:
        raise _invalid(_("Some customers are not active contacts of the handover staff member."), external_userids=unknown[:100])
    if not wanted:
        raise _invalid(_("The handover staff member has no customer to hand over."))
    handover = WeComHandover.objects.create(
        account=account, kind=HandoverKind.RESIGNED if resigned else HandoverKind.ON_JOB,
        handover_userid=handover_userid, takeover_userid=takeover_userid, transfer_message=transfer_message, created_by=user,
    )
    WeComHandoverItem.objects.bulk_create([WeComHandoverItem(handover=handover, external_userid=e) for e in wanted], batch_size=2000)
    audit_record(
        user=user, action=AuditAction.ADD, obj=handover, ip=ip,
        detail={"kind": handover.kind, "customers": len(wanted), "from": handover_userid, "to": takeover_userid},
    )
    transaction.on_commit(lambda: _submit_enqueue(handover.pk))
    return handover


def handover_segment_customers(*, account, handover_userid: str, segment) -> list[str]:
    """The external_userids of the segment's customers who are active contacts of the handover staff member."""
    return sorted(set(
        WeComRelation.objects.filter(
            identity__account=account, staff_userid=handover_userid, state=RelationState.ACTIVE,
            identity__customer_id__in=segment_customer_queryset(segment).values("pk"),
        ).values_list("identity__external_id", flat=True)
    ))


def _submit_enqueue(handover_id: int) -> None:
    # tasks.py imports this module (its tasks call these services): the task is looked up late.
    from messaging.channels.tasks import handover_submit_task

    handover_submit_task.delay(handover_id)


def handover_submit(*, handover_id: int) -> dict[str, int]:
    """Send the pending items to WeCom, 100 a call; returns counts by the state each item took."""
    handover = WeComHandover.objects.select_related("account").get(pk=handover_id)
    client = wecom_client(handover.account)
    path = "externalcontact/resigned/transfer_customer" if handover.kind == HandoverKind.RESIGNED else "externalcontact/transfer_customer"
    counts: dict[str, int] = {}
    while True:
        batch = list(
            handover.items.filter(state=HandoverItemState.PENDING).order_by("pk").values_list("external_userid", flat=True)[:TRANSFER_BATCH]
        )
        if not batch:
            break
        body: dict[str, Any] = {"handover_userid": handover.handover_userid, "takeover_userid": handover.takeover_userid,
                                "external_userid": batch}
        if handover.transfer_message and handover.kind == HandoverKind.ON_JOB:
            body["transfer_success_msg"] = handover.transfer_message
        answer = client.post(path, data=body)
        codes = {row.get("external_userid"): int(row.get("errcode") or 0) for row in answer.get("customer") or []}
        for external in batch:
            code = codes.get(external, 0)
            state = HandoverItemState.WAITING if code == 0 else HandoverItemState.REFUSED_BY_WECOM
            handover.items.filter(external_userid=external, state=HandoverItemState.PENDING).update(
                state=state, errcode=code or None, updated_at=timezone.now()
            )
            counts[state] = counts.get(state, 0) + 1
    _finish_if_decided(handover)
    return counts


def handover_poll(*, handover_id: int) -> dict[str, int]:
    """Read transfer_result and apply every decided customer; returns counts by state applied."""
    handover = WeComHandover.objects.select_related("account").get(pk=handover_id)
    client = wecom_client(handover.account)
    path = "externalcontact/resigned/transfer_result" if handover.kind == HandoverKind.RESIGNED else "externalcontact/transfer_result"
    counts: dict[str, int] = {}
    cursor = ""
    while True:
        page = client.post(path, data={"handover_userid": handover.handover_userid, "takeover_userid": handover.takeover_userid,
                                       "cursor": cursor})
        for row in page.get("customer") or []:
            state = RESULT_STATES.get(int(row.get("status") or 0))
            if state is None:
                continue
            at = datetime.fromtimestamp(int(row["takeover_time"]), tz=UTC) if row.get("takeover_time") else timezone.now()
            if handover_item_decide(handover=handover, external_userid=row.get("external_userid", ""), state=state, at=at):
                counts[state] = counts.get(state, 0) + 1
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    WeComHandover.objects.filter(pk=handover.pk).update(last_polled_at=timezone.now())
    _finish_if_decided(handover)
    return counts


@transaction.atomic
def handover_item_decide(*, handover: WeComHandover, external_userid: str, state: str, at: datetime) -> bool:
    """Move a waiting item to its outcome once; a completed one moves the customer's relationship."""
    moved = handover.items.filter(external_userid=external_userid, state=HandoverItemState.WAITING).update(
        state=state, takeover_at=at if state == HandoverItemState.DONE else None, updated_at=timezone.now()
    )
    if moved and state == HandoverItemState.DONE:
        for identity in ChannelIdentity.objects.filter(account_id=handover.account_id, external_id=external_userid):
            relation_record_transferred(
                identity=identity, handover_userid=handover.handover_userid, takeover_userid=handover.takeover_userid, at=at
            )
    return bool(moved)


def handover_transfer_failed(*, account_id: int, takeover_userid: str, external_userid: str, reason: str, at: datetime) -> int:
    """transfer_fail: the waiting item of this customer to `takeover_userid` ends refused or limited."""
    state = FAIL_REASONS.get(reason, HandoverItemState.CUSTOMER_REFUSED)
    decided = 0
    for handover in WeComHandover.objects.filter(
        account_id=account_id, takeover_userid=takeover_userid, items__external_userid=external_userid,
        items__state=HandoverItemState.WAITING,
    ).distinct():
        decided += handover_item_decide(handover=handover, external_userid=external_userid, state=state, at=at)
        _finish_if_decided(handover)
    return decided


def _finish_if_decided(handover: WeComHandover) -> None:
    open_states = [HandoverItemState.PENDING, HandoverItemState.WAITING]
    if not handover.items.filter(state__in=open_states).exists():
        WeComHandover.objects.filter(pk=handover.pk, finished_at__isnull=True).update(finished_at=timezone.now())


def handovers_poll_due(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic poll (beat): open hand-overs with customers waiting, each at most once every
    POLL_EVERY, the longest unpolled first and at most POLL_PER_RUN a run. WeCom decides a customer
    only when they refuse (a transfer_fail event says so at once) or 24 hours after the submission, so
    polling more often spends transfer_result calls (pages of 1000, counted against the corp's API
    frequency) for nothing. A hand-over whose poll fails is tried again on a later run."""
    now = now or timezone.now()
    waiting = WeComHandoverItem.objects.filter(handover_id=OuterRef("pk"), state=HandoverItemState.WAITING)
    due = list(
        WeComHandover.objects.filter(Exists(waiting), finished_at__isnull=True)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - POLL_EVERY))
        .order_by(F("last_polled_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:POLL_PER_RUN]
    )
    counts = {"polled": 0, "failed": 0, "decided": 0}
    for handover_id in due:
        try:
            decided = handover_poll(handover_id=handover_id)
        except Exception:  # one corp's outage must not stop the others' polls
            logger.warning("hand-over %s: transfer_result failed", handover_id, exc_info=True)
            counts["failed"] += 1
            continue
        counts["polled"] += 1
        counts["decided"] += sum(decided.values())
    return counts


def unassigned_list(account) -> list[dict[str, Any]]:
    """Departed staff members' customers not handed over yet (get_unassigned_list, pages of 1000)."""
    client = wecom_client(account)
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.post("externalcontact/get_unassigned_list", data={"cursor": cursor, "page_size": 1000})
        rows += page.get("info") or []
        cursor = page.get("next_cursor") or ""
        if page.get("is_last", True) or not cursor:
            return rows
