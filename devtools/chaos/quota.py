"""Drill 4: the account's daily template quota (the sandbox set to a small one) runs out mid-campaign.
What WeChat accepted is sent once; the rest is deferred to the next quota day (midnight Beijing time,
when WeChat resets its quotas), none failed, and the campaign is still sending (issue 14, defect 6)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.models import Campaign, Delivery, DeliveryState
from devtools.chaos.population import pumps_start, sandbox_account, sending_campaign
from devtools.chaos.report import DrillResult
from devtools.chaos.stack import Stack
from messaging.sandbox.control import SandboxControl

RECIPIENTS = 600
QUOTA = 250
RATE_PER_SECOND = 50
QUIET_SECONDS = 20.0
TIMEOUT = 120.0
QUOTA_TZ = ZoneInfo("Asia/Shanghai")


def _next_quota_day() -> datetime:
    local = datetime.now(QUOTA_TZ)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=QUOTA_TZ)


def run(stack: Stack, *, log) -> DrillResult:
    control = SandboxControl(stack.sandbox_url)
    account = sandbox_account(sandbox_url=stack.sandbox_url, label="quota", rate_per_second=RATE_PER_SECOND)
    control.set_daily_quota(account.app_id, QUOTA)
    campaign = sending_campaign(account=account, recipients=RECIPIENTS, label="quota")
    pumps_start(campaign)
    started = time.monotonic()
    rows = Delivery.objects.filter(campaign=campaign)
    last, quiet_since = None, time.monotonic()
    # Until the outcome stops changing (nothing in flight and the states still for QUIET_SECONDS).
    while time.monotonic() - started < TIMEOUT:
        now_states = Counter(rows.values_list("state", flat=True))
        if now_states != last or now_states.get(DeliveryState.SENDING):
            last, quiet_since = now_states, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            break
        time.sleep(1.0)
    settled_in = time.monotonic() - started
    campaign.refresh_from_db()
    states = Counter(rows.values_list("state", flat=True))
    received = control.sent_messages(app_id=account.app_id, api="template")
    per_delivery = Counter(str(m.get("client_msg_id")) for m in received)
    duplicated = sum(n - 1 for n in per_delivery.values() if n > 1)
    sent_ids = {str(pk) for pk in rows.filter(state__in=[DeliveryState.SENT, DeliveryState.DELIVERED]).values_list("pk", flat=True)}
    lost = len(sent_ids - set(per_delivery))
    next_day = _next_quota_day()
    remaining = rows.exclude(state__in=[DeliveryState.SENT, DeliveryState.DELIVERED])
    deferred = remaining.filter(state=DeliveryState.PLANNED, send_after__gte=next_day - timedelta(minutes=1)).count()
    failed = states.get(DeliveryState.FAILED, 0)
    result = DrillResult(
        name=f"4. the daily template quota ({QUOTA}) hit mid-campaign ({RECIPIENTS} recipients)",
        tried=f"{RECIPIENTS} template messages, sandbox quota {QUOTA}/day; after {settled_in:.0f} s deliveries {dict(states)}, "
        f"campaign {campaign.state}",
        lost=lost,
        duplicated=duplicated,
        goal=f"{QUOTA} sent once; the other {RECIPIENTS - QUOTA} deferred to the next quota day ({next_day:%Y-%m-%d %H:%M} "
        "Beijing), 0 failed, campaign still sending",
    )
    result.notes.append(f"the sandbox accepted {len(per_delivery)}; {deferred}/{remaining.count()} unsent rows deferred to the next quota day; {failed} failed")
    first_error = remaining.exclude(error_code="").values_list("error_code", "error_message").first()
    if first_error:
        result.notes.append(f"unsent rows' error: {first_error[0]} {first_error[1]}")
    result.passed = (
        len(per_delivery) == QUOTA and duplicated == 0 and lost == 0 and failed == 0
        and deferred == RECIPIENTS - QUOTA and campaign.state == "sending"
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="paused")  # nothing more to send today
    return result
