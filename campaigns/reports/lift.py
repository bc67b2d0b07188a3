"""Lift of a campaign's treated group over its holdout, read from counts kept by a beat task.

Counting who in each group acted in the attribution window means joining the groups' rows to the
window's events; a mass campaign's tens of thousands of deliveries against millions of events took
0.4 s per 48,000 deliveries (one index probe per delivery), on every view of the report. So
`campaign_lift_refresh` (beat `campaigns-lift-refresh`, analytics queue) keeps each campaign's counts
on its counters row while its window is open and for LATE_EVENTS after it closes (events recorded
late still count), then no more: the counts are final. The report reads them with their time
(`as_of`); a campaign not counted yet (or the embedded SQLite, which keeps no counters) is counted
while the report is read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from campaigns.counters import campaign_counters_get, counters_maintained
from campaigns.models import Campaign, CampaignCounters, Delivery, Suppression, SuppressionReason
from campaigns.reports.attribution import actions_q, attribution_window
from campaigns.reports.stats import two_proportion_lift
from customers.models import EngagementEvent

LATE_EVENTS = timedelta(days=1)
METRICS = ("conversion", "engagement")


def _lift_counts(campaign: Campaign, counters: dict, start: datetime, end: datetime) -> dict:
    """Each group's size and how many of it converted / acted in the window: from the window's events
    (index (event_type, occurred_at, customer)) to the group's rows by their (campaign, customer) index."""
    treated = Delivery.objects.filter(campaign=campaign)
    control = Suppression.objects.filter(campaign=campaign, reason=SuppressionReason.HOLDOUT)
    in_window = EngagementEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    t = treated.count()
    c = counters["suppressed_by_reason"].get(SuppressionReason.HOLDOUT, 0)
    counts = {"window_start": start.isoformat(), "treated_n": t, "control_n": c}
    for metric, events in (("conversion", in_window.filter(event_type="conversion")), ("engagement", in_window.filter(actions_q()))):
        who = events.values("customer_id")
        counts[metric] = [
            treated.filter(customer_id__in=who).count() if t else 0,
            control.filter(customer_id__in=who).count() if c else 0,
        ]
    return counts


def campaign_lift(campaign: Campaign, counters: dict | None = None) -> dict[str, dict]:
    """Conversion and engagement lift of the treated group over the holdout, with 95 % intervals;
    `as_of`: when the counts were taken (None: counted now)."""
    counters = counters if counters is not None else campaign_counters_get(campaign=campaign)
    start, end = attribution_window(campaign, counters)
    kept = None
    if counters_maintained():
        kept = CampaignCounters.objects.filter(pk=campaign.pk).values("lift_counts", "lift_counted_at").first()
    if kept and kept["lift_counted_at"] and kept["lift_counts"].get("window_start") == start.isoformat():
        counts, as_of = kept["lift_counts"], kept["lift_counted_at"].isoformat()
    else:
        counts, as_of = _lift_counts(campaign, counters, start, end), None
    result = {
        metric: two_proportion_lift(
            treated_n=counts["treated_n"], treated_x=counts[metric][0], control_n=counts["control_n"], control_x=counts[metric][1]
        ).as_dict()
        for metric in METRICS
    }
    result["window"] = {"start": start.isoformat(), "end": end.isoformat()}
    result["as_of"] = as_of
    return result


def campaign_lift_refresh(*, limit: int = 50, now: datetime | None = None) -> int:
    """Count the lift of the campaigns whose counts are not final yet (never counted, or counted before
    their window closed + LATE_EVENTS), least recently counted first. Returns how many were counted."""
    if not counters_maintained():
        return 0
    due = (
        CampaignCounters.objects.filter(Q(lift_counted_at__isnull=True) | Q(lift_counted_at__lt=F("lift_final_at")))
        .order_by(F("lift_counted_at").asc(nulls_first=True))
        .values_list("campaign_id", flat=True)[:limit]
    )
    counted = 0
    for campaign in Campaign.objects.filter(pk__in=list(due)):
        counters = campaign_counters_get(campaign=campaign)
        start, end = attribution_window(campaign, counters)
        counted_at = now or timezone.now()
        counts = _lift_counts(campaign, counters, start, end)
        CampaignCounters.objects.filter(pk=campaign.pk).update(lift_counts=counts, lift_counted_at=counted_at, lift_final_at=end + LATE_EVENTS)
        counted += 1
    return counted
