"""The service hook through which a customer asks to talk to a person.

A menu item routed to "open a customer-service conversation" (menus.routing) records the engagement
event `service.conversation_requested` and calls `conversation_request_dispatch`. The customer-service
inbox registers its handler here (in its AppConfig.ready) and opens or reopens the customer's
conversation. Handlers run inside the transaction that processes the callback, so they must be
idempotent on `dedupe_key` (a retried callback dispatches the same request again) and must not call
WeChat before commit. Until an inbox registers, the request is kept as the engagement event only —
the inbox can read earlier requests from there. Documented in docs/service-entry.md, "Routing".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CONVERSATION_REQUESTED_EVENT = "service.conversation_requested"


@dataclass(frozen=True)
class ConversationRequest:
    account_id: int
    customer_id: int
    openid: str
    occurred_at: datetime
    dedupe_key: str
    source: str = "menu"  # what asked: "menu" (a menu item) or "keyword" (a hand-over keyword rule)
    # For menus: menu_id, menu_version_id, menu_segment_id, menu_item_key, menu_item_name, and the
    # operator's optional greeting ("greeting").
    context: dict[str, Any] = field(default_factory=dict)


ConversationRequestHandler = Callable[[ConversationRequest], None]
_handlers: list[ConversationRequestHandler] = []


def register_conversation_request_handler(handler: ConversationRequestHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_conversation_request_handler(handler: ConversationRequestHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def conversation_request_dispatch(request: ConversationRequest) -> int:
    """Hand the request to every registered handler; returns how many there were."""
    for handler in _handlers:
        handler(request)
    return len(_handlers)
