"""Sending a claimed batch through the account's adapter: one call per delivery (template, customer
service, subscribe), list calls (mass sends, WeCom tasks), or the message centre (inbox only).

The delivery id (or, for list calls, the batch key stored on the rows before the call) travels to
WeChat as client_msg_id / clientmsgid, so a worker killed after the call but before recording it is
re-sent by the sweeper and de-duplicated by WeChat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from django.db import connections

from campaigns.dispatch.claim import Claimed, deliveries_release
from campaigns.dispatch.group_results import group_results_poll_schedule
from campaigns.dispatch.record import Outcome
from campaigns.models import CampaignState, Delivery, DeliveryState, MessageType
from customers.services.inbox import InboxItem, inbox_messages_create
from messaging.channels.base import OutboundMessage, Recipient, SendOutcome
from messaging.errors import SendErrorCode

if TYPE_CHECKING:
    from campaigns.dispatch.pump import Pump

logger = logging.getLogger(__name__)

# One list call (mass send, WeCom task) carries at most this many recipients.
LIST_CALL_LIMIT = 10_000
# Outcomes are written back every this many sends, or when this many seconds have passed since the
# last write (and at the end of a batch): at 20 sends/s, 100 sends meant the progress page showed
# `sent` up to 5 s late; the console promises counts within 2 s of what WeChat received.
FLUSH_EVERY = 100
FLUSH_SECONDS = 0.5


def _exception_outcome(exc: Exception) -> SendOutcome:
    return SendOutcome(status="retryable", error_code=SendErrorCode.EXCEPTION, error_message=type(exc).__name__)


def _render_failed(exc: Exception) -> SendOutcome:
    return SendOutcome(status="permanent", error_code=SendErrorCode.RENDER_FAILED, error_message=type(exc).__name__)


def _message(pump: Pump, row: Claimed) -> OutboundMessage | Exception:
    try:
        return OutboundMessage(message_type=pump.campaign.message_type, payload=pump.renderer_for(row).payload(row), idempotency_key=str(row.id))
    except Exception as exc:
        logger.exception("render failed for delivery %s", row.id)
        return exc


def send_each(pump: Pump, rows: list[Claimed]) -> bool:
    """One adapter call per delivery, chunk by chunk; False when the pump must stop."""
    outcomes: list[Outcome] = []
    sent_rows: list[Claimed] = []
    # A chunk is at most about one second of the account's rate, so a flush is never far away.
    step = max(1, min(pump.threads * 4, int(pump.campaign.account.rate_limit_per_second or 1)))
    flushed_at = time.monotonic()
    for start in range(0, len(rows), step):
        if pump.state() != CampaignState.SENDING or time.monotonic() > pump.deadline + 30 or pump.result.requeue_in:
            pump.flush(outcomes, sent_rows)
            unsent = rows[start:]
            deliveries_release([r.id for r in unsent], pump.campaign.pk)
            if pump.spends_credit:
                pump.credit_outcomes += [Outcome(r.id, DeliveryState.PLANNED) for r in unsent]
            pump.stop()
            return False
        chunk = rows[start : start + step]
        # Rendering (and tracked links, which touch the database) stays on this thread; only the
        # WeChat calls, which wait on the network, overlap on the pool.
        messages = [_message(pump, row) for row in chunk]
        if hasattr(pump.adapter, "send_each"):
            results = _send_chunk(pump, chunk, messages)
        elif pump.pool is not None and len(chunk) > 1:
            results = list(pump.pool.map(lambda pair: _send_one(pump, *pair), zip(chunk, messages, strict=True)))
        else:
            results = [_send_one(pump, row, message) for row, message in zip(chunk, messages, strict=True)]
        for row, result in zip(chunk, results, strict=True):
            outcome = pump.outcome(row, result)
            outcomes.append(outcome)
            if pump.spends_credit:
                pump.credit_outcomes.append(outcome)
            if result.status == "sent":
                sent_rows.append(row)
        if len(outcomes) >= FLUSH_EVERY or (outcomes and time.monotonic() - flushed_at >= FLUSH_SECONDS):
            pump.flush(outcomes, sent_rows)
            flushed_at = time.monotonic()
    pump.flush(outcomes, sent_rows)
    return True


def _send_chunk(pump: Pump, chunk: list[Claimed], messages: list) -> list[SendOutcome]:
    """The chunk's sends through the adapter's send_each: one memo lookup, one rate-limit acquire and
    one memo write per chunk instead of per message; only the WeChat calls run on the pool."""
    results: list = [None] * len(chunk)
    items, positions = [], []
    for index, (row, message) in enumerate(zip(chunk, messages, strict=True)):
        if isinstance(message, Exception):
            results[index] = _render_failed(message)
        else:
            items.append((Recipient(key=str(row.id), external_id=row.external_id), message))
            positions.append(index)

    def guarded(call):
        def run(item):
            try:
                return call(item)
            except Exception as exc:
                # One bad row (an adapter bug) must not strand the whole batch in 'sending'.
                logger.exception("send failed")
                return _exception_outcome(exc)
            finally:
                if threading.current_thread() is not threading.main_thread() and connections["default"].connection is not None:
                    connections.close_all()

        return run

    def map_calls(call, seq):
        seq = list(seq)
        if pump.pool is not None and len(seq) > 1:
            return list(pump.pool.map(guarded(call), seq))
        return [guarded(call)(item) for item in seq]

    try:
        outcomes = pump.adapter.send_each(items, map_calls=map_calls)
    except Exception as exc:
        logger.exception("send_each failed for deliveries %s", [chunk[i].id for i in positions])
        outcomes = [_exception_outcome(exc)] * len(items)
    for index, outcome in zip(positions, outcomes, strict=True):
        results[index] = outcome
    return results


def _send_one(pump: Pump, row: Claimed, message) -> SendOutcome:
    if isinstance(message, Exception):
        return _render_failed(message)
    try:
        return pump.adapter.send(Recipient(key=str(row.id), external_id=row.external_id), message)
    except Exception as exc:
        # One bad row (an adapter bug) must not strand the whole batch in 'sending'.
        logger.exception("send failed for delivery %s", row.id)
        return _exception_outcome(exc)
    finally:
        if threading.current_thread() is not threading.main_thread():
            # The adapter may touch the database (43004 → unfollowed): give the thread's connection back.
            connections.close_all()


def _inbox_item(pump: Pump, r: Claimed) -> InboxItem:
    renderer = pump.renderer_for(r)
    content = renderer.content
    return InboxItem(
        customer_id=r.customer_id,
        title=renderer.text(content.get("title", ""), r, links=False),
        body=renderer.text(content.get("body", ""), r),
        link_url=renderer.link(content["url"], r) if content.get("url") else "",
        mp_page=content.get("mp_page", ""),
        campaign_id=pump.campaign.pk,
        delivery_id=r.id,
    )


def send_inbox(pump: Pump, rows: list[Claimed]) -> None:
    """Inbox only: the item goes into the customer's message centre; nothing is pushed."""
    inbox_messages_create(items=(_inbox_item(pump, r) for r in rows))
    pump.flush([Outcome(r.id, DeliveryState.SENT) for r in rows], list(rows))
    pump.result.sent += len(rows)


def _tag_key(pump: Pump, rows: list[Claimed]) -> str:
    """A mass send whose audience is exactly one mirrored WeChat tag goes as one sendall call: every
    row carries the same batch key (its clientmsgid)."""
    tag_id = pump.mass_tag_id()
    if tag_id is None:
        return ""
    key = f"c{pump.campaign.pk}-tag{tag_id}"
    fresh = [r.id for r in rows if r.batch_key != key]
    if fresh:
        Delivery.objects.filter(pk__in=fresh).update(batch_key=key)
    for r in rows:
        r.batch_key = key
    return key


def _batch_keys(pump: Pump, rows: list[Claimed], *, by_staff: bool) -> list[tuple[tuple[str, str], list[Claimed]]]:
    """The rows grouped per list call: (staff member, batch key) → rows. Rows without a key get one,
    stored before the call so a re-send reuses it (clientmsgid de-duplication)."""
    groups: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
    for row in rows:
        groups[(row.owner_staff_id if by_staff else "", row.batch_key)].append(row)
    fresh: dict[tuple[str, str], list[Claimed]] = {}
    for (staff, key), members in list(groups.items()):
        if key:
            continue
        del groups[(staff, key)]
        for start in range(0, len(members), LIST_CALL_LIMIT):
            chunk = members[start : start + LIST_CALL_LIMIT]
            new_key = f"c{pump.campaign.pk}-d{chunk[0].id}"
            Delivery.objects.filter(pk__in=[r.id for r in chunk]).update(batch_key=new_key)
            for r in chunk:
                r.batch_key = new_key
            fresh[(staff, new_key)] = chunk
    groups.update(fresh)
    return list(groups.items())


def _tag_send_msgid(pump: Pump, key: str) -> str:
    return (
        Delivery.objects.filter(campaign_id=pump.campaign.pk, batch_key=key, state__in=[DeliveryState.SENT, DeliveryState.DELIVERED])
        .exclude(msgid="").values_list("msgid", flat=True).first()
        or ""
    )


def send_lists(pump: Pump, rows: list[Claimed]) -> bool:
    """Mass sends and WeCom tasks: one list call per batch key (per staff member for WeCom)."""
    by_staff = pump.campaign.message_type == MessageType.WECOM_GROUP
    tag_key = _tag_key(pump, rows) if pump.campaign.message_type == MessageType.MASS else ""
    # Each variant of a variant test goes as its own lists (its own body).
    by_variant: dict[int | None, list[Claimed]] = defaultdict(list)
    for row in rows:
        by_variant[pump.variant_of(row)].append(row)
    ordered = [item for part in by_variant.values() for item in _batch_keys(pump, part, by_staff=by_staff)]
    for index, ((staff, key), members) in enumerate(ordered):
        if pump.state() != CampaignState.SENDING or pump.result.requeue_in:
            deliveries_release([r.id for _k, ms in ordered[index:] for r in ms], pump.campaign.pk)
            pump.stop()
            return False
        tag_id = pump.mass_tag_id() if key == tag_key and tag_key else None
        renderer = pump.renderer_for(members[0])
        message = OutboundMessage(message_type=pump.campaign.message_type, payload=renderer.batch_payload(staff=staff, tag_id=tag_id), idempotency_key=key)
        recipients = [Recipient(key=str(r.id), external_id=r.external_id) for r in members]
        earlier = _tag_send_msgid(pump, key) if tag_id is not None else ""
        if earlier:
            # The tag's one sendall call is made already (an earlier batch): these rows share it.
            answers = {r.key: SendOutcome(status="sent", msgid=earlier) for r in recipients}
        else:
            answers = pump.adapter.send_batch(recipients, message)
        outcomes, sent_rows = [], []
        for r in members:
            answer = answers.get(str(r.id)) or SendOutcome(status="retryable", error_code=SendErrorCode.MISSING_OUTCOME)
            outcomes.append(pump.outcome(r, answer))
            if answer.status == "sent":
                sent_rows.append(r)
        sent_msgids = [o.msgid for o in outcomes if o.state == DeliveryState.SENT and o.msgid]
        pump.flush(outcomes, sent_rows)
        if by_staff and sent_msgids:
            # The task waits for the staff member's confirmation; its per-customer results are polled.
            group_results_poll_schedule(account_id=pump.campaign.account_id, msgids=sent_msgids)
    return True
