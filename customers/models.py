"""Who the customers are: one profile per person, their channel identities, tags, consent,
preferences and the engagement event store. Imports nothing from the other apps."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from scrm.fields import EncryptedTextField


class Gender(models.IntegerChoices):
    UNKNOWN = 0, _("Unknown")
    MALE = 1, _("Male")
    FEMALE = 2, _("Female")


class Customer(models.Model):
    display_name = models.CharField(_("display name"), max_length=128, blank=True)
    avatar_url = models.URLField(_("avatar URL"), max_length=512, blank=True)
    gender = models.PositiveSmallIntegerField(_("gender"), choices=Gender.choices, default=Gender.UNKNOWN)
    city = models.CharField(_("city"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=64, blank=True)
    country = models.CharField(_("country"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    # IANA zone; empty means "the account's", see customers.selectors.customer_timezone.
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    # The channel (e.g. a QR code or "contact me" way) through which the customer first arrived.
    source = models.CharField(_("source"), max_length=128, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=dj_timezone.now)
    last_engaged_at = models.DateTimeField(_("last engaged"), null=True, blank=True, db_index=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [("view_personal_data", _("Can view customers' personal data unmasked"))]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"


class CustomerUnionId(models.Model):
    """One row per known unionid: the database guarantees one customer per person."""

    unionid = models.CharField(max_length=64, primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="unionids")
    created_at = models.DateTimeField(auto_now_add=True)


class IdentityKind(models.TextChoices):
    OA_OPENID = "oa_openid", _("Service-account openid")
    MP_OPENID = "mp_openid", _("Mini-program openid")
    WECOM_EXTERNAL = "wecom_external", _("WeCom external contact")


class FollowState(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    FOLLOWING = "following", _("Following")
    UNFOLLOWED = "unfollowed", _("Unfollowed")


class ChannelIdentity(models.Model):
    """A customer's id on one of the brand's channel accounts."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.PROTECT, related_name="identities")
    kind = models.CharField(max_length=20, choices=IdentityKind.choices)
    external_id = models.CharField(_("openid / external_userid"), max_length=128)
    unionid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    follow_state = models.CharField(max_length=12, choices=FollowState.choices, default=FollowState.UNKNOWN)
    followed_at = models.DateTimeField(null=True, blank=True)
    unfollowed_at = models.DateTimeField(null=True, blank=True)
    subscribe_scene = models.CharField(max_length=64, blank=True)
    # The user's last interaction, which opens the customer-service window (customers/services/cs_window.py):
    # its kind ("message": 48 h and 5 sends; "event", a follow, scan or menu click: 1 minute and 3 sends)
    # and the customer-service messages sent in it so far.
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    cs_window_kind = models.CharField(_("customer-service window kind"), max_length=8, blank=True, default="", db_default="")
    cs_window_sends = models.PositiveSmallIntegerField(_("customer-service messages sent in the window"), default=0, db_default=0)
    do_not_disturb = models.BooleanField(_("do not disturb"), default=False)
    # Set when WeChat reports "failed:user block" for a template message.
    refuses_template = models.BooleanField(default=False)
    # WeCom: the staff member (userid) who owns the relationship.
    owner_staff_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel identity")
        verbose_name_plural = _("channel identities")
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "external_id"], name="identity_unique_per_account"),
        ]
        indexes = [
            models.Index(fields=["customer", "account"]),
            models.Index(fields=["account", "follow_state"]),
            models.Index(fields=["external_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id}"


class TagGroup(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    group = models.ForeignKey(TagGroup, on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(_("name"), max_length=64)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["group__name", "name"]
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="tag_unique_name_in_group")]

    def __str__(self) -> str:
        return f"{self.group.name}/{self.name}"


class TagSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    RULE = "rule", _("Rule")
    IMPORT = "import", _("Import")
    WECHAT_SYNC = "wechat_sync", _("WeChat tag sync")
    WECOM_SYNC = "wecom_sync", _("WeCom corp tag sync")
    # Corp tags a staff member set on the customer in the WeCom client (edit_external_contact, sync).
    WECOM = "wecom", _("WeCom client")
    BEHAVIOUR = "behaviour", _("Behaviour")
    CHANNEL_CODE = "channel_code", _("Channel code")
    PREFERENCE = "preference", _("Preference centre")


class CustomerTag(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_links")
    source = models.CharField(max_length=16, choices=TagSource.choices, default=TagSource.MANUAL)
    assigned_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique")]
        # (tag, customer): segment conditions start from the tag index, not from customers.
        indexes = [models.Index(fields=["tag", "customer"])]


class CustomerMerge(models.Model):
    """Audit of a merge: the merged customer's row as it was, and what moved to the survivor."""

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged_customer_id = models.BigIntegerField()
    merged_snapshot = models.JSONField()
    moved = models.JSONField(default=dict)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-created_at"]


class ConsentCredit(models.Model):
    """Subscribe-message consent: each `accept` of a one-time template allows one send."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_credits")
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+")
    template_id = models.CharField(max_length=128)
    remaining = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "account", "template_id"], name="consent_unique"),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="consent_remaining_non_negative"),
        ]
        indexes = [models.Index(fields=["template_id", "customer"])]


class PushFrequency(models.TextChoices):
    ALL = "all", _("All pushes")
    WEEKLY_DIGEST = "weekly_digest", _("Weekly digest")
    IMPORTANT_ONLY = "important_only", _("Important only")


class CustomerPreference(models.Model):
    """The customer's own choices from the preference centre; the contact policy obeys them."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="preference")
    frequency = models.CharField(max_length=16, choices=PushFrequency.choices, default=PushFrequency.ALL)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class TopicSubscription(models.Model):
    """A customer's explicit choice on a topic (an interest tag): wanted, or opted out."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="topic_subscriptions")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    opted_in = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="topic_subscription_unique")]
        indexes = [models.Index(fields=["tag", "opted_in", "customer"])]


class EngagementEvent(models.Model):
    """The one event store: callbacks, tracked clicks, mini-program events, conversions, pushes.

    `event_type` is a dotted name (`wechat.subscribe`, `push.sent`, `link.click`, `mp.purchase`…);
    `dedupe_key` makes a retried ingestion store the event once.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    account = models.ForeignKey("accounts.ChannelAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_type = models.CharField(max_length=48)
    occurred_at = models.DateTimeField(default=dj_timezone.now)
    properties = models.JSONField(default=dict, blank=True)
    # Plain ids, not foreign keys: customers/ does not depend on campaigns/.
    campaign_id = models.BigIntegerField(null=True, blank=True)
    delivery_id = models.BigIntegerField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # With the type: "did this customer act in the window" (report lift, engagement) is an
            # index-only probe instead of a heap read per event (every push.sent lies in the window).
            models.Index(fields=["customer", "occurred_at", "event_type"], name="event_customer_time_type_idx"),
            models.Index(fields=["event_type", "occurred_at", "customer"]),
            models.Index(fields=["campaign_id", "event_type"], condition=Q(campaign_id__isnull=False), name="event_campaign_idx"),
        ]


class EngagementProfile(models.Model):
    """What engagement taught us about one customer; updated incrementally on the analytics queue."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="engagement")
    score = models.FloatField(default=0.0, db_index=True)
    score_updated_at = models.DateTimeField(null=True, blank=True)
    # 168 decayed activity weights, index = weekday * 24 + hour in the customer's time zone.
    hour_of_week = models.JSONField(default=list, blank=True)
    best_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    ignored_push_streak = models.PositiveIntegerField(default=0, db_index=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_click_at = models.DateTimeField(null=True, blank=True)
    topic_affinity = models.JSONField(default=dict, blank=True)
    # Decayed pushes and clicks per topic tag id (as of score_updated_at): a push not clicked is
    # evidence against the topic, so the click rate per topic can be estimated (engagement.prediction).
    topic_pushes = models.JSONField(default=dict, blank=True)
    topic_clicks = models.JSONField(default=dict, blank=True)
    # 24 decayed counts of the pushes sent to them by local hour (interest decay, like topic_pushes):
    # how likely their past pushes were read, so their clicks count per push they could have read.
    push_hours = models.JSONField(default=list, blank=True, db_default=[])
    updated_at = models.DateTimeField(auto_now=True)


class InboxMessage(models.Model):
    """An item of the mini-program message centre: an "inbox only" campaign, or a copy of a push."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="inbox_messages")
    title = models.CharField(max_length=128)
    body = models.TextField(blank=True)
    link_url = models.CharField(max_length=512, blank=True)
    mp_page = models.CharField(max_length=255, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    delivery_id = models.BigIntegerField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "campaign_id"], condition=Q(campaign_id__isnull=False), name="inbox_unique_per_campaign"
            )
        ]
        indexes = [models.Index(fields=["customer", "-created_at"])]


# Feature modules that define models of this app.
from customers.engagement.models import *  # noqa: E402,F403
from customers.privacy_models import *  # noqa: E402,F403
from customers.segments.models import *  # noqa: E402,F403
from customers.wecom.models import *  # noqa: E402,F403
