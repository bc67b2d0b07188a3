"""Models of this feature; imported by the app's models.py so Django registers them.

ChannelCode: a parametric QR code or a WeCom "contact me" way, bound to product tags.
TagMirror: which WeChat tag / WeCom corp tag stands for which product tag on an account.
SyncJob: a resumable import (followers, external contacts) or tag push, with its cursor and progress.
MediaFile / WeComMedia: a file sent as a WeCom attachment, and what each corp's WeCom gave for it
(a temporary media_id with its upload time, or a lasting image URL) — see wecom_media.py.
WelcomeMessage: one WeCom welcome message per welcome code, with its outcome (see welcome.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = [
    "ChannelCode",
    "ChannelCodeKind",
    "HandoverItemState",
    "HandoverKind",
    "MediaFile",
    "MediaKind",
    "MediaPurpose",
    "SyncJob",
    "SyncJobKind",
    "SyncJobState",
    "TagMirror",
    "WeComHandover",
    "WeComHandoverItem",
    "WeComMedia",
    "WelcomeMessage",
    "WelcomeState",
]


class ChannelCodeKind(models.TextChoices):
    QR = "qr", _("Service-account parametric QR code")
    CONTACT_WAY = "contact_way", _("WeCom contact-me way")


class ChannelCode(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="channel_codes")
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelCodeKind.choices)
    name = models.CharField(_("name"), max_length=128)
    # QR: scene_str (≤64, arrives as EventKey); contact way: state (≤30, arrives as State).
    scene = models.CharField(_("scene / state"), max_length=64)
    tags = models.ManyToManyField("customers.Tag", blank=True, related_name="+")
    welcome_text = models.TextField(_("welcome message"), blank=True)
    # WeCom: up to 9 attachments sent with the welcome message, as wecom_media.attachments_validate
    # accepts them ({"msgtype": "image", "media_file": id}, {"msgtype": "link", "title", "url", …}).
    welcome_attachments = models.JSONField(_("welcome attachments"), default=list, blank=True)
    # What WeChat answered: QR ticket and URL; contact way config id and QR image URL.
    ticket = models.CharField(max_length=255, blank=True)
    url = models.CharField(max_length=512, blank=True)
    config_id = models.CharField(max_length=128, blank=True)
    # WeCom: the staff members (userids) the contact way adds customers to.
    staff_userids = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("channel code")
        verbose_name_plural = _("channel codes")
        constraints = [models.UniqueConstraint(fields=["account", "scene"], name="channel_code_unique_scene")]

    def __str__(self) -> str:
        return f"{self.name} ({self.scene})"


class TagMirror(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="tag_mirrors")
    tag = models.ForeignKey("customers.Tag", on_delete=models.CASCADE, related_name="+")
    # WeChat tag id (as text) or WeCom corp tag id.
    remote_id = models.CharField(max_length=64)
    remote_name = models.CharField(max_length=64, blank=True)
    remote_group_id = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "tag"], name="tag_mirror_unique_tag"),
            models.UniqueConstraint(fields=["account", "remote_id"], name="tag_mirror_unique_remote"),
        ]


class SyncJobKind(models.TextChoices):
    OA_FOLLOWERS = "oa_followers", _("Import service-account followers")
    WECOM_CONTACTS = "wecom_contacts", _("Import WeCom external contacts")
    TAGS_PUSH = "tags_push", _("Push product tags to WeChat / WeCom")


class SyncJobState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    # Stopped by a temporary error; the next run continues from the cursor.
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class SyncJob(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="sync_jobs")
    kind = models.CharField(max_length=20, choices=SyncJobKind.choices)
    state = models.CharField(max_length=12, choices=SyncJobState.choices, default=SyncJobState.PENDING, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    # Where to continue: e.g. {"next_openid": …} or {"staff_index": …}.
    cursor = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # A worker owns the job until then; another run starts only after it lapsed.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sync job")
        verbose_name_plural = _("sync jobs")
        ordering = ["-created_at"]
        constraints = [
            # One unfinished import of a kind per account: a second start returns the first.
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(state__in=["pending", "running", "paused"]),
                name="sync_job_one_open_per_kind",
            )
        ]


class MediaKind(models.TextChoices):
    # WeCom's temporary media types (上传临时素材, https://developer.work.weixin.qq.com/document/path/90253).
    IMAGE = "image", _("Image")
    VOICE = "voice", _("Voice")
    VIDEO = "video", _("Video")
    FILE = "file", _("File")


class MediaFile(models.Model):
    """A file sent as a WeCom attachment. Its bytes are kept in the database so that any worker on any
    host can upload it again when WeCom's copy has expired."""

    name = models.CharField(_("file name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=8, choices=MediaKind.choices)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("media file")
        verbose_name_plural = _("media files")

    def __str__(self) -> str:
        return self.name


class MediaPurpose(models.TextChoices):
    TEMPORARY = "temporary", _("Temporary media (media_id, 3 days)")
    IMAGE_URL = "image_url", _("Image URL (lasting)")
    # media/upload_attachment with attachment_type=1 (上传附件资源, page 95098): what add_moment_task takes.
    MOMENT = "moment", _("Moment attachment (media_id, 3 days)")


class WeComMedia(models.Model):
    """What one corp's WeCom gave for a media file: a media_id and when WeCom created it (valid 3 days),
    or a lasting image URL from media/uploadimg."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+")
    media_file = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="uploads")
    purpose = models.CharField(max_length=12, choices=MediaPurpose.choices)
    media_id = models.CharField(max_length=256, blank=True)
    url = models.CharField(max_length=1024, blank=True)
    # WeCom's `created_at` of the upload: the 3-day life counts from it.
    uploaded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "media_file", "purpose"], name="wecom_media_unique_upload")
        ]


class WelcomeState(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # The welcome code was used or had expired (WeCom 41051), or the 20 s had passed: never retried.
    EXPIRED = "expired", _("Expired or used")
    FAILED = "failed", _("Failed")


class WelcomeMessage(models.Model):
    """The welcome message answering one add_external_contact event: one row per welcome code, made
    before WeCom is called (the code works once), holding the outcome."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    welcome_code = models.CharField(max_length=256)
    inbound = models.ForeignKey(
        "messaging.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("inbound message")
    )
    channel_code = models.ForeignKey(
        ChannelCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="welcomes", verbose_name=_("channel code")
    )
    staff_userid = models.CharField(_("staff member"), max_length=64, blank=True)
    external_userid = models.CharField(_("external contact"), max_length=128, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=WelcomeState.choices, default=WelcomeState.SENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_message = models.CharField(_("error message"), max_length=255, blank=True)
    # When the callback arrived: WeCom's 20 seconds count from the event.
    event_received_at = models.DateTimeField(_("event received at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("welcome message")
        verbose_name_plural = _("welcome messages")
        constraints = [models.UniqueConstraint(fields=["account", "welcome_code"], name="welcome_message_unique_code")]


class HandoverKind(models.TextChoices):
    ON_JOB = "on_job", _("Hand-over of a serving staff member (在职继承)")
    RESIGNED = "resigned", _("Hand-over of a departed staff member (离职继承)")


class WeComHandover(models.Model):
    """An operator's hand-over of customers from one staff member to another: the outbox of the
    transfer calls (one item per customer) and their results as WeCom reports them."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=12, choices=HandoverKind.choices)
    handover_userid = models.CharField(_("from staff member"), max_length=64)
    takeover_userid = models.CharField(_("to staff member"), max_length=64)
    transfer_message = models.CharField(_("message to the customer"), max_length=200, blank=True)
    # open: items wait to be submitted or for WeCom's result; finished: every item is decided.
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeCom hand-over")
        verbose_name_plural = _("WeCom hand-overs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.handover_userid} → {self.takeover_userid}"


class HandoverItemState(models.TextChoices):
    PENDING = "pending", _("Not submitted yet")
    WAITING = "waiting", _("Waiting for the customer (24 h)")
    DONE = "done", _("Handed over")
    REFUSED_BY_WECOM = "refused", _("Refused by WeCom")
    CUSTOMER_REFUSED = "customer_refused", _("Refused by the customer")
    LIMIT_EXCEEDED = "limit_exceeded", _("Takeover staff member at their customer limit")


class WeComHandoverItem(models.Model):
    handover = models.ForeignKey(WeComHandover, on_delete=models.CASCADE, related_name="items")
    external_userid = models.CharField(_("external_userid"), max_length=128)
    state = models.CharField(_("state"), max_length=20, choices=HandoverItemState.choices, default=HandoverItemState.PENDING)
    errcode = models.IntegerField(_("WeCom errcode"), null=True, blank=True)
    takeover_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["handover", "external_userid"], name="handover_item_unique")]
        indexes = [models.Index(fields=["external_userid", "state"], name="handover_item_customer_idx")]


class GroupWelcomeTemplate(models.Model):
    """A group welcome template (入群欢迎语素材) in the corp's WeCom library: the text (with
    `%NICKNAME%`) and at most one attachment, as the product's attachment spec (wecom_media). Written
    through messaging.channels.group_welcome, which keeps WeCom's copy (`template_id`) the same."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account"))
    name = models.CharField(_("name"), max_length=128)
    text = models.TextField(_("text"), blank=True)
    attachment = models.JSONField(_("attachment"), null=True, blank=True)
    notify = models.BooleanField(_("notify staff members"), default=True)
    template_id = models.CharField(_("WeCom template id"), max_length=128, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("group welcome template")
        verbose_name_plural = _("group welcome templates")
        constraints = [
            models.UniqueConstraint(fields=["account", "template_id"], condition=~Q(template_id=""), name="group_welcome_unique_template")
        ]

    def __str__(self) -> str:
        return self.name
