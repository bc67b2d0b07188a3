"""Writes of the mini-program API: sessions, profile, preference centre, consent, events, inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer, InboxMessage
from customers.services.consent import consent_credit_add, consent_credit_revoke
from customers.services.events import event_record, events_record_bulk
from customers.services.identity import identity_resolve
from customers.services.preferences import PREFERENCES_EVENT, customer_preferences_set, inbox_message_mark_read
from customers.services.profile import customer_update
from messaging.channels.miniprogram import code_to_session
from messaging.errors import MessagingError
from messaging.miniprogram.auth import (
    ACCESS_PREFIX,
    MAX_TOKEN_LENGTH,
    REFRESH_PREFIX,
    access_token_ttl,
    new_token,
    refresh_token_ttl,
    token_digest,
)
from messaging.miniprogram.models import MiniProgramSession
from messaging.miniprogram.selectors import topic_tags_queryset
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedTokens:
    session: MiniProgramSession
    access_token: str
    refresh_token: str

    def as_response(self) -> dict[str, Any]:
        now = timezone.now()
        return {
            "token_type": "Bearer",
            "access_token": self.access_token,
            "expires_in": max(int((self.session.access_expires_at - now).total_seconds()), 0),
            "refresh_token": self.refresh_token,
            "refresh_expires_in": max(int((self.session.refresh_expires_at - now).total_seconds()), 0),
            "customer_id": self.session.customer_id,
        }


def _invalid_refresh() -> ApplicationError:
    return ApplicationError(code=MessagingError.INVALID_REFRESH_TOKEN)


# --- sessions ----------------------------------------------------------------------------------


def mp_login(*, account: ChannelAccount, js_code: str) -> IssuedTokens:
    """Exchange a wx.login code for the customer's identity and a new session of our own."""
    result = code_to_session(account, js_code)
    identity = identity_resolve(account=account, external_id=result["openid"], unionid=result.get("unionid") or "")
    return mp_session_create(identity=identity, session_key=result.get("session_key") or "")


def mp_session_create(*, identity: ChannelIdentity, session_key: str = "") -> IssuedTokens:
    """Open a session for the identity's customer; returns the only copy of its tokens."""
    now = timezone.now()
    access, refresh = new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX)
    session = MiniProgramSession.objects.create(
        identity=identity,
        customer_id=identity.customer_id,
        account_id=identity.account_id,
        access_token_hash=token_digest(access),
        access_expires_at=now + access_token_ttl(),
        refresh_token_hash=token_digest(refresh),
        refresh_expires_at=now + refresh_token_ttl(),
        session_key=session_key,
    )
    return IssuedTokens(session=session, access_token=access, refresh_token=refresh)


def mp_session_refresh(*, refresh_token: str) -> IssuedTokens:
    """Rotate both tokens of a session; a refresh token works once, and reuse revokes the session."""
    if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > MAX_TOKEN_LENGTH:
        raise _invalid_refresh()
    digest = token_digest(refresh_token)
    session = (
        MiniProgramSession.objects.select_related("customer")
        .filter(Q(refresh_token_hash=digest) | Q(previous_refresh_token_hash=digest))
        .first()
    )
    now = timezone.now()
    if session is None or session.revoked_at is not None or session.customer.erased_at is not None:
        raise _invalid_refresh()
    if session.refresh_token_hash != digest:
        # A rotated-out refresh token came back: someone holds a copy. End the session for both.
        MiniProgramSession.objects.filter(pk=session.pk).update(revoked_at=now)
        logger.warning("mini-program session %s revoked: refresh token reused", session.pk)
        raise _invalid_refresh()
    if session.refresh_expires_at <= now:
        raise _invalid_refresh()
    access, refresh = new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX)
    values = {
        "previous_refresh_token_hash": digest,
        "access_token_hash": token_digest(access),
        "access_expires_at": now + access_token_ttl(),
        "refresh_token_hash": token_digest(refresh),
        "refresh_expires_at": now + refresh_token_ttl(),
        "refreshed_at": now,
    }
    # Conditional: of two concurrent refreshes with the same token only one rotates.
    if not MiniProgramSession.objects.filter(pk=session.pk, refresh_token_hash=digest, revoked_at__isnull=True).update(**values):
        raise _invalid_refresh()
    for name, value in values.items():
        setattr(session, name, value)
    return IssuedTokens(session=session, access_token=access, refresh_token=refresh)


def mp_session_revoke(*, session: MiniProgramSession) -> None:
    """Log out: the session's tokens stop working at once."""
    MiniProgramSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- profile, preferences ----------------------------------------------------------------------

# What a customer may edit about themselves; everything else (scores, tags, source) is ours.
EDITABLE_PROFILE_FIELDS = ("display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone")


def mp_profile_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    """Apply the customer's own edits to their profile."""
    own = {name: value for name, value in data.items() if name in (*EDITABLE_PROFILE_FIELDS, "phone")}
    return customer_update(customer_id=customer.pk, data=own)


@transaction.atomic
def mp_preferences_set(
    *,
    customer: Customer,
    account_id: int | None,
    frequency: str,
    quiet_start: time | None,
    quiet_end: time | None,
    topics: dict[int, bool],
) -> None:
    """Replace the customer's preference-centre choices (frequency, quiet hours, topic choices).

    Saving them is the customer's own action: an `mp.preferences` event (its hour is one the customer
    is on WeChat; the topics chosen count for steering through the subscriptions themselves, so the
    event carries them under `opted_in` / `opted_out`, not as visited `topics`)."""
    offered = set(topic_tags_queryset().values_list("pk", flat=True))
    unknown = sorted(set(topics) - offered)
    if unknown:
        raise ApplicationError(code=MessagingError.UNKNOWN_TOPIC, detail={"topics": unknown})
    customer_preferences_set(
        customer_id=customer.pk,
        frequency=frequency,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        topics=topics,
        offered_topic_ids=offered,
    )
    event_record(
        customer_id=customer.pk,
        event_type=PREFERENCES_EVENT,
        account_id=account_id,
        properties={
            "opted_in": sorted(t for t, wanted in topics.items() if wanted),
            "opted_out": sorted(t for t, wanted in topics.items() if not wanted),
        },
    )


# --- consent -----------------------------------------------------------------------------------


@transaction.atomic
def mp_subscriptions_record(
    *, customer_id: int, account_id: int, results: list[dict[str, str]], request_id: str = ""
) -> bool:
    """Apply a wx.requestSubscribeMessage result: each accept is one credit, reject/ban revoke.

    With a `request_id`, a retried request is applied once (False when it was already applied).
    """
    if request_id:
        stored = event_record(
            customer_id=customer_id,
            event_type="mp.subscribe_message",
            account_id=account_id,
            properties={"results": results},
            dedupe_key=f"mp.subscribe:{account_id}:{customer_id}:{request_id}",
        )
        if stored is None:
            return False
    for item in results:
        if item["status"] == "accept":
            consent_credit_add(customer_id=customer_id, account_id=account_id, template_id=item["template_id"])
        elif item["status"] in ("reject", "ban"):
            consent_credit_revoke(customer_id=customer_id, account_id=account_id, template_id=item["template_id"])
    return True


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventBatchResult:
    accepted: int
    duplicates: int


def mp_events_ingest(*, session: MiniProgramSession, events: list[dict[str, Any]]) -> EventBatchResult:
    """Store validated behaviour events once each (client event id → dedupe key), in one insert."""
    if not events:
        return EventBatchResult(accepted=0, duplicates=0)
    rows = [
        {
            "customer_id": session.customer_id,
            "event_type": f"mp.{item['type']}",
            "occurred_at": item["occurred_at"],
            "properties": item.get("properties") or {},
            "account_id": session.account_id,
            # Keyed on the identity, not the customer: a merge must not make old ids new again.
            "dedupe_key": f"mp:{session.identity_id}:{item['id']}",
        }
        for item in events
    ]
    # No identity_touch_interaction: browsing the mini-program does not open WeChat's 48-hour
    # customer-service window (only a message to the account does).
    new_ids = events_record_bulk(rows)
    return EventBatchResult(accepted=len(new_ids), duplicates=len(rows) - len(new_ids))


# --- inbox -------------------------------------------------------------------------------------


def mp_inbox_mark_read(*, customer_id: int, account_id: int, message_id: int) -> InboxMessage:
    """Mark one of the customer's inbox items read; the first read is an `inbox.read` event."""
    return inbox_message_mark_read(customer_id=customer_id, account_id=account_id, message_id=message_id)


# --- housekeeping ------------------------------------------------------------------------------

# Kept a while after they stop working, so a "token expired" / "session revoked" answer and the
# reuse detection still find the row; then they are only noise.
SESSION_RETENTION = timedelta(days=7)


def mp_sessions_purge() -> int:
    """Delete sessions whose refresh token expired or that were revoked over a week ago."""
    cutoff = timezone.now() - SESSION_RETENTION
    deleted, _ = MiniProgramSession.objects.filter(Q(refresh_expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete()
    return deleted
