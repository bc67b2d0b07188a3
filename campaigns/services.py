"""Campaign writes: create/update, schedule, approve, plan, pause/resume/cancel, test send, recurring runs."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.dispatch import Claimed, load_recipients
from campaigns.errors import CampaignError
from campaigns.groups.audience import group_audience_of, group_audience_size
from campaigns.groups.plan import group_campaign_preview, group_campaign_start
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState, OperatorIdentity
from campaigns.planning import PlanResult, campaign_plan_audience, planning_available, planning_require_postgresql
from campaigns.policy import effective_policy, policy_overrides_clean
from campaigns.rendering import MessageRenderer
from campaigns.selectors import funnel_order
from campaigns.validation import campaign_validate
from customers.segments.models import Segment
from customers.segments.selectors import segment_customer_queryset
from customers.segments.services import segment_snapshot_create
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.oa import MASS_PREVIEW
from messaging.errors import SendErrorCode
from scrm.errors import ApplicationError, CommonError, Conflict

logger = logging.getLogger(__name__)

EDITABLE_STATES = {CampaignState.DRAFT, CampaignState.PENDING_APPROVAL}
RECURRING_TASK = "campaigns.tasks.campaign_run_recurring_task"


def _enqueue(task_path: str, args: list[Any], **options: Any) -> None:
    def send() -> None:
        from campaigns import tasks  # the tasks module imports this one

        getattr(tasks, task_path).apply_async(args=args, **options)

    transaction.on_commit(send)


# --- CRUD --------------------------------------------------------------------------------------


CAMPAIGN_FIELDS = {
    "name", "account", "message_type", "priority_class", "content", "segment_id", "scheduled_at", "holdout_percent",
    "policy_overrides", "send_window_start", "send_window_end", "send_time_optimization", "min_predicted_engagement",
    "top_percent", "recurrence", "steer_by_expected_value", "click_value", "wecom_sender_rule",
}


@transaction.atomic
def campaign_create(*, data: dict[str, Any], user=None) -> Campaign:
    """Create a draft campaign."""
    topics = data.pop("topics", None)
    if "policy_overrides" in data:
        data["policy_overrides"] = policy_overrides_clean(data["policy_overrides"] or {})
    campaign = Campaign.objects.create(created_by=user, **{k: v for k, v in data.items() if k in CAMPAIGN_FIELDS})
    if topics is not None:
        campaign.topics.set(topics)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Edit a campaign that is not yet scheduled; an edit withdraws a pending approval."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in EDITABLE_STATES:
        raise Conflict(
            gettext("A campaign in state “%(state)s” cannot be edited.") % {"state": campaign.get_state_display()},
            code=CampaignError.CAMPAIGN_NOT_EDITABLE,
        )
    topics = data.pop("topics", None)
    if "policy_overrides" in data:
        data["policy_overrides"] = policy_overrides_clean(data["policy_overrides"] or {})
    for key, value in data.items():
        if key in CAMPAIGN_FIELDS:
            setattr(campaign, key, value)
    campaign.state = CampaignState.DRAFT
    campaign.approved_by = None
    campaign.approved_at = None
    campaign.save()
    if topics is not None:
        campaign.topics.set(topics)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign that never sent (draft, pending approval or cancelled before planning)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in EDITABLE_STATES and not (campaign.state == CampaignState.CANCELLED and not campaign.planned_at):
        raise Conflict(
            gettext("A campaign in state “%(state)s” cannot be deleted; cancel it instead.") % {"state": campaign.get_state_display()},
            code=CampaignError.CAMPAIGN_NOT_DELETABLE,
        )
    if campaign.periodic_task_id:
        campaign.periodic_task.delete()
    campaign.delete()


# --- audience ------------------------------------------------------------------------------------


def _segment(campaign: Campaign):
    segment = Segment.objects.filter(pk=campaign.segment_id).first()
    if segment is None:
        raise ApplicationError(code=CampaignError.SEGMENT_MISSING, detail={"segment_id": campaign.segment_id})
    return segment


def campaign_audience_size(*, campaign: Campaign) -> int:
    if group_audience_of(campaign) is not None:
        return group_audience_size(campaign)  # the groups' external members
    return segment_customer_queryset(_segment(campaign)).count()


class _Rollback(Exception):
    pass


def campaign_preview(*, campaign: Campaign) -> dict[str, Any]:
    """The suppression funnel and predicted reach, by planning inside a transaction that is rolled back."""
    planning_require_postgresql()
    campaign_validate(campaign=campaign)
    if group_audience_of(campaign) is not None:
        return group_campaign_preview(campaign=campaign)
    holder: dict[str, PlanResult] = {}
    try:
        with transaction.atomic():
            snapshot = segment_snapshot_create(segment=_segment(campaign))
            holder["result"] = campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
            raise _Rollback
    except _Rollback:
        pass
    result = holder["result"]

    return {
        "audience": result.audience,
        "suppressed": [{"reason": r, "count": result.suppressed.get(r, 0)} for r in funnel_order() if result.suppressed.get(r)],
        "held_out": result.suppressed.get("holdout", 0),
        "predicted_reach": result.planned,
    }


# --- lifecycle -----------------------------------------------------------------------------------


def _needs_approval(campaign: Campaign) -> bool:
    if campaign.approved_by_id:
        return False
    threshold = effective_policy(campaign).approval_threshold
    return campaign_audience_size(campaign=campaign) > threshold


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, user=None, at: datetime | None = None) -> Campaign:
    """Validate and schedule (now, at a time, or recurring); large audiences wait for approval."""
    campaign = Campaign.objects.select_for_update().select_related("account").get(pk=campaign.pk)
    if campaign.state not in (CampaignState.DRAFT, CampaignState.PENDING_APPROVAL):
        raise Conflict(
            gettext("A campaign in state “%(state)s” cannot be scheduled.") % {"state": campaign.get_state_display()},
            code=CampaignError.CAMPAIGN_NOT_SCHEDULABLE,
        )
    # Refuse now rather than accept a campaign that could never be planned.
    planning_require_postgresql()
    if at is not None:
        campaign.scheduled_at = at
    campaign_validate(campaign=campaign)
    if _needs_approval(campaign):
        campaign.state = CampaignState.PENDING_APPROVAL
        campaign.save(update_fields=["state", "scheduled_at", "updated_at"])
        return campaign
    return _campaign_make_scheduled(campaign)


def _campaign_make_scheduled(campaign: Campaign) -> Campaign:
    campaign.state = CampaignState.SCHEDULED
    if campaign.recurrence:
        campaign.periodic_task = _periodic_task_for(campaign)
        campaign.save(update_fields=["state", "scheduled_at", "periodic_task", "updated_at"])
        return campaign
    campaign.scheduled_at = campaign.scheduled_at or timezone.now()
    campaign.save(update_fields=["state", "scheduled_at", "updated_at"])
    _enqueue("campaign_plan_task", [campaign.pk], eta=max(campaign.scheduled_at, timezone.now()))
    return campaign


def _periodic_task_for(campaign: Campaign):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    minute, hour, day_of_month, month_of_year, day_of_week = campaign.recurrence.split()
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week,
        timezone=campaign.account.timezone,
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"campaign-{campaign.pk}",
        defaults={"task": RECURRING_TASK, "crontab": schedule, "args": json.dumps([campaign.pk]), "enabled": True,
                  "queue": "planning"},
    )
    return task


@transaction.atomic
def campaign_approve(*, campaign: Campaign, user) -> Campaign:
    """A user with campaigns.approve_campaign releases a large campaign to its schedule."""
    if not user.has_perm("campaigns.approve_campaign"):
        raise ApplicationError(gettext("You may not approve campaigns."), code=CommonError.PERMISSION_DENIED)
    planning_require_postgresql()
    campaign = Campaign.objects.select_for_update().select_related("account").get(pk=campaign.pk)
    if campaign.state != CampaignState.PENDING_APPROVAL:
        raise Conflict(code=CampaignError.CAMPAIGN_NOT_PENDING)
    campaign.approved_by = user
    campaign.approved_at = timezone.now()
    campaign.save(update_fields=["approved_by", "approved_at", "updated_at"])
    return _campaign_make_scheduled(campaign)


def campaign_plan(*, campaign_id: int) -> PlanResult | None:
    """scheduled → planning → sending: snapshot the segment, apply the policy, create deliveries."""

    with transaction.atomic():
        # The row lock makes a concurrent (duplicated) plan task wait, then find the state moved on.
        campaign = Campaign.objects.select_for_update().select_related("account").filter(pk=campaign_id).first()
        if campaign is None or campaign.state != CampaignState.SCHEDULED or campaign.recurrence:
            return None
        if campaign.scheduled_at and campaign.scheduled_at > timezone.now():
            return None
        campaign.state = CampaignState.PLANNING
        campaign.save(update_fields=["state", "updated_at"])
        if group_audience_of(campaign) is not None:
            return group_campaign_start(campaign=campaign)  # one row per group, then the owners' tasks
        snapshot = segment_snapshot_create(segment=_segment(campaign))
        result = campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
        campaign.audience_count = result.audience + campaign.audience_count
        campaign.suppressed_count = campaign.suppressions.count()
        campaign.planned_count = campaign.deliveries.count()
        campaign.planned_at = timezone.now()
        campaign.sending_started_at = campaign.sending_started_at or timezone.now()
        campaign.state = CampaignState.SENDING
        campaign.save()
        _enqueue_pumps(campaign.pk)
    return result


def _enqueue_pumps(campaign_id: int) -> None:
    """Start a new generation of pumps; the watchdog gives them a grace to leave the queue (a pump of an
    older generation still queued steps aside once these run: campaigns/dispatch/liveness.py)."""
    from django.conf import settings

    Campaign.objects.filter(pk=campaign_id).update(pump_generation=F("pump_generation") + 1, pump_restarted_at=timezone.now())
    generation = Campaign.objects.filter(pk=campaign_id).values_list("pump_generation", flat=True).get()
    for _ in range(settings.CAMPAIGN_DISPATCH_CONCURRENCY):
        _enqueue("dispatch_campaign_task", [campaign_id, generation])


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop sending; workers notice within a second and hand their unsent rows back."""
    updated = Campaign.objects.filter(pk=campaign.pk, state__in=[CampaignState.SENDING, CampaignState.SCHEDULED, CampaignState.PLANNING]).update(
        state=CampaignState.PAUSED, updated_at=timezone.now()
    )
    if not updated:
        raise Conflict(code=CampaignError.CAMPAIGN_NOT_PAUSABLE)
    campaign.refresh_from_db()
    if campaign.periodic_task_id:
        campaign.periodic_task.enabled = False
        campaign.periodic_task.save(update_fields=["enabled"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    """Continue a paused campaign where it stopped."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state != CampaignState.PAUSED:
        raise Conflict(code=CampaignError.CAMPAIGN_NOT_PAUSED)
    if campaign.recurrence or not campaign.planned_at:
        campaign.state = CampaignState.SCHEDULED
        campaign.save(update_fields=["state", "updated_at"])
        if campaign.periodic_task_id:
            campaign.periodic_task.enabled = True
            campaign.periodic_task.save(update_fields=["enabled"])
        else:
            _enqueue("campaign_plan_task", [campaign.pk], eta=max(campaign.scheduled_at or timezone.now(), timezone.now()))
        return campaign
    campaign.state = CampaignState.SENDING
    campaign.save(update_fields=["state", "updated_at"])
    _enqueue("group_campaign_send_task", [campaign.pk]) if group_audience_of(campaign) is not None else _enqueue_pumps(campaign.pk)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: planned deliveries are cancelled; rows in flight finish or are cancelled by their worker."""
    updated = Campaign.objects.filter(pk=campaign.pk).exclude(state__in=[CampaignState.COMPLETED, CampaignState.CANCELLED]).update(
        state=CampaignState.CANCELLED, updated_at=timezone.now()
    )
    if not updated:
        raise Conflict(code=CampaignError.CAMPAIGN_FINISHED)
    Delivery.objects.filter(campaign_id=campaign.pk, state=DeliveryState.PLANNED).update(state=DeliveryState.CANCELLED, updated_at=timezone.now())
    campaign.refresh_from_db()
    if campaign.periodic_task_id:
        campaign.periodic_task.enabled = False
        campaign.periodic_task.save(update_fields=["enabled"])
    return campaign


def campaign_run_recurring(*, campaign_id: int) -> Campaign | None:
    """One run of a recurring campaign: a child campaign, planned now (approval is the template's)."""
    with transaction.atomic():
        template = Campaign.objects.select_for_update().select_related("account").filter(pk=campaign_id).first()
        if template is None or template.state != CampaignState.SCHEDULED or not template.recurrence:
            return None
        child = Campaign.objects.create(
            name=f"{template.name} · {timezone.now():%Y-%m-%d %H:%M}",
            account=template.account,
            message_type=template.message_type,
            priority_class=template.priority_class,
            content=template.content,
            segment_id=template.segment_id,
            holdout_percent=template.holdout_percent,
            policy_overrides=template.policy_overrides,
            send_window_start=template.send_window_start,
            send_window_end=template.send_window_end,
            send_time_optimization=template.send_time_optimization,
            min_predicted_engagement=template.min_predicted_engagement,
            top_percent=template.top_percent,
            parent=template,
            created_by=template.created_by,
            approved_by=template.approved_by,
            approved_at=template.approved_at,
            state=CampaignState.SCHEDULED,
            scheduled_at=timezone.now(),
        )
        child.topics.set(template.topics.all())
    campaign_plan(campaign_id=child.pk)
    child.refresh_from_db()
    return child


def campaign_test_send(*, campaign: Campaign, user, identity_id: int | None = None) -> list[dict[str, Any]]:
    """Render and send the campaign to the operator's own identities (no delivery, no caps)."""
    campaign_validate(campaign=campaign)
    links = OperatorIdentity.objects.filter(user=user, identity__account_id=campaign.account_id).select_related("identity__customer")
    if identity_id is not None:
        links = links.filter(identity_id=identity_id)
    links = list(links)
    if not links:
        raise ApplicationError(code=CampaignError.NO_TEST_IDENTITY)
    adapter = get_adapter(campaign.account)
    renderer = MessageRenderer(campaign)
    results = []
    for link in links:
        identity = link.identity
        key = f"test-{campaign.pk}-{uuid.uuid4().hex[:12]}"
        row = Claimed(id=0, customer_id=identity.customer_id, identity_id=identity.pk, batch_key=key, attempts=0,
                      external_id=identity.external_id, owner_staff_id=identity.owner_staff_id, customer=identity.customer)
        load_recipients([row], sender_rule=campaign.wecom_sender_rule)
        if campaign.message_type == "mass":
            # message/mass/preview: the operator sees the real message, outside the 4 a month.
            message = OutboundMessage(message_type=MASS_PREVIEW, payload=renderer.batch_payload(), idempotency_key=key)
            outcome = adapter.send(Recipient(key=key, external_id=identity.external_id), message)
        elif campaign.message_type == "wecom_group":
            message = OutboundMessage(message_type=campaign.message_type, payload=renderer.batch_payload(staff=row.owner_staff_id), idempotency_key=key)
            outcome = adapter.send_batch([Recipient(key=key, external_id=identity.external_id)], message).get(key)
        elif campaign.message_type == "inbox":
            results.append({"identity_id": identity.pk, "status": "skipped", "error_code": SendErrorCode.INBOX_HAS_NO_PUSH})
            continue
        else:
            message = OutboundMessage(message_type=campaign.message_type, payload=renderer.payload(row), idempotency_key=key)
            outcome = adapter.send(Recipient(key=key, external_id=identity.external_id), message)
        results.append(
            {"identity_id": identity.pk, "status": getattr(outcome, "status", "permanent"), "msgid": getattr(outcome, "msgid", ""),
             "error_code": getattr(outcome, "error_code", SendErrorCode.MISSING_OUTCOME)}
        )
    return results


def campaign_due_plan() -> list[int]:
    """Campaigns whose time has come but whose ETA task was lost: plan them now (beat, every minute)."""
    if not planning_available():
        # The embedded SQLite refuses scheduling, so nothing is due; beat must not fail every minute.
        return []
    ids = list(
        Campaign.objects.filter(state=CampaignState.SCHEDULED, recurrence="", scheduled_at__lte=timezone.now()).values_list("pk", flat=True)[:100]
    )
    for campaign_id in ids:
        campaign_plan(campaign_id=campaign_id)
    return ids
