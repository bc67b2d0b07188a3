"""Campaigns and their deliveries: the outbox of every push (one row per campaign and customer)."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageType(models.TextChoices):
    MASS = "mass", _("Service-account mass send")
    TEMPLATE = "template", _("Template message")
    CUSTOMER_SERVICE = "customer_service", _("Customer-service message")
    OA_SUBSCRIBE = "oa_subscribe", _("Service-account subscribe message")
    WECOM_GROUP = "wecom_group", _("WeCom group-message task")
    MP_SUBSCRIBE = "mp_subscribe", _("Mini-program subscribe message")
    INBOX = "inbox", _("Inbox only (mini-program message centre)")


class PriorityClass(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    MARKETING = "marketing", _("Marketing")


class CampaignState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Pending approval")
    SCHEDULED = "scheduled", _("Scheduled")
    PLANNING = "planning", _("Planning")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class WeComSenderRule(models.TextChoices):
    """Which staff member sends a WeCom group message to a customer who is the contact of several
    (docs/wecom.md, "Group messages: the sender")."""

    LAST_INTERACTION = "last_interaction", _("Most recent interaction (the staff member who last chatted with the customer)")
    OWNER = "owner", _("Owner (the staff member who added the customer first)")


class Campaign(models.Model):
    """A push to a segment: content, audience, schedule and the per-campaign policy overrides.

    A recurring campaign is a template: each run is a child campaign (`parent`) planned on its own,
    so a delivery stays unique per (campaign, customer).
    """

    name = models.CharField(_("name"), max_length=128)
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.PROTECT, related_name="campaigns")
    message_type = models.CharField(_("message type"), max_length=20, choices=MessageType.choices)
    priority_class = models.CharField(max_length=16, choices=PriorityClass.choices, default=PriorityClass.MARKETING)
    # Rendered per customer; shape depends on message_type (title, text, template_id + data, page…).
    content = models.JSONField(_("content"), default=dict)
    # The customers.Segment this campaign targets (a plain reference; see customers segments).
    segment_id = models.BigIntegerField(null=True, blank=True)
    topics = models.ManyToManyField("customers.Tag", blank=True, related_name="+")
    state = models.CharField(max_length=20, choices=CampaignState.choices, default=CampaignState.DRAFT, db_index=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(default=0)
    policy_overrides = models.JSONField(default=dict, blank=True)
    # Daily send window in the customer's local time (both empty = any time outside quiet hours).
    send_window_start = models.TimeField(_("send window start"), null=True, blank=True)
    send_window_end = models.TimeField(_("send window end"), null=True, blank=True)
    # Deliver at each customer's best hour inside the window (fallback: the audience's best hour).
    send_time_optimization = models.BooleanField(_("send-time optimisation"), default=False)
    # Precision targeting: keep customers whose predicted engagement is at least this, or the top N%.
    min_predicted_engagement = models.FloatField(null=True, blank=True)
    top_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # Steering by expected value: each customer gets the push when predicted click × click_value
    # outweighs the predicted disturbance, within their weekly attention budget (campaigns.budget).
    steer_by_expected_value = models.BooleanField(_("steer by expected value"), default=False)
    click_value = models.FloatField(_("value of a click"), default=1.0)
    # WeCom group messages: through which of a customer's staff members (WeComSenderRule).
    wecom_sender_rule = models.CharField(
        _("WeCom sender"), max_length=20, choices=WeComSenderRule.choices,
        default=WeComSenderRule.LAST_INTERACTION, db_default=WeComSenderRule.LAST_INTERACTION,
    )
    # Recurring: a crontab "m h dom mon dow" in the account's time zone; runs are child campaigns.
    recurrence = models.CharField(_("recurrence (crontab)"), max_length=64, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    audience_count = models.PositiveIntegerField(default=0)
    suppressed_count = models.PositiveIntegerField(default=0)
    planned_count = models.PositiveIntegerField(default=0)
    planned_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Dispatch liveness (campaigns/dispatch/liveness.py): a sending campaign whose pumps showed no life
    # by `pump_alive_until` is re-pumped by the watchdog, which bumps the generation so that a pump of
    # an older generation steps aside while a pump is alive. `pump_restarted_at`: when the current
    # generation was enqueued (its pumps may still be waiting in the queue; not a sign of life).
    pump_generation = models.PositiveIntegerField(_("pump generation"), default=0)
    pump_alive_until = models.DateTimeField(_("pump alive until"), null=True, blank=True)
    pump_restarted_at = models.DateTimeField(_("pump generation started at"), null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [("approve_campaign", _("Can approve campaigns over the audience threshold"))]
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=90), name="campaign_holdout_at_most_90"),
            models.CheckConstraint(
                condition=Q(top_percent__isnull=True) | Q(top_percent__gte=1, top_percent__lte=100),
                name="campaign_top_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignCounters(models.Model):
    """A campaign's funnel counts, kept as the facts are recorded (campaigns.counters), so reports read
    one row instead of counting deliveries. Each is changed in the transaction of the conditional state
    change it counts (a row still 'sending', a report for a row still 'sent', a first click), so a
    retried report or a duplicate click counts nothing. `refreshed_at`: last recount from the rows."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True, related_name="counters")
    sent = models.BigIntegerField(default=0)
    delivered = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    clicked = models.BigIntegerField(default=0)
    # Blocked by the user (template "user block", subscribe-message refusal 43101).
    mutes = models.BigIntegerField(default=0)
    # The first and last sends: the report's attribution window and its unfollow window.
    first_sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # Planning's left-out customers per reason (holdout included), written once when planning commits.
    suppressed_by_reason = models.JSONField(default=dict, blank=True)
    # The last time a WeChat quota put the campaign's sends off (campaigns/dispatch/quota.py): until when,
    # why (a SendErrorCode or WeChat's errcode), WeChat's words, and how many deliveries waited.
    deferred_until = models.DateTimeField(null=True, blank=True)
    deferred_reason = models.CharField(max_length=32, blank=True, default="", db_default="")
    deferred_detail = models.CharField(max_length=255, blank=True, default="", db_default="")
    deferred_count = models.BigIntegerField(default=0, db_default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # The lift's group sizes and converted / engaged counts (campaigns/reports/lift.py), when they were
    # counted, and after when a count is final (the attribution window closed, late events in).
    lift_counts = models.JSONField(default=dict, blank=True)
    lift_counted_at = models.DateTimeField(null=True, blank=True)
    lift_final_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class DeliveryState(models.TextChoices):
    PLANNED = "planned", _("Planned")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SUPPRESSED = "suppressed", _("Suppressed at send time")


class Delivery(models.Model):
    """One push to one customer. Its id is the idempotency key sent to WeChat (client_msg_id)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="deliveries")
    identity = models.ForeignKey("customers.ChannelIdentity", null=True, on_delete=models.SET_NULL, related_name="deliveries")
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=DeliveryState.choices, default=DeliveryState.PLANNED)
    send_after = models.DateTimeField(null=True, blank=True)
    # Counts toward the marketing frequency caps (the campaign's priority class at planning time).
    is_marketing = models.BooleanField(default=True)
    # Groups a list-API call (mass send, WeCom task): the call's idempotency key, kept across retries.
    batch_key = models.CharField(max_length=64, blank=True, default="")
    # A variant test's version for this customer (0 = A); variant_test_cell: in the test itself
    # rather than the rest that receives the winner (campaigns.variants).
    variant = models.PositiveSmallIntegerField(_("variant"), null=True, blank=True)
    variant_test_cell = models.BooleanField(_("in a test cell"), default=False, db_default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A claim is a lease: the live pump renews it every few seconds; once it has lapsed (the worker
    # died) the watchdog hands the row back to 'planned'.
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    msgid = models.CharField(max_length=64, blank=True, default="")
    error_code = models.CharField(max_length=32, blank=True, default="")
    error_message = models.CharField(max_length=255, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="delivery_unique_per_campaign")]
        indexes = [
            models.Index(fields=["campaign", "state"]),
            models.Index(fields=["customer", "sent_at"]),
            # The account's sends today (daily quota re-checked before each send).
            models.Index(fields=["account", "sent_at"], condition=Q(sent_at__isnull=False), name="delivery_account_sent_idx"),
            models.Index(fields=["account", "msgid"], condition=~Q(msgid=""), name="delivery_msgid_idx"),
            models.Index(fields=["campaign", "send_after"], condition=Q(state="planned"), name="delivery_ready_idx"),
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="delivery_sending_idx"),
        ]


class SuppressionReason(models.TextChoices):
    UNFOLLOWED = "unfollowed", _("Not following")
    NO_IDENTITY = "no_identity", _("No identity on the account")
    DO_NOT_DISTURB = "do_not_disturb", _("Do not disturb")
    TOPIC_OPT_OUT = "topic_opt_out", _("Opted out of the topic")
    FREQUENCY_DAY = "frequency_day", _("Daily cap reached")
    FREQUENCY_WEEK = "frequency_week", _("7-day cap reached")
    MIN_GAP = "min_gap", _("Too soon after the last push")
    FATIGUE = "fatigue", _("Ignored recent pushes (cooling down)")
    NO_CONSENT = "no_consent", _("No subscribe-message consent")
    OUTSIDE_CS_WINDOW = "outside_cs_window", _("Outside the 48-hour window")
    CS_QUOTA_USED = "cs_quota_used", _("Customer-service messages of the window used up")
    MASS_MONTHLY_LIMIT = "mass_monthly_limit", _("4 mass messages this month")
    ACCOUNT_QUOTA = "account_quota", _("Account daily quota")
    REFUSES_TEMPLATE = "refuses_template", _("Blocked template messages")
    PREFERENCE_FREQUENCY = "preference_frequency", _("Preference centre frequency")
    LOW_PREDICTED_ENGAGEMENT = "low_predicted_engagement", _("Below the targeting threshold")
    WECOM_NO_OWNER = "wecom_no_owner", _("No owning staff member")
    WECOM_GROUP_LIMIT = "wecom_group_limit", _("WeCom per-customer group-message limit")
    HOLDOUT = "holdout", _("Held out")
    ATTENTION_BUDGET = "attention_budget", _("Weekly attention budget used")
    BUDGET_RESERVED = "budget_reserved", _("Budget kept for a campaign worth more")
    LOW_EXPECTED_VALUE = "low_expected_value", _("Expected value below the disturbance cost")


class Suppression(models.Model):
    """A customer of the audience left out of a campaign, and why."""

    # Lookups by campaign (and the funnel's counts by reason) use the unique (campaign, customer)
    # index: planning records a reason for every left-out customer of a large audience, and each
    # further index would be written a million times for one campaign.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="suppressions", db_index=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=32, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="suppression_unique_per_campaign")]


class ContactPolicy(models.Model):
    """The global contact policy (one row, pk=1); campaigns override single keys in policy_overrides."""

    daily_cap = models.PositiveSmallIntegerField(_("marketing pushes per calendar day"), default=1)
    weekly_cap = models.PositiveSmallIntegerField(_("marketing pushes per rolling 7 days"), default=3)
    min_gap_hours = models.PositiveSmallIntegerField(_("minimum hours between two pushes"), default=0)
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True, default=time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True, default=time(8, 30))
    fatigue_ignored_pushes = models.PositiveSmallIntegerField(_("fatigue: ignored pushes in a row"), default=3)
    fatigue_cooldown_days = models.PositiveSmallIntegerField(_("fatigue: cool-down days"), default=7)
    approval_threshold = models.PositiveIntegerField(_("audience size needing approval"), default=50_000)
    dispatch_batch_size = models.PositiveIntegerField(default=500)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact policy")
        verbose_name_plural = _("contact policy")

    def __str__(self) -> str:
        return str(_("Global contact policy"))


class PendingDeliveryReport(models.Model):
    """A delivery report that arrived before its send was recorded (WeChat can answer that fast);
    applied as soon as dispatch records the msgid."""

    account_id = models.BigIntegerField()
    msgid = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    raw_status = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account_id", "msgid"], name="pending_report_unique")]


class CampaignBatchReport(models.Model):
    """WeChat's aggregate result of one list send (MASSSENDJOBFINISH), keyed like the batch's msgid.

    Campaign and batch key are filled when the batch's deliveries are already recorded; stats find
    the row by msgid either way (the report can overtake the recording of the send)."""

    account_id = models.BigIntegerField()
    msgid = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, default="mass_send")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="batch_reports")
    batch_key = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=64, blank=True, default="")
    total_count = models.PositiveIntegerField(default=0)
    filter_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    reported_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account_id", "msgid"], name="batch_report_unique")]


class OperatorIdentity(models.Model):
    """An operator's own WeChat identity: the only recipients of a campaign's test send."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    identity = models.ForeignKey("customers.ChannelIdentity", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "identity"], name="operator_identity_unique")]


# Feature modules that define models of this app.
from campaigns.groups.models import *  # noqa: E402,F403
from campaigns.tracking.models import *  # noqa: E402,F403
from campaigns.variants.models import *  # noqa: E402,F403
