"""One interface for every channel. Campaigns render a message per customer and hand it to the
account's adapter; the adapter talks to WeChat through wechatpy and answers with an outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

OutcomeStatus = Literal["sent", "retryable", "permanent"]


@dataclass(frozen=True)
class SendOutcome:
    status: OutcomeStatus
    msgid: str = ""
    # A messaging.errors.SendErrorCode, WeChat's errcode as text, or "http_<status>".
    error_code: str = ""
    error_message: str = ""
    # Seconds to wait before retrying, when WeChat or the rate limiter said so.
    retry_after: float | None = None
    # A quota (WeChat's answer, or the account's known limit before the call) puts the send off until
    # then: not a failure and not an attempt; the caller waits (messaging/channels/quota.py).
    defer_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message. `message_type` is a campaigns.models.MessageType value.

    `payload` follows WeChat's request body for that type without the recipient, e.g.
    template: {"template_id", "url", "miniprogram": {...}, "data": {...}};
    mass / customer_service: {"msgtype": "text", "text": {"content": ...}};
    oa_subscribe / mp_subscribe: {"template_id", "page", "data"};
    wecom_group: {"sender": staff userid, "text": {"content"}, "attachments": [...]}.
    `idempotency_key` is the delivery id (or a batch key) and travels to WeChat as client_msg_id /
    clientmsgid so that a retry after a crash is not delivered twice.
    """

    message_type: str
    payload: dict[str, Any]
    idempotency_key: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    key: str  # the caller's id for this recipient (a delivery id)
    external_id: str  # openid / external_userid
