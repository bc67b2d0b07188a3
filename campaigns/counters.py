"""The campaign funnel's counters (CampaignCounters): written by the code that records each fact, read
by the reports instead of counting deliveries.

Who adds what, always in the transaction of the conditional change it counts (so a retry, a
duplicated report or a second click changes no row and counts nothing):
- dispatch (campaigns.dispatch.sql.record): rows still 'sending' that became sent / failed → sent,
  failed, mutes (one statement: the UPDATE's RETURNING feeds the upsert);
- delivery reports (campaigns.receivers.delivery_report_apply): rows still sent/sending that became
  delivered / failed → delivered, failed, mutes (under the per-msgid advisory lock);
- tracked clicks (campaigns.tracking.services): the first click of a delivery (clicked_at was NULL);
- planning (campaigns.services.campaign_plan): suppressions per reason, from the rows it inserted;
- dispatch (campaigns.dispatch.quota): the last quota deferral (until, reason, detail, rows waiting),
  a state rather than a count: the latest deferral replaces the one before.

`campaign_counters_refresh` recounts from the rows (migration backfill, `manage.py
campaign_counters_refresh`, and a repair after hand edits); it locks the counters row first, so an
increment committed meanwhile is neither lost nor counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignCounters, Delivery, DeliveryState, Suppression
from messaging.channels.errors import USER_REFUSED
from messaging.errors import SendErrorCode

COUNTER_FIELDS = ("sent", "delivered", "failed", "clicked", "mutes")
SEND_TIMES = ("first_sent_at", "last_sent_at")
DEFERRAL_FIELDS = ("deferred_until", "deferred_reason", "deferred_detail", "deferred_count")
MUTE_ERROR_CODES = (SendErrorCode.USER_BLOCK.value, str(USER_REFUSED))


def counters_maintained() -> bool:
    """Reports read the counters on PostgreSQL; the embedded SQLite (small data, no planning) counts rows."""
    return connection.vendor == "postgresql"


def campaign_counters_add(*, campaign_id: int, **deltas: int) -> None:
    """Add to a campaign's counters (call inside the transaction of the change being counted)."""
    updates = {field: F(field) + n for field, n in deltas.items() if n}
    if not updates:
        return
    unknown = set(updates) - set(COUNTER_FIELDS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    if not CampaignCounters.objects.filter(pk=campaign_id).update(**updates, updated_at=timezone.now()):
        CampaignCounters.objects.get_or_create(campaign_id=campaign_id)
        CampaignCounters.objects.filter(pk=campaign_id).update(**updates, updated_at=timezone.now())


def campaign_counters_add_suppressed(*, campaign_id: int, suppressed: dict[str, int]) -> None:
    """Add planning's suppressions per reason (the rows one planning run inserted)."""
    if not any(suppressed.values()):
        return
    CampaignCounters.objects.get_or_create(campaign_id=campaign_id)
    row = CampaignCounters.objects.select_for_update().get(pk=campaign_id)
    merged = dict(row.suppressed_by_reason or {})
    for reason, n in suppressed.items():
        if n:
            merged[reason] = merged.get(reason, 0) + n
    row.suppressed_by_reason = merged
    row.save(update_fields=["suppressed_by_reason", "updated_at"])


def campaign_counters_set_deferred(*, campaign_id: int, until, reason: str, detail: str, count: int) -> None:
    """Record that a quota put the campaign's sends off until `until` (the latest deferral wins)."""
    CampaignCounters.objects.get_or_create(campaign_id=campaign_id)
    CampaignCounters.objects.filter(pk=campaign_id).update(
        deferred_until=until, deferred_reason=str(reason)[:32], deferred_detail=detail[:255], deferred_count=count, updated_at=timezone.now()
    )


def _counts_from_rows(campaign_ids: list[int]) -> dict[int, dict[str, Any]]:
    counts: dict[int, dict[str, Any]] = {pk: _empty() for pk in campaign_ids}
    rows = (
        Delivery.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            failed=Count("pk", filter=Q(state=DeliveryState.FAILED)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            mutes=Count("pk", filter=Q(error_code__in=MUTE_ERROR_CODES)),
            first_sent_at=Min("sent_at"),
            last_sent_at=Max("sent_at"),
        )
        .order_by()
    )
    for row in rows:
        counts[row["campaign_id"]].update({field: row[field] for field in (*COUNTER_FIELDS, *SEND_TIMES)})
    for campaign_id, reason, n in (
        Suppression.objects.filter(campaign_id__in=campaign_ids).values_list("campaign_id", "reason").annotate(n=Count("pk")).order_by()
    ):
        counts[campaign_id]["suppressed_by_reason"][reason] = n
    return counts


def campaign_counters_refresh(*, campaign_ids: Iterable[int] | None = None, batch: int = 200) -> int:
    """Recount the counters of these campaigns (all when None) from their deliveries and suppressions."""
    ids = list(campaign_ids) if campaign_ids is not None else list(Campaign.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with transaction.atomic():
            existing = set(Campaign.objects.filter(pk__in=chunk).values_list("pk", flat=True))
            for pk in sorted(existing):
                CampaignCounters.objects.get_or_create(campaign_id=pk)
            # Lock first, count second: an increment that commits meanwhile waits for this row and is
            # then added on top of a count that did not include it.
            list(CampaignCounters.objects.select_for_update().filter(pk__in=existing).order_by("pk").values_list("pk"))
            now = timezone.now()
            for pk, values in _counts_from_rows(sorted(existing)).items():
                CampaignCounters.objects.filter(pk=pk).update(**values, refreshed_at=now, updated_at=now)
    return len(ids)


def campaign_counters_get(*, campaign: Campaign) -> dict[str, Any]:
    """The campaign's counters: the kept row on PostgreSQL, a count of the rows on SQLite (or zeros)."""
    if not counters_maintained():
        return _counts_from_rows([campaign.pk])[campaign.pk]
    row = CampaignCounters.objects.filter(pk=campaign.pk).values(*COUNTER_FIELDS, *SEND_TIMES, "suppressed_by_reason").first()
    return row or _empty()


def campaign_deferral_get(*, campaign: Campaign) -> dict[str, Any] | None:
    """The campaign's last quota deferral ({until, reason, detail, count}), or None."""
    row = CampaignCounters.objects.filter(pk=campaign.pk).exclude(deferred_until=None).values(*DEFERRAL_FIELDS).first()
    if row is None:
        return None
    return {"until": row["deferred_until"], "reason": row["deferred_reason"], "detail": row["deferred_detail"], "count": row["deferred_count"]}


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTER_FIELDS, 0), **dict.fromkeys(SEND_TIMES), "suppressed_by_reason": {}}
