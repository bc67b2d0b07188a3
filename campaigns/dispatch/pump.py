"""The pump: claim due deliveries batch by batch, re-check them, send, record; for a time slice, then
hand back to the task (which re-enqueues itself) so pause/cancel and other campaigns get a turn.
While it works, its LeaseKeeper keeps its claims and the campaign's sign of life fresh (liveness.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.dispatch import send
from campaigns.dispatch.claim import Claimed, campaign_state, deliveries_claim, lease_seconds, load_recipients
from campaigns.dispatch.consent import consent_refund_unsent, consent_spend
from campaigns.dispatch.cs_window import cs_window_refund_unsent, cs_window_spend
from campaigns.dispatch.liveness import LeaseKeeper, pump_alive, pump_enter, stall_seconds
from campaigns.dispatch.quota import campaign_defer_for_quota, deliveries_within_account_quota
from campaigns.dispatch.recheck import deliveries_recheck
from campaigns.dispatch.record import Outcome, outcomes_record, push_events_record
from campaigns.mass_audience import mass_audience_tag
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState, GroupSend, GroupSendState, MessageType
from campaigns.policy import effective_policy
from campaigns.receivers import msgid_locks, pending_reports_apply
from campaigns.rendering import MessageRenderer
from campaigns.variants.decision import variant_test_decide_if_due
from messaging.channels import get_adapter
from messaging.channels.base import SendOutcome
from messaging.channels.errors import backoff_delay
from messaging.errors import SendErrorCode

STATE_CHECK_SECONDS = 0.5
SUBSCRIBE_TYPES = (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE)
# WeChat refused a customer-service message as outside the customer's window / over its messages: the
# window was closed or used up after our check (a reply by another system): held, not failed.
CS_WINDOW_ERRCODES = {"45015": "outside_cs_window", "45047": "cs_quota_used"}


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    retry: int = 0
    suppressed: int = 0
    deferred: int = 0
    # None: nothing more to do now; otherwise seconds after which the pump should run again.
    requeue_in: float | None = None
    stopped: str = ""
    # The pump generation the next slice carries (campaigns/dispatch/liveness.py).
    generation: int | None = None


class Pump:
    """One time slice of one campaign's sending; `run_batch` sends one claimed batch."""

    def __init__(self, campaign: Campaign, *, budget_seconds: float, keeper: LeaseKeeper | None = None):
        self.campaign = campaign
        self.keeper = keeper
        self.policy = effective_policy(campaign)
        self.adapter = get_adapter(campaign.account)
        self.renderer = MessageRenderer(campaign)
        self.deadline = time.monotonic() + budget_seconds
        self.result = DispatchResult()
        self._checked_at = 0.0
        self._state = campaign.state
        # Outcomes of sends that spent a credit (a subscribe consent, a message of the customer-service
        # window), given back when WeChat did not take the send.
        self.credit_outcomes: list[Outcome] = []
        self.spends_credit = campaign.message_type in (*SUBSCRIBE_TYPES, MessageType.CUSTOMER_SERVICE)
        # The latest quota that put a send off in this batch (campaigns/dispatch/quota.py).
        self.quota_refusal: SendOutcome | None = None
        self._mass_tag: tuple[int | None] | None = None
        self._renderers: dict[int, MessageRenderer] = {}
        self._variants: dict[int, int | None] = {}
        self.threads = max(1, int(settings.CAMPAIGN_DISPATCH_THREADS))
        # Subscribe sends stay sequential: their consent bookkeeping is per send.
        per_thread_ok = campaign.message_type in (MessageType.TEMPLATE, MessageType.CUSTOMER_SERVICE)
        self.pool = ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 and per_thread_ok else None

    def renderer_for(self, row: Claimed) -> MessageRenderer:
        """The renderer of the row's variant (the campaign's one renderer without a variant test)."""
        variant = self._variants.get(row.id)
        if variant is None:
            return self.renderer
        if variant not in self._renderers:
            self._renderers[variant] = MessageRenderer(self.campaign, variant)
        return self._renderers[variant]

    def variants_load(self, rows: list[Claimed]) -> None:
        if (self.campaign.content or {}).get("variants") and rows:
            self._variants.update(Delivery.objects.filter(pk__in=[r.id for r in rows]).values_list("id", "variant"))

    def variant_of(self, row: Claimed) -> int | None:
        return self._variants.get(row.id)

    def mass_tag_id(self) -> int | None:
        """The WeChat tag a mass send goes to by sendall (decided once per time slice), or None."""
        if self._mass_tag is None:
            self._mass_tag = (mass_audience_tag(self.campaign),)
        return self._mass_tag[0]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def state(self) -> str:
        """The campaign's state, re-read at most every STATE_CHECK_SECONDS."""
        if time.monotonic() - self._checked_at >= STATE_CHECK_SECONDS:
            self._state = campaign_state(self.campaign.pk)
            self._checked_at = time.monotonic()
        return self._state

    def stop(self) -> None:
        self.result.stopped = self._state

    def outcome(self, row: Claimed, sent: SendOutcome) -> Outcome:
        """The delivery's next state from the adapter's answer (counted in the result)."""
        if sent.status == "sent":
            self.result.sent += 1
            return Outcome(row.id, DeliveryState.SENT, msgid=sent.msgid or "")
        if sent.error_code == SendErrorCode.RATE_LIMITED:
            # Our own limiter said wait: not an attempt, and the pump comes back after the wait.
            self.result.requeue_in = max(self.result.requeue_in or 0, sent.retry_after or 1.0)
            return Outcome(row.id, DeliveryState.PLANNED, error_code=SendErrorCode.DEFERRED, send_after=timezone.now() + timedelta(seconds=sent.retry_after or 1.0))
        if sent.defer_until is not None:
            # A quota (known limit or WeChat's 45009/45011): the send waits for it to turn, no attempt spent;
            # the slice ends and the batch puts the campaign's other sends off too.
            self.result.deferred += 1
            if self.quota_refusal is None or sent.defer_until >= self.quota_refusal.defer_until:
                self.quota_refusal = sent
            self.result.requeue_in = max(self.result.requeue_in or 0, min(max(sent.retry_after or 1.0, 1.0), 60.0))
            return Outcome(
                row.id, DeliveryState.PLANNED, error_code=SendErrorCode.QUOTA_DEFERRED,
                error_message=f"{sent.error_code}: {sent.error_message}", send_after=sent.defer_until,
            )
        if self.campaign.message_type == MessageType.CUSTOMER_SERVICE and sent.error_code in CS_WINDOW_ERRCODES:
            self.result.suppressed += 1
            return Outcome(row.id, DeliveryState.SUPPRESSED, error_code=CS_WINDOW_ERRCODES[sent.error_code], error_message=f"{sent.error_code}: {sent.error_message}")
        attempt = row.attempts + 1
        if sent.status == "retryable" and attempt < self.policy.max_attempts:
            self.result.retry += 1
            delay = max(sent.retry_after or 0, backoff_delay(attempt))
            return Outcome(
                row.id, DeliveryState.PLANNED, error_code=sent.error_code or "", error_message=sent.error_message or "",
                send_after=timezone.now() + timedelta(seconds=delay),
            )
        self.result.failed += 1
        return Outcome(row.id, DeliveryState.FAILED, error_code=sent.error_code or "", error_message=sent.error_message or "")

    def flush(self, outcomes: list[Outcome], sent_rows: list[Claimed]) -> None:
        """Record the outcomes gathered so far (and their push.sent events); empties both lists."""
        msgids = [o.msgid for o in outcomes if o.state == DeliveryState.SENT and o.msgid]
        if msgids and self.campaign.message_type == MessageType.TEMPLATE:
            # A delivery report may already be waiting for these msgids: recorded and applied in order.
            with transaction.atomic():
                msgid_locks(account_id=self.campaign.account_id, msgids=msgids)
                outcomes_record(outcomes)
            pending_reports_apply(account_id=self.campaign.account_id, msgids=msgids)
        else:
            outcomes_record(outcomes)
        if sent_rows:
            push_events_record(self.campaign, sent_rows, timezone.now())
        outcomes.clear()
        sent_rows.clear()

    def suppress(self, rows: list[Claimed], *, code: str, message: str) -> None:
        outcomes_record([Outcome(r.id, DeliveryState.SUPPRESSED, error_code=code, error_message=message) for r in rows], count_attempt=False)
        self.result.suppressed += len(rows)

    def run_batch(self, rows: list[Claimed]) -> bool:
        """Send one claimed batch; False when the pump must stop (paused, cancelled, rate-limited, a quota)."""
        try:
            return self._send_batch(rows)
        finally:
            refusal, self.quota_refusal = self.quota_refusal, None
            if refusal is not None:
                campaign_defer_for_quota(campaign=self.campaign, until=refusal.defer_until, reason=refusal.error_code, detail=refusal.error_message)

    def _send_batch(self, rows: list[Claimed]) -> bool:
        load_recipients(rows, sender_rule=self.campaign.wecom_sender_rule)
        self.variants_load(rows)
        drop, defer = deliveries_recheck(campaign=self.campaign, policy=self.policy, ids=[r.id for r in rows])
        if drop or defer:
            outcomes_record(
                [Outcome(i, DeliveryState.SUPPRESSED, error_code=reason, error_message="policy re-check before send") for i, reason in drop.items()]
                + [Outcome(i, DeliveryState.PLANNED, error_code=SendErrorCode.DEFERRED, send_after=at) for i, at in defer.items()],
                count_attempt=False,
            )
            self.result.suppressed += len(drop)
            self.result.deferred += len(defer)
            rows = [r for r in rows if r.id not in drop and r.id not in defer]
        mtype = self.campaign.message_type
        if mtype != MessageType.INBOX and rows:
            rows, over = deliveries_within_account_quota(campaign=self.campaign, rows=rows)
            self.suppress(over, code="account_quota", message="account daily quota used up at send time")
        if mtype in SUBSCRIBE_TYPES and rows:
            rows, without = consent_spend(campaign=self.campaign, rows=rows)
            self.suppress(without, code="no_consent", message="no consent credit left at send time")
        if mtype == MessageType.CUSTOMER_SERVICE and rows:
            rows, held = cs_window_spend(rows=rows)
            for reason, held_rows in held.items():
                self.suppress(held_rows, code=reason, message="customer-service window checked at send time")
        if mtype == MessageType.INBOX:
            send.send_inbox(self, rows)
            return True
        if mtype in (MessageType.MASS, MessageType.WECOM_GROUP):
            return send.send_lists(self, rows)
        if self.spends_credit:
            try:
                return send.send_each(self, rows)
            finally:
                if mtype in SUBSCRIBE_TYPES:
                    consent_refund_unsent(campaign=self.campaign, outcomes=self.credit_outcomes)
                else:
                    cs_window_refund_unsent(outcomes=self.credit_outcomes)
                self.credit_outcomes.clear()
        return send.send_each(self, rows)


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """sending → completed once no delivery is planned or in flight."""
    pending = Delivery.objects.filter(campaign_id=campaign_id, state__in=[DeliveryState.PLANNED, DeliveryState.SENDING]).exists()
    if pending or GroupSend.objects.filter(campaign_id=campaign_id, state__in=[GroupSendState.PLANNED, GroupSendState.SENDING]).exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING).update(state=CampaignState.COMPLETED, completed_at=timezone.now())
    )


def campaign_dispatch(*, campaign_id: int, budget_seconds: float | None = None, generation: int | None = None) -> DispatchResult:
    """Send due deliveries of a sending campaign for up to `budget_seconds`, batch by batch. A pump of
    an older `generation` than the campaign's steps aside while a current one is alive."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None or campaign.state != CampaignState.SENDING:
        return DispatchResult(stopped=campaign.state if campaign else "missing")
    current = pump_enter(campaign_id=campaign_id, generation=generation)
    if current is None:
        return DispatchResult(stopped="superseded")
    budget = budget_seconds if budget_seconds is not None else settings.CAMPAIGN_DISPATCH_SLICE_SECONDS
    keeper = LeaseKeeper(campaign_id).start()
    try:
        pump = Pump(campaign, budget_seconds=budget, keeper=keeper)
        try:
            result = _pump_run(pump, campaign)
        finally:
            pump.close()
    finally:
        # Never left renewing: a pump that failed must look dead to the watchdog.
        keeper.stop()
    # A stranger (older generation, let in because no pump was alive) takes the current generation on:
    # it is the campaign's live pump now, and a current pump's queued task then runs beside it.
    result.generation = current
    if result.requeue_in is not None:
        # Alive until the next slice is due, and a grace for the queue: past that, the watchdog re-pumps.
        pump_alive(campaign_id=campaign_id, for_seconds=result.requeue_in + stall_seconds())
    return result


def _pump_run(pump: Pump, campaign: Campaign) -> DispatchResult:
    # A cells-mode variant test whose wait is over: decided here, its rest released to this run.
    variant_test_decide_if_due(campaign_id=campaign.pk)
    limit = pump.policy.dispatch_batch_size
    if campaign.message_type in (MessageType.MASS, MessageType.WECOM_GROUP):
        limit = max(limit, send.LIST_CALL_LIMIT)
    while True:
        if time.monotonic() > pump.deadline:
            pump.result.requeue_in = 0
            return pump.result
        if pump.state() != CampaignState.SENDING:
            pump.stop()
            return pump.result
        rows = deliveries_claim(campaign=campaign, limit=limit)
        if not rows:
            break
        if pump.keeper is not None:
            pump.keeper.hold([r.id for r in rows])
        if not pump.run_batch(rows):
            return pump.result
    planned = Delivery.objects.filter(campaign_id=campaign.pk, state=DeliveryState.PLANNED)
    next_due = planned.order_by("send_after").values_list("send_after", flat=True).first()
    if next_due is not None or planned.exists():
        wait = (next_due - timezone.now()).total_seconds() if next_due else 0
        pump.result.requeue_in = min(max(wait, 1.0), 60.0)
        return pump.result
    if not campaign_complete_if_done(campaign_id=campaign.pk):
        # Rows still in flight (another pump's, or a dead worker's that the watchdog returns once
        # their lease lapses): look again after a lease.
        pump.result.requeue_in = lease_seconds()
    return pump.result
