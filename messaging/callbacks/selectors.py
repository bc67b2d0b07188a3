"""Reads for the callback view, cached in-process for a few seconds.

WeChat can call thousands of times a second; the account and its auto-reply rules change rarely,
so each web process keeps them for CALLBACK_ACCOUNT_CACHE_SECONDS (default 10) instead of decrypting
the account's secrets and querying on every request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min

from accounts.models import AccountKind, ChannelAccount
from messaging.callbacks.models import AutoReplyMatch, AutoReplyRule, InboundMessage, InboundState


@dataclass(frozen=True)
class CallbackAccount:
    id: int
    kind: str
    app_id: str
    token: str
    aes_keys: list[str]
    encrypt_mode: str
    # (match, keyword, reply, hand_over, rule id) in priority order.
    rules: list[tuple[str, str, str, bool, int]] = field(default_factory=list)

    @property
    def is_wecom(self) -> bool:
        return self.kind == AccountKind.WECOM


_cache: dict[tuple[int, bool], tuple[float, CallbackAccount | None]] = {}


def account_cache_clear() -> None:
    _cache.clear()


def max_body_bytes() -> int:
    return settings.CALLBACK_MAX_BODY_BYTES


def callback_account(*, account_id: int, wecom: bool) -> CallbackAccount | None:
    """The active account behind a callback URL (WeCom URL ↔ WeCom account), or None."""
    key = (account_id, wecom)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = _load(account_id=account_id, wecom=wecom)
    _cache[key] = (now + settings.CALLBACK_ACCOUNT_CACHE_SECONDS, value)
    return value


def _load(*, account_id: int, wecom: bool) -> CallbackAccount | None:
    qs = ChannelAccount.objects.filter(pk=account_id, is_active=True)
    qs = qs.filter(kind=AccountKind.WECOM) if wecom else qs.exclude(kind=AccountKind.WECOM)
    account = qs.first()
    if account is None:
        return None
    active = [r for r in AutoReplyRule.objects.filter(account_id=account_id, is_active=True) if r.keyword.strip()]
    # Lower priority first; exact rules before contains rules of the same priority.
    active.sort(key=lambda r: (r.priority, 0 if r.match == AutoReplyMatch.EXACT else 1, r.pk))
    rules = [(r.match, r.keyword.strip().lower(), r.reply_text, r.hand_over, r.pk) for r in active]
    return CallbackAccount(
        id=account.pk,
        kind=account.kind,
        app_id=account.app_id,
        token=account.token,
        aes_keys=[k for k in (account.encoding_aes_key, account.previous_encoding_aes_key) if k],
        encrypt_mode=account.encrypt_mode,
        rules=rules,
    )


@dataclass(frozen=True)
class KeywordMatch:
    rule_id: int
    keyword: str
    reply: str
    hand_over: bool


def auto_reply_match(*, account: CallbackAccount, fields: dict[str, Any]) -> KeywordMatch | None:
    """The first keyword rule matching a user's text message, or None."""
    if not account.rules or account.kind != AccountKind.OA or fields.get("MsgType") != "text":
        return None
    content = fields.get("Content")
    if not isinstance(content, str):
        return None
    text = content.strip().lower()
    for match, keyword, reply, hand_over, rule_id in account.rules:
        if (match == AutoReplyMatch.EXACT and text == keyword) or (match == AutoReplyMatch.CONTAINS and keyword in text):
            return KeywordMatch(rule_id=rule_id, keyword=keyword, reply=reply, hand_over=hand_over)
    return None


def auto_reply_text(*, account: CallbackAccount, fields: dict[str, Any]) -> str | None:
    """The reply of the first matching keyword rule for a user's text message, or None."""
    found = auto_reply_match(account=account, fields=fields)
    return found.reply if found else None


def inbound_backlog(*, failed_since: datetime) -> dict[str, Any]:
    """The callback outbox's backlog: rows not yet processed (and the oldest one's enqueue time), and
    rows that failed since `failed_since`. Uses index: inbound_unfinished_idx, inbound_failed_idx."""
    unfinished = InboundMessage.objects.filter(state__in=[InboundState.RECEIVED, InboundState.PROCESSING])
    figures = unfinished.aggregate(pending=Count("pk"), oldest=Min("last_enqueued_at"))
    failed = InboundMessage.objects.filter(state=InboundState.FAILED, received_at__gte=failed_since).count()
    return {"pending": figures["pending"], "oldest_pending_at": figures["oldest"], "failed": failed}
