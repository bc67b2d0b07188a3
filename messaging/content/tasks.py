"""Content's periodic work: yesterday's article statistics for every service account (beat entry in
scrm/celery.py, routed to the analytics queue in scrm/settings.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import AccountKind, ChannelAccount
from messaging.content.statistics import account_yesterday, article_stats_fetch
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

__all__ = ["article_stats_poll_all_task"]


@shared_task
def article_stats_poll_all_task() -> dict:
    """Fetch yesterday's article statistics of each active service account (a refusal is logged and
    the account tried again tomorrow: a day can be fetched again at any time)."""
    done: dict[str, int] = {}
    for account in ChannelAccount.objects.filter(is_active=True, kind=AccountKind.OA):
        try:
            done[str(account.pk)] = article_stats_fetch(account=account, day=account_yesterday(account))
        except ApplicationError as exc:
            logger.warning("article statistics of account %s not fetched: %s", account.pk, exc.detail)
    return done
