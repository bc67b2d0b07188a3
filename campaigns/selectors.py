"""Campaign reads: lists, progress (counts by state, rate, ETA), the funnel, deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.counters import campaign_counters_get, campaign_deferral_get, counters_maintained
from campaigns.models import (
    Campaign,
    CampaignBatchReport,
    CampaignState,
    Delivery,
    DeliveryState,
    MessageType,
    SuppressionReason,
)
from messaging.channels import quota as wechat_quota
from messaging.channels.errors import errcode_meaning
from messaging.errors import SendErrorCode
from scrm.redis import get_redis

RATE_WINDOW_SECONDS = 60
MIN_RATE_SECONDS = 1.0
# Sent with one adapter call each, so the account's rate limit bounds their pace.
PER_DELIVERY_TYPES = {MessageType.TEMPLATE, MessageType.CUSTOMER_SERVICE, MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE}


def funnel_order() -> list[str]:
    return list(SuppressionReason.values)


def campaign_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Campaign]:
    filters = filters or {}
    qs = Campaign.objects.select_related("account").prefetch_related("topics").order_by("-id")
    for key in ("state", "account_id", "message_type", "priority_class", "parent_id"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    return qs


def _throughput(campaign_id: int, done: int, now: datetime) -> float:
    """Finished deliveries per second (sent, failed or dropped), from the counts earlier reads saw.

    Failed sends have no sent_at, so a campaign whose sends mostly fail showed no rate at all. Each
    read keeps (time, done) for a minute in Redis; the rate is measured from the last sample before
    the count started moving, so a wait (quiet hours, a pause) before it does not dilute it.
    """
    client = get_redis()
    if client is None:
        return 0.0
    key = f"scrm:campaign-progress:{campaign_id}"
    ts = now.timestamp()
    try:
        pipe = client.pipeline()
        pipe.zadd(key, {f"{ts:.3f}:{done}": ts})
        pipe.zremrangebyscore(key, "-inf", ts - RATE_WINDOW_SECONDS)
        pipe.expire(key, 2 * RATE_WINDOW_SECONDS)
        pipe.zrange(key, 0, -1, withscores=True)
        samples = [(score, int(member.decode().rsplit(":", 1)[1])) for member, score in pipe.execute()[-1]]
    except Exception:  # a progress read must not fail because Redis did
        return 0.0
    start = 0
    while start + 1 < len(samples) and samples[start + 1][1] == samples[0][1]:
        start += 1
    t0, done0 = samples[start]
    if ts - t0 < MIN_RATE_SECONDS or done <= done0:
        return 0.0
    return (done - done0) / (ts - t0)


def campaign_list_with_progress(queryset):
    """Campaigns with what a list's progress column shows, per row from indexes rather than a count of
    each campaign's deliveries by state: the deliveries still to send (the (campaign, state) index:
    none once a campaign is done) and the pushes that left (the kept counters; counted on SQLite)."""
    to_send = (
        Delivery.objects.filter(campaign_id=OuterRef("pk"), state__in=[DeliveryState.PLANNED, DeliveryState.SENDING])
        .order_by().values("campaign_id").annotate(n=Count("pk")).values("n")
    )
    if counters_maintained():
        sent = F("counters__sent")
    else:
        sent = Subquery(
            Delivery.objects.filter(campaign_id=OuterRef("pk"), sent_at__isnull=False).order_by().values("campaign_id").annotate(n=Count("pk")).values("n")
        )
    return queryset.annotate(progress_remaining=Coalesce(Subquery(to_send), 0), progress_sent=Coalesce(sent, 0))


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> dict[str, Any]:
    """Counts by delivery state, the current send rate and the ETA of the rest.

    The rate is the sends of the last minute divided by the time they actually took: over a fixed
    60 s window, a campaign 3 s into sending showed a twentieth of its rate and an ETA twenty times
    too long (309 s with 13 s to go). The window is read through the account's sent_at index, so a
    poll costs the last minute's sends, not the campaign's size.
    """
    now = now or timezone.now()
    counts = dict.fromkeys(DeliveryState.values, 0)
    for row in Delivery.objects.filter(campaign_id=campaign.pk).values("state").annotate(n=Count("id")).order_by():
        counts[row["state"]] = row["n"]
    since = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    recent = Delivery.objects.filter(account_id=campaign.account_id, sent_at__gte=since, sent_at__isnull=False, campaign_id=campaign.pk).aggregate(
        n=Count("id"), first=Min("sent_at")
    )
    rate = 0.0
    if recent["n"]:
        # At least one second: a burst of a few sends in the first instant is not a rate yet.
        elapsed = max((now - recent["first"]).total_seconds(), MIN_RATE_SECONDS)
        rate = recent["n"] / elapsed
    remaining = counts[DeliveryState.PLANNED] + counts[DeliveryState.SENDING]
    total = sum(counts.values())
    done = total - remaining
    if campaign.state == CampaignState.SENDING:
        rate = max(rate, _throughput(campaign.pk, done, now))
    if campaign.message_type in PER_DELIVERY_TYPES and campaign.account.rate_limit_per_second:
        # One call per delivery under the account's limit: a faster-looking start (outcomes are
        # stamped when written back, after the sends) cannot be the pace of the rest.
        rate = min(rate, float(campaign.account.rate_limit_per_second))
    sending = campaign.state == CampaignState.SENDING
    # Rows waiting for quiet hours, a send window or a retry: the page says when sending resumes.
    next_send_at = None
    if remaining:
        next_send_at = (
            Delivery.objects.filter(campaign_id=campaign.pk, state=DeliveryState.PLANNED).order_by("send_after")
            .values_list("send_after", flat=True).first()
        )
        if next_send_at is not None and next_send_at <= now:
            next_send_at = None
    if not remaining:
        eta = 0
    elif sending and rate > 0:
        eta = round(remaining / rate)
    else:
        eta = None
    return {
        "state": campaign.state,
        "counts": counts,
        "total": total,
        "done": done,
        # Pushes that left (sent, and those WeChat has since confirmed or refused after sending).
        "sent": counts[DeliveryState.SENT] + counts[DeliveryState.DELIVERED],
        "remaining": remaining,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "rate_per_second": round(rate, 2),
        "eta_seconds": eta,
        "next_send_at": next_send_at,
        "audience": campaign.audience_count,
        "suppressed": campaign.suppressed_count,
        "planned_at": campaign.planned_at,
        # A WeChat quota holding the rest back (until when and why), while it does.
        "deferred": quota_deferral(campaign=campaign, active_only=True) if remaining else None,
        "as_of": now,
    }


def quota_deferral(*, campaign: Campaign, now: datetime | None = None, active_only: bool = False) -> dict[str, Any] | None:
    """The last time a WeChat quota put the campaign's sends off: until, reason (code and operator's
    words), WeChat's detail, deliveries waiting, and whether it still holds. None when never (or, with
    `active_only`, when it no longer holds)."""
    deferral = campaign_deferral_get(campaign=campaign)
    if deferral is None:
        return None
    # Judged on the quota clock (messaging/channels/quota.py), the one that decided the deferral.
    active = deferral["until"] > (now or wechat_quota.quota_now())
    if active_only and not active:
        return None
    return {**deferral, "reason_label": deferral_reason_label(deferral["reason"]), "active": active}


def deferral_reason_label(reason: str) -> str:
    """What a deferral's reason means, for operators: a SendErrorCode's label or WeChat's errcode's."""
    if reason.lstrip("-").isdigit():
        return errcode_meaning(int(reason))
    try:
        return str(SendErrorCode(reason).label)
    except ValueError:
        return ""


def campaign_stats(*, campaign: Campaign) -> dict[str, Any]:
    """The funnel: audience → suppressed by reason → held out → planned → sent → delivered/failed → clicked."""
    progress = campaign_progress(campaign=campaign)
    # Kept counts (campaigns.counters): no pass over the campaign's suppressions or deliveries.
    counters = campaign_counters_get(campaign=campaign)
    by_reason = counters["suppressed_by_reason"]
    counts = progress["counts"]
    sent = counts[DeliveryState.SENT] + counts[DeliveryState.DELIVERED]
    send_time_suppressed = dict(
        Delivery.objects.filter(campaign_id=campaign.pk, state=DeliveryState.SUPPRESSED)
        .values("error_code").annotate(n=Count("id")).order_by().values_list("error_code", "n")
    )
    failed_by_reason = dict(
        Delivery.objects.filter(campaign_id=campaign.pk, state=DeliveryState.FAILED)
        .values("error_code").annotate(n=Count("id")).order_by().values_list("error_code", "n")
    )
    return {
        "audience": campaign.audience_count,
        "suppressed": [{"reason": r, "count": by_reason[r]} for r in funnel_order() if by_reason.get(r) and r != "holdout"],
        "held_out": by_reason.get("holdout", 0),
        "planned": progress["total"],
        "suppressed_at_send": send_time_suppressed,
        "sent": sent,
        "delivered": counts[DeliveryState.DELIVERED],
        "failed": counts[DeliveryState.FAILED],
        "failed_by_reason": failed_by_reason,
        "batch_reports": campaign_batch_reports(campaign=campaign),
        "deferred": quota_deferral(campaign=campaign),
        "clicked": counters["clicked"],
        "progress": progress,
    }


def campaign_batch_reports(*, campaign: Campaign) -> list[dict[str, Any]]:
    """WeChat's aggregate counts per list send of the campaign (MASSSENDJOBFINISH), by msgid."""
    if campaign.message_type != MessageType.MASS:
        return []
    msgids = Delivery.objects.filter(campaign_id=campaign.pk).exclude(msgid="").values("msgid")
    rows = CampaignBatchReport.objects.filter(account_id=campaign.account_id, msgid__in=msgids).order_by("id")
    return [
        {
            "msgid": r.msgid,
            "batch_key": r.batch_key,
            "kind": r.kind,
            "status": r.status,
            "total": r.total_count,
            "filtered": r.filter_count,
            "sent": r.sent_count,
            "errors": r.error_count,
            "reported_at": r.reported_at,
        }
        for r in rows
    ]


def delivery_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Delivery]:
    filters = filters or {}
    qs = Delivery.objects.select_related("identity").order_by("-id")
    for key in ("campaign_id", "customer_id", "state", "account_id", "msgid", "error_code"):
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("sent_after"):
        qs = qs.filter(sent_at__gte=filters["sent_after"])
    if filters.get("sent_before"):
        qs = qs.filter(sent_at__lt=filters["sent_before"])
    return qs
