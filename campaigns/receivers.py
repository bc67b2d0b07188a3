"""Handlers that campaigns registers with messaging's inbound loop (see CampaignsConfig.ready)."""

from __future__ import annotations

from django.apps import apps
from django.db import connection, transaction

from campaigns.models import Delivery, DeliveryState, PendingDeliveryReport
from messaging.reports import DeliveryReport, register_delivery_report_handler

STATUS_EVENTS = {"delivered": "push.delivered", "user_block": "push.failed", "system_failed": "push.failed"}


def msgid_locks(*, account_id: int, msgids: list[str]) -> None:
    """Transaction-scoped advisory locks per (account, msgid): a report and the recording of its send
    are serialised, so a report is either applied or left pending where the recorder will find it."""
    keys = sorted({f"{account_id}:{m}" for m in msgids if m})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) AS k", [keys])


@transaction.atomic
def delivery_report_apply(report: DeliveryReport) -> int:
    """A WeChat delivery report (by account and msgid) settles the delivery: delivered or failed."""
    if not report.msgid or report.status not in STATUS_EVENTS:
        return 0
    msgid_locks(account_id=report.account_id, msgids=[report.msgid])
    deliveries = list(
        Delivery.objects.filter(account_id=report.account_id, msgid=report.msgid, state__in=[DeliveryState.SENT, DeliveryState.SENDING])
        .values("id", "customer_id", "campaign_id", "identity_id")
    )
    if not deliveries:
        if not Delivery.objects.filter(account_id=report.account_id, msgid=report.msgid).exists():
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
    if report.status == "user_block":
        ChannelIdentity = apps.get_model("customers", "ChannelIdentity")
        ChannelIdentity.objects.filter(pk__in=[d["identity_id"] for d in deliveries if d["identity_id"]]).update(refuses_template=True)
    from customers.services import event_record

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


register_delivery_report_handler(delivery_report_apply)
