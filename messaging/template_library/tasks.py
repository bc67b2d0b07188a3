"""Celery tasks of the template library (thin: load by id, call the service). Routed to the
planning queue with the other syncs (scrm/settings.py); the beat entry is in scrm/celery.py."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.errors import backoff_delay
from messaging.template_library.services import message_templates_sync
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

__all__ = ["message_templates_sync_all_task", "message_templates_sync_task"]

MAX_RETRIES = 3
# The periodic run syncs accounts inline for this long, well inside Celery's time limit.
RUN_BUDGET_SECONDS = 240.0


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
def message_templates_sync_all_task() -> dict:
    """Periodic: sync every active service account and mini-program, one after the other (a few
    calls each). Accounts left when the budget is spent get their own task; a failure is logged and
    waits for the next run."""
    account_ids = list(
        ChannelAccount.objects.filter(is_active=True, kind__in=[AccountKind.OA, AccountKind.MINIPROGRAM])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    synced, failed = 0, 0
    for index, account_id in enumerate(account_ids):
        if time.monotonic() > deadline:
            for later in account_ids[index:]:
                message_templates_sync_task.delay(later)
            break
        try:
            message_templates_sync(account_id)
            synced += 1
        except ApplicationError as exc:
            failed += 1
            logger.warning("template library of account %s not synced: %s", account_id, exc.message)
    return {"accounts": len(account_ids), "synced": synced, "failed": failed}
