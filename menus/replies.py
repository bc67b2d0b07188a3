"""Sending the replies clicks routed to: one MenuReply row per click, sent once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from menus.models import MenuReply, MenuReplyState
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.oa import CUSTOMER_SERVICE


def menu_reply_send(*, reply_id: int) -> str:
    """Send a planned reply as a customer-service message; returns the reply's state afterwards.

    The row is locked while it is sent, so a task running twice sends once; a failure is recorded,
    not retried: the click's window (3 messages within 1 minute) is over before a retry would help."""
    with transaction.atomic():
        reply = MenuReply.objects.select_for_update(skip_locked=True).select_related("account").filter(pk=reply_id).first()
        if reply is None or reply.state != MenuReplyState.PLANNED:
            return reply.state if reply else "missing"
        outcome = get_adapter(reply.account).send(
            Recipient(key=str(reply.pk), external_id=reply.openid),
            OutboundMessage(message_type=CUSTOMER_SERVICE, payload=reply.payload, idempotency_key=f"menu-reply:{reply.pk}"),
        )
        reply.state = MenuReplyState.SENT if outcome.ok else MenuReplyState.FAILED
        reply.error_code = outcome.error_code[:64]
        reply.error_message = outcome.error_message[:255]
        reply.sent_at = timezone.now() if outcome.ok else None
        reply.save(update_fields=["state", "error_code", "error_message", "sent_at"])
        return reply.state
