"""Sending a group-message campaign: per owner, one add_msg_template task with chat_type=group and
the owner's planned groups (≤ 2000 a task); then each task's per-group results polled until final.

A row moves planned → sending (claimed with sent_at, under a row lock, so two runs never send one
group twice) → sent (the task's msgid) before the owner confirms; a WeCom refusal fails the rows of
that task with WeCom's errcode. A crash between the call and the record leaves rows 'sending': they
are not sent again (at most once). Results (get_groupmsg_task / get_groupmsg_send_result, one row per
chat_id): 1 delivered, 2 and 3 failed (3: the group is over its limit), 0 still waiting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from accounts.models import ChannelAccount
from campaigns.dispatch.group_results import MAX_AGE, poll_interval
from campaigns.groups.models import GroupSend, GroupSendState
from campaigns.groups.plan import group_send_after
from campaigns.models import Campaign, CampaignState
from campaigns.rendering import MessageRenderer
from messaging.channels.wecom import CHAT_ID_LIST_LIMIT, group_chat_task_create, group_message_results_fetch

logger = logging.getLogger(__name__)
GROUP_RESULT = {1: GroupSendState.DELIVERED, 2: GroupSendState.FAILED, 3: GroupSendState.FAILED}
RESULT_ERROR = {2: "wecom_group_not_sent", 3: "wecom_group_limit"}


@dataclass
class GroupSendResult:
    tasks: int = 0
    sent: int = 0
    failed: int = 0
    # Seconds until the send window or quiet hours allow the tasks; None when nothing waits.
    wait: float | None = None
    msgids: tuple[str, ...] = ()


def _claim(campaign_id: int, owner: str) -> list[GroupSend]:
    with transaction.atomic():
        rows = list(
            GroupSend.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, owner_userid=owner, state=GroupSendState.PLANNED).order_by("pk")[:CHAT_ID_LIST_LIMIT]
        )
        GroupSend.objects.filter(pk__in=[r.pk for r in rows]).update(state=GroupSendState.SENDING, sent_at=timezone.now())
    return rows


def group_campaign_send(*, campaign_id: int) -> GroupSendResult:
    """Create the owners' tasks of a sending group campaign; completes it once nothing is planned."""
    result = GroupSendResult()
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None or campaign.state != CampaignState.SENDING:
        return result
    start = group_send_after(campaign)
    if start > timezone.now():
        result.wait = (start - timezone.now()).total_seconds()
        return result
    renderer = MessageRenderer(campaign)
    owners = list(
        GroupSend.objects.filter(campaign=campaign, state=GroupSendState.PLANNED).values_list("owner_userid", flat=True).distinct()
    )
    msgids = []
    for owner in owners:
        while Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING).exists():
            rows = _claim(campaign_id, owner)
            if not rows:
                break
            ids = [r.pk for r in rows]
            try:
                msgid = group_chat_task_create(campaign.account, sender=owner, chat_ids=[r.chat_id for r in rows],
                                               payload=renderer.batch_payload(staff=owner))
            except WeChatClientException as exc:
                logger.warning("group task for %s refused: errcode %s", owner, exc.errcode)
                GroupSend.objects.filter(pk__in=ids).update(state=GroupSendState.FAILED, error_code=str(exc.errcode), updated_at=timezone.now())
                result.failed += len(ids)
                continue
            GroupSend.objects.filter(pk__in=ids, state=GroupSendState.SENDING).update(
                state=GroupSendState.SENT, msgid=msgid, updated_at=timezone.now()
            )
            result.tasks, result.sent = result.tasks + 1, result.sent + len(ids)
            msgids.append(msgid)
    result.msgids = tuple(msgids)
    if not GroupSend.objects.filter(campaign=campaign, state__in=[GroupSendState.PLANNED, GroupSendState.SENDING]).exists():
        Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING).update(state=CampaignState.COMPLETED, completed_at=timezone.now())
    return result


def group_send_results_poll(*, account_id: int, msgid: str, attempt: int = 0) -> float | None:
    """Read one task's per-group results and settle the groups decided; returns the seconds until the
    next poll, None when nothing is open or the task is too old to still be confirmed."""
    open_rows = GroupSend.objects.filter(account_id=account_id, msgid=msgid, state=GroupSendState.SENT)
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None or not open_rows.exists():
        return None
    first_sent = open_rows.aggregate(at=Min("sent_at"))["at"]
    try:
        results = group_message_results_fetch(account, msgid=msgid)
    except WeChatClientException as exc:
        logger.warning("group task %s results not fetched (errcode %s); polling again later", msgid, exc.errcode)
        results = []
    for row in results:
        status = int(row.get("status") or 0)
        if not row.get("chat_id") or status not in GROUP_RESULT:
            continue
        at = datetime.fromtimestamp(int(row["send_time"]), tz=UTC) if row.get("send_time") else timezone.now()
        changes = {"state": GROUP_RESULT[status], "error_code": RESULT_ERROR.get(status, ""), "updated_at": timezone.now()}
        if status == 1:
            changes["delivered_at"] = at
        open_rows.filter(chat_id=row["chat_id"]).update(**changes)
    if not open_rows.exists() or timezone.now() - (first_sent or timezone.now()) >= MAX_AGE:
        return None
    return poll_interval(attempt + 1)
