"""The error codes campaigns' APIs and services answer with (values are an API contract: never rename)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from scrm.errors import ErrorCatalogue


class CampaignError(ErrorCatalogue):
    INVALID_CAMPAIGN = "invalid_campaign", _("The campaign is not ready to schedule.")
    INVALID_TEMPLATE = "invalid_template", _("The template is invalid.")
    INVALID_POLICY = "invalid_policy", _("The contact-policy overrides are invalid.")
    SEGMENT_MISSING = "segment_missing", _("The campaign's segment does not exist.")
    NEEDS_POSTGRESQL = "needs_postgresql", _("Campaign planning needs PostgreSQL.")
    NO_TEST_IDENTITY = "no_test_identity", _("No identity of yours on this campaign's account: link one (Operator identities) first.")
    CAMPAIGN_NOT_EDITABLE = "campaign_not_editable", _("The campaign cannot be edited in its current state."), status.HTTP_409_CONFLICT
    CAMPAIGN_NOT_DELETABLE = "campaign_not_deletable", _("The campaign cannot be deleted in its current state; cancel it instead."), status.HTTP_409_CONFLICT
    CAMPAIGN_NOT_SCHEDULABLE = "campaign_not_schedulable", _("The campaign cannot be scheduled in its current state."), status.HTTP_409_CONFLICT
    CAMPAIGN_NOT_PENDING = "campaign_not_pending", _("Only a campaign pending approval can be approved."), status.HTTP_409_CONFLICT
    CAMPAIGN_NOT_PAUSABLE = "campaign_not_pausable", _("Only a scheduled or sending campaign can be paused."), status.HTTP_409_CONFLICT
    CAMPAIGN_NOT_PAUSED = "campaign_not_paused", _("Only a paused campaign can be resumed."), status.HTTP_409_CONFLICT
    CAMPAIGN_FINISHED = "campaign_finished", _("The campaign has already finished."), status.HTTP_409_CONFLICT
