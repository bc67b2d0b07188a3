"""Tracked links: one row per (campaign, original URL); the per-delivery part lives in the token."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackedLink(models.Model):
    """An original URL of a campaign. Clicks redirect only to `url`, never to anything in the request."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.CASCADE, related_name="tracked_links"
    )
    url = models.TextField(_("original URL"))
    url_hash = models.CharField(max_length=64, editable=False)
    # Clicks on a link rendered without a delivery (e.g. one mass message for everyone): no customer.
    anonymous_clicks = models.PositiveIntegerField(default=0)
    # Fetches by link-preview bots and crawlers: counted apart so operators can see them.
    bot_fetches = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "url_hash"], name="tracked_link_unique_per_campaign", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return self.url[:80]
