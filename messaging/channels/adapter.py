"""What every channel adapter does around the WeChat call itself: the sent memo (a send that
already succeeded is not repeated), the account's rate limit, its API quotas (a send beyond a known
quota is put off before the call; a quota error marks the API used up for the day), error
classification and the effects of permanent failures on the customer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

from messaging.channels.base import OutboundMessage, Recipient, SendOutcome
from messaging.channels.errors import classify_exception
from messaging.channels.quota import (
    DAILY_QUOTA_ERRCODES,
    QuotaRefusal,
    api_quota_take,
    api_quota_used_up,
    seconds_until,
)
from messaging.channels.ratelimit import permit_held, rate_limit_wait
from messaging.channels.services import send_outcomes_apply
from messaging.errors import SendErrorCode
from scrm.redis import get_redis

logger = logging.getLogger(__name__)

# How long a successful send is remembered (a retry after a crash comes much sooner).
SENT_MEMO_TTL = 7 * 24 * 3600
# Longest the adapter blocks on the rate limit before handing the wait back to the caller.
RATE_LIMIT_MAX_BLOCK = 5.0
# send_each takes the rate limit once for all its sends only when they are a small slice (1/100) of
# one second's budget, i.e. when the limit is effectively lifted; otherwise it acquires per send.
BATCH_ACQUIRE_FACTOR = 100


def idempotency_id(*parts: str, limit: int = 64) -> str:
    """A WeChat client_msg_id / clientmsgid (≤64 bytes) from the caller's key."""
    joined = "\n".join(parts)
    if len(parts) == 1 and len(joined.encode()) <= limit:
        return joined
    return hashlib.sha256(joined.encode()).hexdigest()[: min(limit, 64)]


class SentMemo:
    """Remembers (account, type, idempotency key, recipient) → msgid for sends WeChat accepted, so a
    repeated call answers the first outcome instead of sending again. WeChat's own de-duplication
    (client_msg_id, clientmsgid) still guards the window between the send and this record."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self.redis = get_redis()

    def _key(self, message: OutboundMessage, external_id: str) -> str:
        raw = f"{message.message_type}\n{message.idempotency_key}\n{external_id}"
        return f"scrm:sent:{self.account_id}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"

    def get_many(self, message: OutboundMessage, external_ids: list[str]) -> dict[str, str]:
        keys = [self._key(message, eid) for eid in external_ids]
        if not keys:
            return {}
        if self.redis is not None:
            values = self.redis.mget(keys)
            return {eid: v.decode() for eid, v in zip(external_ids, values, strict=True) if v is not None}
        found = cache.get_many(keys)
        return {eid: found[k] for eid, k in zip(external_ids, keys, strict=True) if k in found}

    def get_pairs(self, pairs: list[tuple[OutboundMessage, str]]) -> dict[int, str]:
        """Like get_many for (message, external_id) pairs of different messages: index → msgid."""
        keys = [self._key(message, eid) for message, eid in pairs]
        if not keys:
            return {}
        if self.redis is not None:
            values = [v.decode() if v is not None else None for v in self.redis.mget(keys)]
        else:
            found = cache.get_many(keys)
            values = [found.get(k) for k in keys]
        return {index: value for index, value in enumerate(values) if value is not None}

    def set_pairs(self, sent: list[tuple[OutboundMessage, str, str]]) -> None:
        """Like set_many for (message, external_id, msgid) triples of different messages."""
        if not sent:
            return
        items = {self._key(message, eid): msgid or "-" for message, eid, msgid in sent}
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, value, ex=SENT_MEMO_TTL)
            pipe.execute()
        else:
            cache.set_many(items, SENT_MEMO_TTL)

    def set_many(self, message: OutboundMessage, sent: dict[str, str]) -> None:
        self.set_pairs([(message, eid, msgid) for eid, msgid in sent.items()])


class ChannelAdapter:
    """Base of the per-channel adapters. Subclasses implement `_send_one` (and `_send_many` for
    types in `batch_types`, with `batch_limit` recipients per WeChat call)."""

    message_types: frozenset[str] = frozenset()
    batch_types: frozenset[str] = frozenset()
    batch_limit = 10_000

    def __init__(self, account):
        self.account = account
        self.memo = SentMemo(account.pk)

    # --- public interface -------------------------------------------------------------------

    def supports_batch(self, message_type: str) -> bool:
        return message_type in self.batch_types

    def send(self, recipient: Recipient, message: OutboundMessage) -> SendOutcome:
        """Send one message to one recipient; never raises for WeChat or network errors."""
        return self.send_batch([recipient], message)[recipient.key]

    def send_batch(self, recipients: list[Recipient], message: OutboundMessage) -> dict[str, SendOutcome]:
        """Send to many recipients: one WeChat call per chunk where the API takes a list, else one
        call each. Returns an outcome per `recipient.key`."""
        self._check_type(message)
        outcomes: dict[str, SendOutcome] = {}
        remembered = self.memo.get_many(message, [r.external_id for r in recipients])
        pending: list[Recipient] = []
        for recipient in recipients:
            if recipient.external_id in remembered:
                msgid = remembered[recipient.external_id]
                outcomes[recipient.key] = SendOutcome(status="sent", msgid="" if msgid == "-" else msgid)
            else:
                pending.append(recipient)
        if message.message_type in self.batch_types:
            for chunk in _chunks(pending, self.batch_limit):
                outcomes.update(self._guarded(chunk, message, batch=True))
        else:
            for recipient in pending:
                outcomes.update(self._guarded([recipient], message, batch=False))
        return outcomes

    def send_each(self, items: list[tuple[Recipient, OutboundMessage]], *, map_calls=map) -> list[SendOutcome]:
        """Send a different message to each recipient (one WeChat call each) with the bookkeeping done
        once for all of them: one sent-memo lookup, one rate-limit acquire, one memo write. The calls
        go through `map_calls` (e.g. a thread pool's map); everything else stays on this thread."""
        for _recipient, message in items:
            self._check_type(message)
        rate = int(self.account.rate_limit_per_second or 1)
        if rate < BATCH_ACQUIRE_FACTOR * len(items):
            # A real limit: one acquire per send keeps the sends evenly spaced.
            return list(map_calls(lambda item: self.send(*item), items))
        outcomes: list[SendOutcome | None] = [None] * len(items)
        remembered = self.memo.get_pairs([(message, recipient.external_id) for recipient, message in items])
        pending = []
        for index in range(len(items)):
            msgid = remembered.get(index)
            if msgid is not None:
                outcomes[index] = SendOutcome(status="sent", msgid="" if msgid == "-" else msgid)
            else:
                pending.append(index)
        if pending:
            wait = rate_limit_wait(self.account, len(pending), max_wait=RATE_LIMIT_MAX_BLOCK)
            if wait > 0:
                limited = SendOutcome(
                    status="retryable", error_code=SendErrorCode.RATE_LIMITED, error_message="account send rate limit", retry_after=wait
                )
                results = [limited] * len(pending)
            else:
                granted, refusal = api_quota_take(self.account, items[pending[0]][1].message_type, len(pending))
                results = list(map_calls(self._calls_until_daily_quota(items), pending[:granted]))
                if refusal is not None:
                    results += [_deferred(refusal)] * (len(pending) - granted)
                self._note_used_up(items[pending[0]][1], results)
            for index, outcome in zip(pending, results, strict=True):
                outcomes[index] = outcome
            sent = [(items[i][1], items[i][0].external_id, outcomes[i].msgid) for i in pending if outcomes[i].status == "sent"]
            self.memo.set_pairs(sent)

            for index in pending:
                recipient, message = items[index]
                if outcomes[index].status == "permanent":
                    send_outcomes_apply(account=self.account, message=message, outcomes=[(recipient.external_id, outcomes[index])])
        return outcomes  # type: ignore[return-value]

    # --- internals ----------------------------------------------------------------------------

    def _call_one(self, recipient: Recipient, message: OutboundMessage) -> SendOutcome:
        try:
            return self._send_one(recipient, message)
        except Exception as exc:  # classify_exception re-raises what it does not know
            return classify_exception(exc)

    def _check_type(self, message: OutboundMessage) -> None:
        if message.message_type not in self.message_types:
            raise ValueError(f"{type(self).__name__} cannot send {message.message_type!r} messages")

    def _guarded(self, recipients: list[Recipient], message: OutboundMessage, *, batch: bool) -> dict[str, SendOutcome]:
        # The grant is held while the request is prepared and spent as it leaves (a stale one is
        # replaced then): the limit holds as WeChat counts, not only as grants are handed out.
        with permit_held(self.account, max_wait=RATE_LIMIT_MAX_BLOCK) as wait:
            if wait > 0:
                limited = SendOutcome(
                    status="retryable", error_code=SendErrorCode.RATE_LIMITED, error_message="account send rate limit", retry_after=wait
                )
                return {r.key: limited for r in recipients}
            _granted, refusal = api_quota_take(self.account, message.message_type, 1)
            if refusal is not None:
                return {r.key: _deferred(refusal) for r in recipients}
            try:
                if batch:
                    outcomes = self._send_many(recipients, message)
                else:
                    outcomes = {recipients[0].key: self._send_one(recipients[0], message)}
            except Exception as exc:  # classify_exception re-raises what it does not know
                outcome = classify_exception(exc)
                outcomes = {r.key: outcome for r in recipients}
        self._note_used_up(message, list(outcomes.values()))
        self._after(recipients, message, outcomes)
        return outcomes

    def _calls_until_daily_quota(self, items: list[tuple[Recipient, OutboundMessage]]):
        """item index → its call, until one call meets a daily quota error: the items not yet called then
        are put off without a call (only those already in flight on other threads still reach WeChat)."""
        met: list[SendOutcome] = []

        def call(index: int) -> SendOutcome:
            if met:
                first = met[0]
                return _deferred(QuotaRefusal(until=first.defer_until, reason=SendErrorCode.API_QUOTA_USED, detail=f"{first.error_code} {first.error_message}"))
            outcome = self._call_one(*items[index])
            if _is_daily_quota_error(outcome):
                met.append(outcome)
            return outcome

        return call

    def _note_used_up(self, message: OutboundMessage, outcomes: list[SendOutcome]) -> None:
        """WeChat answered a daily quota error: the API is used up for the account until the day turns."""
        for outcome in outcomes:
            if _is_daily_quota_error(outcome):
                api_quota_used_up(self.account, message.message_type, detail=f"{outcome.error_code} {outcome.error_message}".strip())
                return

    def _after(self, recipients: list[Recipient], message: OutboundMessage, outcomes: dict[str, SendOutcome]) -> None:

        sent = {r.external_id: outcomes[r.key].msgid for r in recipients if outcomes[r.key].status == "sent"}
        self.memo.set_many(message, sent)
        send_outcomes_apply(
            account=self.account,
            message=message,
            outcomes=[(r.external_id, outcomes[r.key]) for r in recipients],
        )

    def _send_one(self, recipient: Recipient, message: OutboundMessage) -> SendOutcome:
        raise NotImplementedError

    def _send_many(self, recipients: list[Recipient], message: OutboundMessage) -> dict[str, SendOutcome]:
        raise NotImplementedError


def _is_daily_quota_error(outcome: SendOutcome) -> bool:
    return outcome.error_code.isdigit() and int(outcome.error_code) in DAILY_QUOTA_ERRCODES


def _deferred(refusal: QuotaRefusal) -> SendOutcome:
    return SendOutcome(
        status="retryable", error_code=refusal.reason, error_message=refusal.detail, retry_after=seconds_until(refusal.until), defer_until=refusal.until
    )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
