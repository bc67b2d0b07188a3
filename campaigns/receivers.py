"""Handlers that campaigns registers with messaging's inbound loop (see CampaignsConfig.ready)."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from campaigns.models import Delivery, DeliveryState
from messaging.reports import DeliveryReport, register_delivery_report_handler

STATUS_EVENTS = {"delivered": "push.delivered", "user_block": "push.failed", "system_failed": "push.failed"}


@transaction.atomic
def delivery_report_apply(report: DeliveryReport) -> int:
    """A WeChat delivery report (by account and msgid) settles the delivery: delivered or failed."""
    if not report.msgid or report.status not in STATUS_EVENTS:
        return 0
    deliveries = list(
        Delivery.objects.filter(account_id=report.account_id, msgid=report.msgid, state__in=[DeliveryState.SENT, DeliveryState.SENDING])
        .values("id", "customer_id", "campaign_id", "identity_id")
    )
    if not deliveries:
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


register_delivery_report_handler(delivery_report_apply)
