"""Results of WeCom group-message tasks: a task waits until its staff member confirms it in WeCom
(hours or days later), so after the send each msgid is polled with growing intervals until every
delivery of it is final or the task is too old to still be confirmed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from accounts.models import ChannelAccount
from campaigns.models import Delivery, DeliveryState
from messaging.channels.wecom import group_message_reports_dispatch

logger = logging.getLogger(__name__)

# First look shortly after the send; then doubling intervals, capped, for up to three days.
FIRST_POLL_SECONDS = 300.0
MAX_POLL_INTERVAL_SECONDS = 6 * 3600.0
MAX_AGE = timedelta(days=3)
OPEN_STATES = (DeliveryState.SENT, DeliveryState.SENDING)


@dataclass
class PollResult:
    # "done" (nothing open), "waiting" (poll again in `again_in` seconds) or "expired" (gave up).
    status: str
    counts: dict[str, int]
    open: int = 0
    again_in: float | None = None


def poll_interval(attempt: int) -> float:
    """attempt 0 → 5 min, 1 → 10 min, 2 → 20 min, … capped at 6 h."""
    return min(FIRST_POLL_SECONDS * (2 ** max(attempt, 0)), MAX_POLL_INTERVAL_SECONDS)


def group_results_poll_schedule(*, account_id: int, msgids: list[str]) -> None:
    """Enqueue the first result poll of freshly sent group tasks (after the current transaction commits)."""
    # campaigns.tasks imports dispatch, which sends the tasks whose results this polls.
    from campaigns.tasks import dispatch_group_results_poll_task

    for msgid in dict.fromkeys(m for m in msgids if m):
        transaction.on_commit(
            lambda m=msgid: dispatch_group_results_poll_task.apply_async(args=[account_id, m, 0], countdown=poll_interval(0))
        )


def dispatch_group_results_poll(*, account_id: int, msgid: str, attempt: int = 0) -> PollResult:
    """Fetch a group task's per-customer results once, settle decided deliveries, and say whether to poll again."""
    open_rows = Delivery.objects.filter(account_id=account_id, msgid=msgid, state__in=OPEN_STATES)
    first_sent = open_rows.aggregate(at=Min("sent_at"))["at"]
    if not open_rows.exists():
        return PollResult(status="done", counts={})
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None:
        return PollResult(status="done", counts={}, open=open_rows.count())
    counts: dict[str, int] = {}
    try:
        counts = group_message_reports_dispatch(account, msgid=msgid)
    except WeChatClientException as exc:
        # Busy / token / transient WeCom errors: keep the schedule, the next poll tries again.
        counts = {"error": 1}
        logger.warning("group task %s results not fetched (errcode %s); polling again later", msgid, exc.errcode)
    except Exception:
        # Network trouble (or a bug) must not end the polling chain: the next poll retries.
        counts = {"error": 1}
        logger.exception("group task %s results not fetched; polling again later", msgid)
    remaining = open_rows.count()
    if not remaining:
        return PollResult(status="done", counts=counts)
    age = timezone.now() - (first_sent or timezone.now())
    if age >= MAX_AGE:
        # Never confirmed by the staff member: the deliveries stay 'sent'; WeCom will not send them now.
        logger.info("group task %s still unconfirmed after %s; no more polling (%d open)", msgid, age, remaining)
        return PollResult(status="expired", counts=counts, open=remaining)
    return PollResult(status="waiting", counts=counts, open=remaining, again_in=poll_interval(attempt + 1))
