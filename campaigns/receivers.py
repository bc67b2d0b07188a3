"""Handlers that campaigns registers with messaging's inbound loop (see CampaignsConfig.ready)."""

from __future__ import annotations

from collections import Counter

from django.db import connection, transaction

from campaigns.article_stats import article_topic_signals_record
from campaigns.counters import MUTE_ERROR_CODES, campaign_counters_add
from campaigns.models import CampaignBatchReport, Delivery, DeliveryState, PendingDeliveryReport
from customers.services.events import event_record
from customers.services.identity import Refusal, identity_record_refusal
from messaging.content.statistics import article_stats_stored
from messaging.reports import (
    AggregateReport,
    DeliveryReport,
    register_aggregate_report_handler,
    register_delivery_report_handler,
)

# Template (TEMPLATESENDJOBFINISH), subscribe-message and WeCom group-message (get_groupmsg_send_result
# status 2 / 3) outcomes; every non-delivered status fails the delivery with the status as its reason.
STATUS_EVENTS = {
    "delivered": "push.delivered",
    "user_block": "push.failed",
    "system_failed": "push.failed",
    "not_contact": "push.failed",
    "limit_reached": "push.failed",
}


def msgid_locks(*, account_id: int, msgids: list[str]) -> None:
    """Transaction-scoped advisory locks per (account, msgid): a report and the recording of its send
    are serialised, so a report is either applied or left pending where the recorder will find it."""
    keys = sorted({f"{account_id}:{m}" for m in msgids if m})
    if keys and connection.vendor == "postgresql":
        # (The embedded SQLite has no advisory locks and needs none: it admits one writer at a time.)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) AS k", [keys])


@transaction.atomic
def delivery_report_apply(report: DeliveryReport) -> int:
    """A WeChat delivery report (by account and msgid) settles the delivery: delivered or failed."""
    if not report.msgid or report.status not in STATUS_EVENTS:
        return 0
    msgid_locks(account_id=report.account_id, msgids=[report.msgid])
    of_msgid = Delivery.objects.filter(account_id=report.account_id, msgid=report.msgid)
    candidates = of_msgid.filter(state__in=[DeliveryState.SENT, DeliveryState.SENDING])
    if report.external_id and of_msgid[:2].count() > 1:
        # One msgid covers a whole WeCom group task: the report is about one of its recipients.
        candidates = candidates.filter(identity__external_id=report.external_id)
    deliveries = list(candidates.values("id", "customer_id", "campaign_id", "identity_id"))
    if not deliveries:
        if not of_msgid.exists():
            # The report overtook the recording of the send: keep it for dispatch to apply.
            PendingDeliveryReport.objects.get_or_create(
                account_id=report.account_id, msgid=report.msgid,
                defaults={"status": report.status, "raw_status": report.raw_status[:64], "occurred_at": report.occurred_at,
                          "external_id": report.external_id},
            )
        return 0
    ids = [d["id"] for d in deliveries]
    if report.status == "delivered":
        Delivery.objects.filter(pk__in=ids).update(state=DeliveryState.DELIVERED, delivered_at=report.occurred_at)
    else:
        Delivery.objects.filter(pk__in=ids).update(state=DeliveryState.FAILED, error_code=report.status, error_message=report.raw_status[:255])
    # Counted with the state change, under the msgid lock: a repeated report finds no row still sent.
    per_campaign = Counter(d["campaign_id"] for d in deliveries)
    for campaign_id, n in per_campaign.items():
        if report.status == "delivered":
            campaign_counters_add(campaign_id=campaign_id, delivered=n)
        else:
            campaign_counters_add(campaign_id=campaign_id, failed=n, mutes=n if report.status in MUTE_ERROR_CODES else 0)
    if report.status == "user_block":
        identity_record_refusal(
            identity_ids=[d["identity_id"] for d in deliveries if d["identity_id"]], refusal=Refusal.TEMPLATE_BLOCKED, at=report.occurred_at
        )
    for d in deliveries:
        event_record(
            customer_id=d["customer_id"],
            event_type=STATUS_EVENTS[report.status],
            occurred_at=report.occurred_at,
            properties={"status": report.raw_status},
            account_id=report.account_id,
            campaign_id=d["campaign_id"],
            delivery_id=d["id"],
            dedupe_key=f"{STATUS_EVENTS[report.status]}:{d['id']}",
        )
    return len(ids)


def pending_reports_apply(*, account_id: int, msgids: list[str]) -> int:
    """Apply reports that arrived before these msgids were recorded."""
    msgids = [m for m in msgids if m]
    if not msgids:
        return 0
    applied = 0
    for pending in PendingDeliveryReport.objects.filter(account_id=account_id, msgid__in=msgids):
        applied += delivery_report_apply(
            DeliveryReport(account_id=pending.account_id, msgid=pending.msgid, status=pending.status, raw_status=pending.raw_status,
                           occurred_at=pending.occurred_at, external_id=pending.external_id)
        )
        pending.delete()
    return applied


def pending_reports_sweep() -> int:
    """Apply pending reports whose send got recorded meanwhile (closes the race of the two writers)."""
    applied = 0
    pending = PendingDeliveryReport.objects.values_list("account_id", "msgid")[:5000]
    by_account: dict[int, list[str]] = {}
    for account_id, msgid in pending:
        by_account.setdefault(account_id, []).append(msgid)
    for account_id, msgids in by_account.items():
        recorded = list(Delivery.objects.filter(account_id=account_id, msgid__in=msgids).values_list("msgid", flat=True).distinct())
        applied += pending_reports_apply(account_id=account_id, msgids=recorded)
    return applied


def batch_report_record(report: AggregateReport) -> CampaignBatchReport:
    """Store WeChat's aggregate counts of a list send against the campaign batch with that msgid (idempotent)."""
    batch = (
        Delivery.objects.filter(account_id=report.account_id, msgid=report.msgid).values("campaign_id", "batch_key").order_by("id").first()
        or {}
    )
    values = {
        "kind": report.kind,
        "status": report.status[:64],
        "total_count": max(report.total_count, 0),
        "filter_count": max(report.filter_count, 0),
        "sent_count": max(report.sent_count, 0),
        "error_count": max(report.error_count, 0),
        "reported_at": report.occurred_at,
    }
    if batch:
        values.update(campaign_id=batch["campaign_id"], batch_key=batch["batch_key"])
    row, _created = CampaignBatchReport.objects.update_or_create(account_id=report.account_id, msgid=report.msgid, defaults=values)
    return row


register_delivery_report_handler(delivery_report_apply)
register_aggregate_report_handler(batch_report_record)


def _article_stats_stored(sender, *, account, day, **kwargs) -> None:
    """A day of article statistics stored: the reads per topic go to the engagement profile."""
    article_topic_signals_record(account_id=account.pk, day=day)


article_stats_stored.connect(_article_stats_stored, dispatch_uid="campaigns.article_topic_signals")
