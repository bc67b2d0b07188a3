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
    # "delivered", "user_block" or "system_failed" (see messaging.callbacks processing); WeCom group
    # results: "delivered", "not_contact" or "limit_reached" (messaging.channels.wecom)
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


@dataclass(frozen=True)
class AggregateReport:
    """Counts for a whole list send (MASSSENDJOBFINISH): WeChat reports no per-user result for it."""

    account_id: int
    msgid: str
    # "mass_send" for now; handlers ignore kinds they do not know.
    kind: str
    status: str
    occurred_at: datetime
    total_count: int = 0
    filter_count: int = 0
    sent_count: int = 0
    error_count: int = 0


AggregateReportHandler = Callable[[AggregateReport], None]
_aggregate_handlers: list[AggregateReportHandler] = []


def register_aggregate_report_handler(handler: AggregateReportHandler) -> None:
    if handler not in _aggregate_handlers:
        _aggregate_handlers.append(handler)


def aggregate_report_dispatch(report: AggregateReport) -> None:
    for handler in _aggregate_handlers:
        handler(report)
