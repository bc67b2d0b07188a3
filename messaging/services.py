"""Writes on channel accounts. Secrets are stored encrypted (scrm.fields) and never logged."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from accounts.models import ChannelAccount
from messaging.sandbox.registration import account_points_at_sandbox, sandbox_register_account

logger = logging.getLogger(__name__)

SECRET_FIELDS = ("app_secret", "token", "encoding_aes_key")


@transaction.atomic
def account_create(*, data: dict[str, Any]) -> ChannelAccount:
    """Create a channel account; one on a sandbox is registered there after commit."""
    account = ChannelAccount(**data)
    account.full_clean()
    account.save()
    logger.info("channel account %s created (kind=%s, app_id=%s)", account.pk, account.kind, account.app_id)
    transaction.on_commit(lambda: account_register_with_sandbox(account_id=account.pk))
    return account


@transaction.atomic
def account_update(*, account_id: int, data: dict[str, Any]) -> ChannelAccount:
    """Change an account; an empty secret in `data` keeps the stored one (write-only fields)."""
    account = ChannelAccount.objects.select_for_update().get(pk=account_id)
    old_aes_key = account.encoding_aes_key
    for name, value in data.items():
        if name in SECRET_FIELDS and not value:
            continue
        setattr(account, name, value)
    if data.get("encoding_aes_key") and old_aes_key and data["encoding_aes_key"] != old_aes_key:
        # Callbacks already in flight were encrypted with the old key; keep it as a fallback.
        account.previous_encoding_aes_key = old_aes_key
    account.full_clean()
    account.save()
    logger.info("channel account %s updated (fields: %s)", account.pk, ", ".join(sorted(data)))
    transaction.on_commit(lambda: account_register_with_sandbox(account_id=account.pk))
    return account


def account_register_with_sandbox(*, account_id: int) -> bool:
    """Tell the sandbox the account's app id, secret and callback so it can act as WeChat for it.

    Best effort: a sandbox that is down must not fail the operator's request.
    """
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None or not account_points_at_sandbox(account):
        return False
    try:
        sandbox_register_account(account)
    except Exception as exc:  # network error or sandbox refusing: log without any secret
        logger.warning("sandbox registration of account %s at %s failed: %s", account.pk, account.api_base_url, exc.__class__.__name__)
        return False
    return True
