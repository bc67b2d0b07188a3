"""A campaign's article statistics: the reads, shares and favourites WeChat reports for the
articles it sent (mpnews, including its variants), from the day of its first send on.

datacube names an article by the send's "<msg_data_id>_<index>", which a mass send's answer does
not tie to the campaign's deliveries; the account's articles are matched by title instead (a title
is unique among an account's recent drafts in practice; two drafts with the same title add up)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Sum

from campaigns.models import Campaign
from campaigns.rendering import variant_content
from customers.engagement.article_signals import topic_reads_record
from messaging.content.models import Article, ArticleDailyStat

FIELDS = ("read_users", "read_count", "share_users", "share_count", "favourite_users", "favourite_count")


def campaign_media_ids(campaign: Campaign) -> list[str]:
    content = campaign.content or {}
    ids = [content.get("media_id")] + [v.get("media_id") for v in content.get("variants") or []]
    return [i for i in dict.fromkeys(ids) if i]


def variant_article_reads(campaign: Campaign, variant_count: int) -> list[int] | None:
    """Readers per variant of an mpnews variant test (datacube's int_page_read_user, summed over the
    days since the campaign's first send), or None when reads cannot be told apart per variant: not
    mpnews, two variants naming the same article or the same title, or no statistics stored yet
    (datacube reports a day once it is over, so a test decided within its first day has none)."""
    content = campaign.content or {}
    if content.get("msgtype") != "mpnews":
        return None
    media_ids = [variant_content(content, v).get("media_id") or "" for v in range(variant_count)]
    if not all(media_ids) or len(set(media_ids)) != variant_count:
        return None
    articles = {a.media_id: [i.get("title", "") for i in a.items if i.get("title")]
                for a in Article.objects.filter(account_id=campaign.account_id, media_id__in=media_ids)}
    titles = [articles.get(m) or [] for m in media_ids]
    flat = [t for ts in titles for t in ts]
    if not all(titles) or len(flat) != len(set(flat)):
        return None
    rows = ArticleDailyStat.objects.filter(account_id=campaign.account_id, title__in=flat)
    counters = getattr(campaign, "counters", None)
    if counters is not None and counters.first_sent_at:
        rows = rows.filter(ref_date__gte=counters.first_sent_at.date())
    by_title = dict(rows.values("title").annotate(n=Sum("read_users")).values_list("title", "n"))
    if not by_title:
        return None
    return [sum(by_title.get(t) or 0 for t in ts) for ts in titles]


def campaign_article_stats(campaign: Campaign) -> dict[str, Any] | None:
    """Totals per article title (and overall) since the first send; None for non-article campaigns."""
    if (campaign.content or {}).get("msgtype") != "mpnews":
        return None
    titles = [item.get("title", "") for a in Article.objects.filter(account_id=campaign.account_id, media_id__in=campaign_media_ids(campaign))
              for item in a.items]
    rows = ArticleDailyStat.objects.filter(account_id=campaign.account_id, title__in=[t for t in titles if t])
    counters = getattr(campaign, "counters", None)
    if counters is not None and counters.first_sent_at:
        rows = rows.filter(ref_date__gte=counters.first_sent_at.date())
    per_title = list(rows.values("title").annotate(**{f: Sum(f) for f in FIELDS}).order_by("title"))
    total = {f: sum(r[f] or 0 for r in per_title) for f in FIELDS}
    return {"articles": per_title, "total": total, "days": rows.values("ref_date").distinct().count()}


# An article's reads count for its campaign's topics this long after the campaign's first send.
TOPIC_SIGNAL_DAYS = 30


def article_topic_signals_record(*, account_id: int, day: date) -> dict[int, tuple[int, int]]:
    """One day's article reads summed per topic (readers, target users) over the account's mpnews
    campaigns first sent in the last TOPIC_SIGNAL_DAYS, stored as the engagement profile's aggregate
    signal (customers' service). An article counts once per topic whatever campaigns sent it."""
    campaigns = Campaign.objects.filter(
        account_id=account_id, content__msgtype="mpnews", counters__first_sent_at__date__gte=day - timedelta(days=TOPIC_SIGNAL_DAYS),
    ).prefetch_related("topics")
    titles_by_topic: dict[int, set[str]] = {}
    for campaign in campaigns:
        topics = [t.pk for t in campaign.topics.all()]
        if not topics:
            continue
        titles = {item.get("title", "") for a in Article.objects.filter(account_id=account_id, media_id__in=campaign_media_ids(campaign))
                  for item in a.items if item.get("title")}
        for topic in topics:
            titles_by_topic.setdefault(topic, set()).update(titles)
    stats = {title: (r, t) for title, r, t in ArticleDailyStat.objects.filter(account_id=account_id, ref_date=day)
             .values("title").annotate(r=Sum("read_users"), t=Sum("target_users")).values_list("title", "r", "t")}
    per_topic = {}
    for topic, titles in titles_by_topic.items():
        found = [stats[t] for t in titles if t in stats]
        if found:
            per_topic[topic] = (sum(r for r, _ in found), sum(t for _, t in found))
    topic_reads_record(account_id=account_id, day=day, per_topic=per_topic)
    return per_topic
