"""Celery tasks of the template library (thin: load by id, call the service). Routed to the
planning queue with the other syncs (scrm/settings.py); the beat entry is in scrm/celery.py."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.errors import backoff_delay
from messaging.template_library.services import message_templates_sync
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

__all__ = ["message_templates_sync_all_task", "message_templates_sync_task"]

MAX_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_RETRIES)
def message_templates_sync_task(self, account_id: int) -> dict:
    """Sync one account's template library now. A temporary failure (WeChat busy, network) is
    retried with backoff; a refusal (bad secret, IP whitelist, 48001) waits for the next beat."""
    account = ChannelAccount.objects.filter(
        pk=account_id, is_active=True, kind__in=[AccountKind.OA, AccountKind.MINIPROGRAM]
    ).first()
    if account is None:
        return {"skipped": True}
    try:
        return message_templates_sync(account).as_dict()
    except ApplicationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {}
        logger.warning("template library of account %s not synced: %s", account_id, exc.message)
        if detail.get("retryable") and self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=backoff_delay(self.request.retries, base=30.0)) from exc
        return {"error": str(exc.code), "message": str(exc.message)}


@shared_task
def message_templates_sync_all_task() -> int:
    """Periodic: one sync task per active service account and mini-program."""
    account_ids = list(
        ChannelAccount.objects.filter(is_active=True, kind__in=[AccountKind.OA, AccountKind.MINIPROGRAM])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for account_id in account_ids:
        message_templates_sync_task.delay(account_id)
    return len(account_ids)
