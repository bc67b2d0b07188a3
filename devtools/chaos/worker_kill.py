"""Drill 2: `kill -9` of the dispatch worker (its whole process group) at 3 random moments of a campaign
of a few thousand recipients; a supervisor starts a new worker at once. Every recipient must get the
message exactly once (the sandbox's received messages against the deliveries), and sending must resume
within 60 s of each death.

Kills 1 and 2 come at random moments while rows are claimed. Kill 3 comes between pump slices with
no row claimed: the campaign's last recipients are due later (a send window opening), so once the
first ones are sent every pump waits for its countdown, its next task held by the worker — the case
that used to wait for Redis's one-hour visibility timeout. Its recovery counts from when those rows
fall due (nothing could be sent before), or from the kill if that is later."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta

from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState
from devtools.chaos.population import pumps_start, sandbox_account, sending_campaign
from devtools.chaos.report import DrillResult
from devtools.chaos.stack import Stack
from messaging.sandbox.control import SandboxControl

RECIPIENTS = 2500
LATER = 800
LATER_AFTER_SECONDS = 150.0
RATE_PER_SECOND = 25
GOAL_RESUME_SECONDS = 60.0
WAIT_RESUME_SECONDS = 120.0
WAIT_DONE_SECONDS = 240.0


def _sent_since(campaign: Campaign, at: float) -> bool:
    from datetime import UTC, datetime

    return Delivery.objects.filter(campaign=campaign, sent_at__gt=datetime.fromtimestamp(at, tz=UTC)).exists()


def _wait(predicate, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _between_slices(campaign: Campaign, later_at) -> bool:
    """Until no row of the campaign is claimed and none is due (the first recipients all sent): every
    pump is between slices, waiting for its countdown to `later_at`."""
    from django.utils import timezone

    rows = Delivery.objects.filter(campaign=campaign)
    while timezone.now() < later_at - timedelta(seconds=10):
        due = rows.filter(state=DeliveryState.PLANNED, send_after__lte=timezone.now()).exists()
        if not due and not rows.filter(state=DeliveryState.SENDING).exists():
            return True
        time.sleep(0.5)
    return False


def run(stack: Stack, *, log) -> DrillResult:
    rng = random.Random()
    control = SandboxControl(stack.sandbox_url)
    account = sandbox_account(sandbox_url=stack.sandbox_url, label="worker kill", rate_per_second=RATE_PER_SECOND)
    from django.utils import timezone

    later_at = timezone.now() + timedelta(seconds=LATER_AFTER_SECONDS)
    campaign = sending_campaign(account=account, recipients=RECIPIENTS, label="worker kill", later=LATER, later_at=later_at)
    pumps_start(campaign)
    started = time.time()
    notes: list[str] = []
    kills: list[float] = []
    if not _wait(lambda: _sent_since(campaign, started), 60):
        notes.append("nothing was sent within 60 s of the start")
    moments = ["mid-slice", "mid-slice", "between slices"]
    for index, moment in enumerate(moments, 1):
        if moment == "between slices":
            if _between_slices(campaign, later_at):
                time.sleep(rng.uniform(0.0, 3.0))
            else:
                notes.append(f"kill {index}: the first {RECIPIENTS - LATER} were not all sent 10 s before the rest fell due; killed anyway")
        else:
            time.sleep(rng.uniform(3.0, 10.0))
        claimed = Delivery.objects.filter(campaign=campaign, state=DeliveryState.SENDING).count()
        killed_at = time.time()
        stack.kill_and_restart("worker-dispatch")
        kills.append(killed_at)
        log(f"  kill {index} ({moment}) at {killed_at - started:.1f} s with {claimed} rows claimed; worker restarted")
        since = max(killed_at, later_at.timestamp()) if moment == "between slices" else killed_at
        if not _wait(lambda at=since: _sent_since(campaign, at + 0.5), WAIT_RESUME_SECONDS, every=0.5):
            notes.append(f"kill {index}: nothing sent within {WAIT_RESUME_SECONDS:.0f} s")
            break
    _wait(lambda: Campaign.objects.filter(pk=campaign.pk, state=CampaignState.COMPLETED).exists(), WAIT_DONE_SECONDS, every=1.0)
    campaign.refresh_from_db()

    received = control.sent_messages(app_id=account.app_id, api="template")
    per_delivery = Counter(str(m.get("client_msg_id")) for m in received)
    delivery_ids = {str(pk) for pk in Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True)}
    states = Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    lost = len(delivery_ids - set(per_delivery))
    duplicated = sum(n - 1 for n in per_delivery.values() if n > 1)
    requests = len(control.requests("message/template/send", app_id=account.app_id))
    resumes = []
    times = sorted(float(m["at"]) for m in received)
    for index, killed_at in enumerate(kills):
        # Kill 3: nothing could be sent before the rest fell due.
        since = max(killed_at, later_at.timestamp()) if moments[index] == "between slices" else killed_at
        after = [t for t in times if t > since + 0.5]
        if after:
            resumes.append(after[0] - since)
    result = DrillResult(
        name=f"2. kill -9 of the dispatch worker at 3 moments of a {RECIPIENTS:,}-recipient campaign",
        tried=f"{RECIPIENTS:,} template messages at {RATE_PER_SECOND}/s ({LATER} due {LATER_AFTER_SECONDS:.0f} s after the start), "
        f"kills: {', '.join(moments)}; campaign {campaign.state}, "
        f"deliveries {dict(states)}",
        lost=lost,
        duplicated=duplicated,
        recovery_seconds=resumes,
        goal=f"0 lost, 0 duplicated, sending resumes ≤ {GOAL_RESUME_SECONDS:.0f} s after each kill",
    )
    notes.append(
        f"the sandbox received {len(received):,} messages from {requests:,} send requests: {requests - len(received):,} "
        "re-sends de-duplicated by the delivery id (rows the dead worker had sent are mostly answered from the adapter's sent memo "
        "without a request)"
    )
    notes.append(
        "recovery = kill (kill 3: the later rows falling due) → first message the sandbox received from the new worker "
        "(worker start-up included)"
    )
    result.notes = notes
    result.passed = (
        lost == 0 and duplicated == 0 and len(resumes) == len(moments) and all(r <= GOAL_RESUME_SECONDS for r in resumes)
        and campaign.state == CampaignState.COMPLETED
    )
    return result
