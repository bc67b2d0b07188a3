"""The campaign page's buttons: schedule, approve, pause, resume, cancel, test send.

Each opens a confirmation page (GET) and acts on POST through campaigns.services; the admin records
every action as a LogEntry (ModelAdmin.log_change), which the audit log reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from campaigns import services
from campaigns.models import Campaign, CampaignState

S = CampaignState


@dataclass(frozen=True)
class CampaignAction:
    name: str
    label: str
    icon: str
    states: frozenset[str]
    # "change": operators who may edit campaigns; "approve": publishers (campaigns.approve_campaign).
    permission: str
    question: str
    variant: str = "default"


ACTIONS: dict[str, CampaignAction] = {
    a.name: a
    for a in (
        CampaignAction("schedule", _("Schedule sending"), "schedule_send", frozenset({S.DRAFT}), "change",
                       _("Schedule this campaign? It is validated, then sent at its time (or now)."), "primary"),
        CampaignAction("approve", _("Approve"), "verified", frozenset({S.PENDING_APPROVAL}), "approve",
                       _("Approve this campaign? It is released to its schedule."), "primary"),
        CampaignAction("pause", _("Pause"), "pause", frozenset({S.SCHEDULED, S.PLANNING, S.SENDING}), "change",
                       _("Pause this campaign? Sending stops within a second; you can resume later.")),
        CampaignAction("resume", _("Resume"), "play_arrow", frozenset({S.PAUSED}), "change",
                       _("Resume this campaign where it stopped?"), "primary"),
        CampaignAction("cancel", _("Cancel campaign"), "cancel",
                       frozenset({S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.PLANNING, S.SENDING, S.PAUSED}), "change",
                       _("Cancel this campaign for good? Pushes not yet sent are dropped; this cannot be undone."), "danger"),
        CampaignAction("test_send", _("Test send"), "send", frozenset(set(S.values) - {S.CANCELLED}), "change",
                       _("Send this campaign to your own WeChat identities on its account? No caps, no delivery records.")),
    )
}

LOG_MESSAGES = {
    "schedule": "Scheduled",
    "approve": "Approved",
    "pause": "Paused",
    "resume": "Resumed",
    "cancel": "Cancelled",
    "test_send": "Test send",
}


def action_allowed(action: CampaignAction, *, campaign: Campaign, user, can_change: bool) -> bool:
    if campaign.state not in action.states:
        return False
    if action.permission == "approve":
        return user.has_perm("campaigns.approve_campaign")
    return can_change


def action_run(name: str, *, campaign: Campaign, user, identity_id: int | None = None):
    """Call the service behind a button; ApplicationError propagates to the view."""
    runners: dict[str, Callable[[], object]] = {
        "schedule": lambda: services.campaign_schedule(campaign=campaign, user=user),
        "approve": lambda: services.campaign_approve(campaign=campaign, user=user),
        "pause": lambda: services.campaign_pause(campaign=campaign),
        "resume": lambda: services.campaign_resume(campaign=campaign),
        "cancel": lambda: services.campaign_cancel(campaign=campaign),
        "test_send": lambda: services.campaign_test_send(campaign=campaign, user=user, identity_id=identity_id),
    }
    return runners[name]()
