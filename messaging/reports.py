"""Delivery reports learned by the inbound loop (TEMPLATESENDJOBFINISH, subscribe-message sent
events, WeCom group-message results), handed to whoever registered for them.

messaging/ must not import campaigns/, so campaigns registers its handler at start-up
(campaigns.apps.CampaignsConfig.ready → campaigns.receivers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DeliveryReport:
    account_id: int
    msgid: str
    # "delivered", "user_block" or "system_failed" (see messaging.callbacks processing)
    status: str
    raw_status: str
    occurred_at: datetime
    external_id: str = ""


DeliveryReportHandler = Callable[[DeliveryReport], None]
_handlers: list[DeliveryReportHandler] = []


def register_delivery_report_handler(handler: DeliveryReportHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def delivery_report_dispatch(report: DeliveryReport) -> None:
    for handler in _handlers:
        handler(report)
