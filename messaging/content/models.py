"""Materials, article drafts and published articles of a service account, and their daily statistics.

A material keeps its bytes here as well as on WeChat: the console shows previews from the product's
own host (the console loads nothing from another host), and a deleted-on-WeChat material can be
uploaded again.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = ["Article", "ArticleDailyStat", "ArticleState", "Material", "MaterialKind"]


class MaterialKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VOICE = "voice", _("Voice")
    VIDEO = "video", _("Video")
    THUMB = "thumb", _("Thumbnail")
    # media/uploadimg: an URL for images inside an article's body; it has no media_id.
    BODY_IMAGE = "body_image", _("Article body image")


class Material(models.Model):
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="materials")
    kind = models.CharField(_("kind"), max_length=16, choices=MaterialKind.choices)
    # Temporary media (media/upload) live 3 days on WeChat; permanent materials until deleted.
    permanent = models.BooleanField(_("permanent"), default=True)
    name = models.CharField(_("name"), max_length=255)
    media_id = models.CharField(_("media ID"), max_length=128, blank=True)
    url = models.CharField(_("WeChat URL"), max_length=512, blank=True)
    title = models.CharField(_("title"), max_length=64, blank=True)
    introduction = models.CharField(_("introduction"), max_length=255, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    data = models.BinaryField(editable=False, default=b"")
    uploaded_at = models.DateTimeField(_("uploaded at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    removed_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        ordering = ["-uploaded_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "media_id"], condition=~Q(media_id=""), name="material_unique_media_id"),
        ]

    def __str__(self) -> str:
        return self.name


class ArticleState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHING = "publishing", _("Publishing")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Publishing failed")


class Article(models.Model):
    """One draft (1–8 articles sent together) and, once published, its publish job and article id.

    `items` holds the articles as draft/add takes them: title, author, digest, content,
    content_source_url, thumb_media_id, need_open_comment, only_fans_can_comment."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="articles")
    items = models.JSONField(_("articles"), default=list)
    media_id = models.CharField(_("draft media ID"), max_length=128, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=ArticleState.choices, default=ArticleState.DRAFT)
    publish_id = models.CharField(_("publish job ID"), max_length=64, blank=True)
    publish_status = models.IntegerField(_("publish status"), null=True, blank=True)
    article_id = models.CharField(_("article ID"), max_length=128, blank=True)
    article_urls = models.JSONField(_("article URLs"), default=list, blank=True)
    fail_idx = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "media_id"], condition=~Q(media_id=""), name="article_unique_media_id"),
            models.UniqueConstraint(fields=["account", "publish_id"], condition=~Q(publish_id=""), name="article_unique_publish_id"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return (self.items[0].get("title") if self.items else "") or ""


class ArticleDailyStat(models.Model):
    """One article's numbers on one day as WeChat's data statistics report them (datacube
    getarticlesummary: the day's reads; getarticletotal: the totals since it was sent).

    `msgid` is WeChat's "msgid_index" of the send (e.g. "2247483650_1")."""

    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="+")
    msgid = models.CharField(max_length=64)
    title = models.CharField(max_length=128, blank=True)
    ref_date = models.DateField()
    read_users = models.PositiveIntegerField(default=0)
    read_count = models.PositiveIntegerField(default=0)
    share_users = models.PositiveIntegerField(default=0)
    share_count = models.PositiveIntegerField(default=0)
    favourite_users = models.PositiveIntegerField(default=0)
    favourite_count = models.PositiveIntegerField(default=0)
    target_users = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "msgid", "ref_date"], name="article_stat_unique_day")]
