"""Planning a group-message campaign: the audience's groups, each planned or left out by the contact
policy as it applies to a group.

The policy for a group (docs/wecom.md, "Group messages to customer groups"):
- WeCom's limit: a customer group receives at most as many group messages a month as the month has
  days, whoever creates them (创建企业群发, https://developer.work.weixin.qq.com/document/path/92135;
  the rule as WeCom's admin help words it: 每个客户群每月最多可接收条数为当月天数); a group over it
  answers status 3 in get_groupmsg_send_result. The product counts its own sends and leaves the
  group out first.
- The product's own rule for a group's quiet: at most GROUP_MESSAGES_PER_DAY group message per group
  per calendar day in the account's time zone (WeCom documents no daily rule for groups).
- A group whose owner has left (or has none) is left out: WeCom gives the task only to the owner.
- Quiet hours and the campaign's send window hold the task until they allow it (account's time zone).
- A group message is not counted as a push to each member: WeCom counts it per group, apart from the
  per-customer limit; members chose the group and can mute or leave it; one member's cap must not
  hold a group of 200 back. The members reached are recorded per group (`members`).
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.groups.audience import group_audience_groups
from campaigns.groups.models import GroupSend, GroupSendReason, GroupSendState
from campaigns.models import Campaign, CampaignState
from campaigns.policy import effective_policy
from customers.wecom.models import WeComStaff

COUNTED = (GroupSendState.SENDING, GroupSendState.SENT, GroupSendState.DELIVERED)
GROUP_MESSAGES_PER_DAY = 1


def _local_bounds(campaign: Campaign, now: datetime) -> tuple[datetime, datetime, int]:
    local = now.astimezone(ZoneInfo(campaign.account.timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    return day, month, calendar.monthrange(local.year, local.month)[1]


def group_campaign_plan(*, campaign: Campaign) -> dict[str, int]:
    """Write the campaign's GroupSend rows (planned or left out); returns counts per state/reason."""
    now = timezone.now()
    day_start, month_start, days_in_month = _local_bounds(campaign, now)
    groups = list(group_audience_groups(campaign))
    used = {
        row["group_id"]: row
        for row in GroupSend.objects.filter(group_id__in=[g.pk for g in groups], state__in=COUNTED, sent_at__gte=month_start)
        .exclude(campaign=campaign).values("group_id")
        .annotate(day=Count("id", filter=Q(sent_at__gte=day_start)), month=Count("id"))
    }
    departed = set(
        WeComStaff.objects.filter(account_id=campaign.account_id, departed_at__isnull=False).values_list("userid", flat=True)
    )
    rows = []
    for group in groups:
        reason = ""
        if not group.owner_userid:
            reason = GroupSendReason.NO_OWNER
        elif group.owner_userid in departed or group.status == 1:
            reason = GroupSendReason.OWNER_DEPARTED
        elif used.get(group.pk, {}).get("month", 0) >= days_in_month:
            reason = GroupSendReason.GROUP_MONTH_LIMIT
        elif used.get(group.pk, {}).get("day", 0) >= GROUP_MESSAGES_PER_DAY:
            reason = GroupSendReason.GROUP_DAY_LIMIT
        rows.append(GroupSend(
            campaign=campaign, group=group, account_id=campaign.account_id, chat_id=group.chat_id, owner_userid=group.owner_userid,
            members=group.externals, state=GroupSendState.SUPPRESSED if reason else GroupSendState.PLANNED, reason=reason,
        ))
    GroupSend.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    counts: dict[str, int] = {}
    for row in rows:
        key = row.reason or row.state
        counts[key] = counts.get(key, 0) + 1
    return counts


def _quiet(policy, t) -> bool:
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None or start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def _in_window(campaign: Campaign, t) -> bool:
    start, end = campaign.send_window_start, campaign.send_window_end
    if start is None or end is None:
        return True
    return start <= t < end if start < end else (t >= start or t < end)


def group_send_after(campaign: Campaign, now: datetime | None = None) -> datetime:
    """The first moment from `now` outside quiet hours and inside the campaign's send window (the
    account's time zone): the tasks are created then, and the owners are notified then."""
    now = now or timezone.now()
    policy = effective_policy(campaign)
    tz = ZoneInfo(campaign.account.timezone)
    local = now.astimezone(tz)
    candidates = [local]
    for offset in (0, 1):
        base = (local + timedelta(days=offset)).replace(second=0, microsecond=0)
        for t in (policy.quiet_end, campaign.send_window_start):
            if t is not None:
                candidates.append(base.replace(hour=t.hour, minute=t.minute))
    for moment in sorted(c for c in candidates if c >= local):
        if not _quiet(policy, moment.time()) and _in_window(campaign, moment.time()):
            return moment.astimezone(now.tzinfo)
    return now


def group_campaign_start(*, campaign: Campaign) -> None:
    """planning → sending for a group audience (inside campaign_plan's transaction): the rows, the
    campaign's counts (groups), and the owners' tasks enqueued once it commits."""
    counts = group_campaign_plan(campaign=campaign)
    campaign.audience_count, campaign.planned_count = sum(counts.values()), counts.get(GroupSendState.PLANNED, 0)
    campaign.suppressed_count = campaign.audience_count - campaign.planned_count
    campaign.planned_at = campaign.sending_started_at = timezone.now()
    campaign.state = CampaignState.SENDING
    campaign.save()
    # campaigns.tasks imports the sending side of this package.
    from campaigns.tasks import group_campaign_send_task

    transaction.on_commit(lambda: group_campaign_send_task.apply_async(args=[campaign.pk]))


class _Rollback(Exception):
    pass


def group_campaign_preview(*, campaign: Campaign) -> dict:
    """The groups planned and left out (by reason) and the members they hold, planned and rolled back."""
    holder: dict = {}
    try:
        with transaction.atomic():
            counts = group_campaign_plan(campaign=campaign)
            members = sum(GroupSend.objects.filter(campaign=campaign, state=GroupSendState.PLANNED).values_list("members", flat=True))
            holder.update(counts=counts, members=members)
            raise _Rollback
    except _Rollback:
        pass
    counts = holder["counts"]
    return {
        "audience": sum(counts.values()),
        "suppressed": [{"reason": r, "count": n} for r, n in counts.items() if r != GroupSendState.PLANNED],
        "held_out": 0,
        "predicted_reach": counts.get(GroupSendState.PLANNED, 0),
        "unit": "groups",
        "members_reached": holder["members"],
    }
