"""Dispatch: claim planned deliveries in batches, re-check the contact policy, send through the
account's adapter under its rate limit, and record the outcome.

Exactly-once in practice:
- a row is claimed by a conditional `UPDATE … WHERE state = 'planned'` over `FOR UPDATE SKIP LOCKED`
  rows, so two workers never claim the same delivery;
- the delivery id (or, for list calls, the batch key stored on the rows before the call) travels to
  WeChat as client_msg_id / clientmsgid, so a worker killed after the call but before recording it is
  re-sent by the sweeper and de-duplicated by WeChat;
- outcomes are written back with `… WHERE state = 'sending'`, so a late duplicate cannot overwrite them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState, MessageType
from campaigns.planning import ACTIVE_STATES, PUSHED_AT, _tables
from campaigns.policy import CS_WINDOW_HOURS, MASS_SENDS_PER_MONTH, Policy, counts_as_marketing_push, effective_policy
from campaigns.rendering import customer_context, render, rewrite_links

logger = logging.getLogger(__name__)

LIST_CALL_LIMIT = 10_000
# SendOutcome.error_code of the adapter when the account's rate limit asked for a long wait.
RATE_LIMITED = "rate_limited"
STATE_CHECK_SECONDS = 0.5
FLUSH_EVERY = 100


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


@dataclass
class Claimed:
    id: int
    customer_id: int
    identity_id: int | None
    batch_key: str
    attempts: int
    external_id: str = ""
    owner_staff_id: str = ""
    customer: Any = None


# --- helpers ---------------------------------------------------------------------------------------


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: attempt 1 → up to 2 s, 2 → 4 s, … capped."""
    try:
        from messaging.channels.errors import backoff_delay as adapter_backoff  # the adapters' policy

        return float(adapter_backoff(attempt))
    except ImportError:
        return random.uniform(base ** max(attempt - 1, 0), min(cap, base**attempt))


def _tracked_url(*, delivery_id: int, campaign_id: int, customer_id: int, url: str) -> str:
    try:
        from campaigns.tracking.services import tracked_url
    except ImportError:
        # The tracking app is not installed on this branch: links go out untracked.
        return url
    return tracked_url(delivery_id=delivery_id, campaign_id=campaign_id, customer_id=customer_id, url=url)


def _campaign_state(campaign_id: int) -> str:
    return Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).first() or CampaignState.CANCELLED


# --- claiming ----------------------------------------------------------------------------------


def deliveries_claim(*, campaign: Campaign, limit: int) -> list[Claimed]:
    """Move up to `limit` due planned deliveries to sending; concurrent claimers skip each other's rows."""
    t = _tables()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH picked AS (
                SELECT id FROM {t['delivery']}
                WHERE campaign_id = %(campaign)s AND state = 'planned' AND (send_after IS NULL OR send_after <= clock_timestamp())
                ORDER BY send_after, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            )
            -- The ids as an init-plan array, so the rows are fetched by primary key: joined to the CTE,
            -- a freshly planned campaign (no statistics yet) got a nested loop comparing every due row
            -- with every picked id.
            UPDATE {t['delivery']} d SET state = 'sending', claimed_at = clock_timestamp(), updated_at = clock_timestamp()
            WHERE d.id = ANY(ARRAY(SELECT id FROM picked)) AND d.state = 'planned'
            RETURNING d.id, d.customer_id, d.identity_id, d.batch_key, d.attempts
            """,
            {"campaign": campaign.pk, "limit": limit},
        )
        rows = [Claimed(*row) for row in cursor.fetchall()]
    rows.sort(key=lambda r: r.id)
    return rows


def _load_recipients(rows: list[Claimed]) -> None:
    Customer = apps.get_model("customers", "Customer")
    ChannelIdentity = apps.get_model("customers", "ChannelIdentity")
    identities = {
        i["id"]: i
        for i in ChannelIdentity.objects.filter(pk__in=[r.identity_id for r in rows if r.identity_id]).values("id", "external_id", "owner_staff_id")
    }
    customers = Customer.objects.only("id", "display_name", "city", "province", "country", "gender").in_bulk([r.customer_id for r in rows])
    for row in rows:
        identity = identities.get(row.identity_id) or {}
        row.external_id = identity.get("external_id", "")
        row.owner_staff_id = identity.get("owner_staff_id", "")
        row.customer = customers.get(row.customer_id)


# --- send-time policy re-check --------------------------------------------------------------------


def _recheck(campaign: Campaign, policy: Policy, ids: list[int]) -> tuple[dict[int, str], dict[int, datetime]]:
    """Reasons to drop, and new send times for rows now inside quiet hours / outside the window."""
    t = _tables()
    marketing = counts_as_marketing_push(campaign)
    mtype = campaign.message_type
    cases = [
        ("unfollowed", "i.follow_state = 'unfollowed'" if mtype != MessageType.INBOX else "false"),
        ("do_not_disturb", "COALESCE(i.do_not_disturb, false)"),
        (
            "topic_opt_out",
            f"""EXISTS (SELECT 1 FROM {t['topicsubscription']} ts WHERE ts.customer_id = d.customer_id AND ts.opted_in = false
                AND ts.tag_id IN (SELECT tag_id FROM campaigns_campaign_topics WHERE campaign_id = %(campaign)s))""",
        ),
        ("refuses_template", "COALESCE(i.refuses_template, false)" if mtype == MessageType.TEMPLATE else "false"),
        (
            "outside_cs_window",
            f"i.last_interaction_at IS NULL OR i.last_interaction_at <= clock_timestamp() - interval '{CS_WINDOW_HOURS} hours'"
            if mtype == MessageType.CUSTOMER_SERVICE
            else "false",
        ),
        ("mass_monthly_limit", f"h.mass_month_count >= {MASS_SENDS_PER_MONTH}" if mtype == MessageType.MASS else "false"),
        ("wecom_group_limit", "h.group_day_count >= %(group_per_day)s" if mtype == MessageType.WECOM_GROUP else "false"),
    ]
    if marketing:
        cases += [
            ("preference_frequency", "pref.frequency = 'important_only' OR (pref.frequency = 'weekly_digest' AND h.week_count >= 1)"),
            ("frequency_day", "h.day_count >= %(daily_cap)s"),
            ("frequency_week", "h.week_count >= %(weekly_cap)s"),
            ("min_gap", "h.last_marketing_at > clock_timestamp() - make_interval(hours => %(gap)s)" if policy.min_gap_hours else "false"),
            (
                "fatigue",
                "COALESCE(p.ignored_push_streak, 0) >= %(k)s AND p.last_push_at > clock_timestamp() - make_interval(days => %(cool)s)"
                if policy.fatigue_ignored_pushes
                else "false",
            ),
        ]
    case_sql = " ".join(f"WHEN COALESCE(({cond}), false) THEN '{reason}'" for reason, cond in cases)
    cursor_params = {
        "ids": ids,
        "campaign": campaign.pk,
        "group_per_day": policy.wecom_group_per_day,
        "daily_cap": policy.daily_cap,
        "weekly_cap": policy.weekly_cap,
        "gap": policy.min_gap_hours,
        "k": policy.fatigue_ignored_pushes,
        "cool": policy.fatigue_cooldown_days,
        "qs": policy.quiet_start,
        "qe": policy.quiet_end,
        "ws": campaign.send_window_start,
        "we": campaign.send_window_end,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimate for this batch query is high enough to trigger JIT compilation with
        # inlining and optimisation, which costs far more (hundreds of ms) than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"""
            WITH b AS (
                SELECT d.id, d.customer_id, d.identity_id, d.claimed_at AS my_claimed_at, COALESCE(tzn.name, acc.timezone) AS tz,
                       COALESCE(pref.quiet_start, %(qs)s::time) AS qs,
                       CASE WHEN pref.quiet_start IS NOT NULL THEN pref.quiet_end ELSE %(qe)s::time END AS qe
                FROM {t['delivery']} d
                JOIN {t['customer']} c ON c.id = d.customer_id
                JOIN {t['account']} acc ON acc.id = d.account_id
                LEFT JOIN pg_timezone_names tzn ON tzn.name = NULLIF(c.timezone, '')
                LEFT JOIN {t['customerpreference']} pref ON pref.customer_id = d.customer_id
                WHERE d.id = ANY(%(ids)s)
            ), b2 AS (
                SELECT b.*, clock_timestamp() AT TIME ZONE tz AS local_now,
                       date_trunc('day', clock_timestamp() AT TIME ZONE tz) AT TIME ZONE tz AS day_start,
                       date_trunc('month', clock_timestamp() AT TIME ZONE tz) AT TIME ZONE tz AS month_start
                FROM b
            ), h AS (
                -- Per customer of the batch (an index lookup each), not one join over every customer's
                -- history: a batch is a few hundred customers, the delivery table millions of rows.
                SELECT b2.customer_id, agg.*
                FROM b2 CROSS JOIN LATERAL (
                    SELECT count(*) FILTER (WHERE o.is_marketing AND {PUSHED_AT.replace('d.', 'o.')} >= b2.day_start) AS day_count,
                           count(*) FILTER (WHERE o.is_marketing AND {PUSHED_AT.replace('d.', 'o.')} > clock_timestamp() - interval '7 days') AS week_count,
                           max({PUSHED_AT.replace('d.', 'o.')}) FILTER (WHERE o.is_marketing) AS last_marketing_at,
                           count(*) FILTER (WHERE oc.message_type = 'mass' AND {PUSHED_AT.replace('d.', 'o.')} >= b2.month_start) AS mass_month_count,
                           count(*) FILTER (WHERE oc.message_type = 'wecom_group' AND {PUSHED_AT.replace('d.', 'o.')} >= b2.day_start) AS group_day_count
                    FROM {t['delivery']} o JOIN {t['campaign']} oc ON oc.id = o.campaign_id
                    WHERE o.customer_id = b2.customer_id AND o.campaign_id <> %(campaign)s
                      AND o.state IN {ACTIVE_STATES} AND {PUSHED_AT.replace('d.', 'o.')} > least(clock_timestamp() - interval '7 days', b2.month_start)
                      -- Two campaigns claiming one customer at once: the earlier claim goes, the later one yields.
                      AND (o.state <> 'sending' OR (o.claimed_at, o.id) < (b2.my_claimed_at, b2.id))
                    -- No row (rather than zeros) for a customer without history, as a grouped join gave.
                    HAVING count(*) > 0
                ) agg
            )
            SELECT d.id,
                   CASE {case_sql} ELSE NULL END AS reason,
                   scrm_send_slot(d.local_now, %(ws)s::time, %(we)s::time, d.qs, d.qe) AT TIME ZONE d.tz AS slot,
                   d.local_now
            FROM b2 d
            LEFT JOIN {t['channelidentity']} i ON i.id = d.identity_id
            LEFT JOIN {t['customerpreference']} pref ON pref.customer_id = d.customer_id
            LEFT JOIN {t['engagementprofile']} p ON p.customer_id = d.customer_id
            LEFT JOIN h ON h.customer_id = d.customer_id
            """,
            cursor_params,
        )
        rows = cursor.fetchall()
    drop: dict[int, str] = {}
    defer: dict[int, datetime] = {}
    now = timezone.now()
    for delivery_id, reason, slot, _local in rows:
        if reason:
            drop[delivery_id] = reason
        elif slot is not None and slot > now + timedelta(seconds=1):
            defer[delivery_id] = slot
    return drop, defer


def _account_quota_left(campaign: Campaign, ids: list[int]) -> int:
    """Sends the account may still make today (its time zone): the daily quota minus today's sends and
    the rows other workers claimed before this batch (those go first)."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH me AS MATERIALIZED (SELECT min(claimed_at) AS claimed_at, min(id) AS id FROM {t['delivery']} WHERE id = ANY(%(ids)s)),
                 day AS MATERIALIZED (SELECT date_trunc('day', clock_timestamp() AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s AS start)
            -- Two counts, each on its own index (today's sends: account + sent_at; rows in flight: the
            -- 'sending' index), with the bounds as init-plan values: an OR of both, or the batch's
            -- bounds joined in, would read every delivery the account ever had, once per batch.
            SELECT (SELECT count(*) FROM {t['delivery']} d
                    WHERE d.account_id = %(account)s AND d.sent_at >= (SELECT start FROM day) AND NOT (d.id = ANY(%(ids)s)))
                 + (SELECT count(*) FROM {t['delivery']} d
                    WHERE d.state = 'sending' AND d.claimed_at >= (SELECT start FROM day) AND d.account_id = %(account)s
                      AND (d.claimed_at, d.id) < (SELECT claimed_at, id FROM me)
                      AND (d.sent_at IS NULL OR d.sent_at < (SELECT start FROM day)) AND NOT (d.id = ANY(%(ids)s)))
            """,
            {"ids": ids, "tz": campaign.account.timezone, "account": campaign.account_id},
        )
        used = cursor.fetchone()[0]
    return max(0, campaign.account.daily_quota - used)


# --- recording -----------------------------------------------------------------------------------


def _record(outcomes: list[tuple[int, str, str, str, str, datetime | None]], *, count_attempt: bool = True) -> None:
    """Write (id, state, msgid, error_code, error_message, send_after) for rows still in 'sending'."""
    if not outcomes:
        return
    t = _tables()
    values = ", ".join(["(%s::bigint, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::timestamptz)"] * len(outcomes))
    params: list[Any] = []
    for row in outcomes:
        params.extend(row)
    attempt = "d.attempts + 1" if count_attempt else "d.attempts"
    # 'deferred' rows (quiet hours, rate limit) go back to planned without spending an attempt.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {t['delivery']} d SET
                state = v.state, msgid = CASE WHEN v.msgid <> '' THEN v.msgid ELSE d.msgid END,
                error_code = v.code, error_message = left(v.msg, 255), send_after = COALESCE(v.send_after, d.send_after),
                attempts = CASE WHEN v.state IN ('sent', 'failed', 'planned') AND v.code <> 'deferred' THEN {attempt} ELSE d.attempts END,
                sent_at = CASE WHEN v.state = 'sent' THEN clock_timestamp() ELSE d.sent_at END,
                claimed_at = CASE WHEN v.state = 'planned' THEN NULL ELSE d.claimed_at END,
                updated_at = clock_timestamp()
            FROM (VALUES {values}) AS v(id, state, msgid, code, msg, send_after)
            WHERE d.id = v.id AND d.state = 'sending'
            """,
            params,
        )


def _record_push_events(campaign: Campaign, sent: list[Claimed], at: datetime) -> None:
    from customers.services import events_record_bulk

    events_record_bulk(
        {
            "customer_id": row.customer_id,
            "account_id": campaign.account_id,
            "event_type": "push.sent",
            "occurred_at": at,
            "campaign_id": campaign.pk,
            "delivery_id": row.id,
            "properties": {"message_type": campaign.message_type},
            "dedupe_key": f"push.sent:{row.id}",
        }
        for row in sent
    )


def _release(ids: list[int], campaign_id: int) -> None:
    """Give unsent claimed rows back: planned again, or cancelled when the campaign was cancelled."""
    if not ids:
        return
    Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING).update(state=DeliveryState.PLANNED, claimed_at=None)
    if _campaign_state(campaign_id) == CampaignState.CANCELLED:
        Delivery.objects.filter(pk__in=ids, state=DeliveryState.PLANNED).update(state=DeliveryState.CANCELLED)


# --- message building ----------------------------------------------------------------------------


class _Renderer:
    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.content = campaign.content or {}

    def _text(self, source: str, row: Claimed, *, links: bool = True) -> str:
        text = render(source, customer_context(row.customer, self.campaign.name)) if row.customer is not None else source
        if links:
            text = rewrite_links(text, lambda url: self._link(url, row))
        return text

    def _link(self, url: str, row: Claimed) -> str:
        return _tracked_url(delivery_id=row.id, campaign_id=self.campaign.pk, customer_id=row.customer_id, url=url)

    def _fields(self, row: Claimed) -> dict[str, dict[str, str]]:
        data = {}
        for key, value in (self.content.get("fields") or {}).items():
            item = dict(value) if isinstance(value, dict) else {"value": str(value)}
            item["value"] = self._text(str(item.get("value", "")), row, links=False)
            data[key] = item
        return data

    def payload(self, row: Claimed) -> dict[str, Any]:
        mtype = self.campaign.message_type
        c = self.content
        if mtype == MessageType.TEMPLATE:
            payload: dict[str, Any] = {"template_id": c["template_id"], "data": self._fields(row)}
            if c.get("url"):
                payload["url"] = self._link(c["url"], row)
            if c.get("miniprogram"):
                payload["miniprogram"] = c["miniprogram"]
            return payload
        if mtype == MessageType.CUSTOMER_SERVICE:
            return {"msgtype": "text", "text": {"content": self._text(c["text"], row)}}
        if mtype in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE):
            payload = {"template_id": c["template_id"], "data": self._fields(row)}
            if c.get("page"):
                payload["page"] = c["page"]
            if c.get("miniprogram"):
                payload["miniprogram"] = c["miniprogram"]
            return payload
        raise ValueError(mtype)

    def batch_payload(self, *, staff: str = "") -> dict[str, Any]:
        c = self.content
        if self.campaign.message_type == MessageType.MASS:
            return {"msgtype": "text", "text": {"content": c["text"]}}
        return {"sender": staff, "text": {"content": c["text"]}, "attachments": c.get("attachments") or []}


# --- the pump ------------------------------------------------------------------------------------


class _Pump:
    def __init__(self, campaign: Campaign, *, budget_seconds: float):
        from messaging.channels import get_adapter

        self.campaign = campaign
        self.policy = effective_policy(campaign)
        self.adapter = get_adapter(campaign.account)
        self.renderer = _Renderer(campaign)
        self.deadline = time.monotonic() + budget_seconds
        self.result = DispatchResult()
        self._checked_at = 0.0
        self._state = campaign.state
        self._subscribe_outcomes: list[tuple[int, str, str]] = []
        self.spends_consent = campaign.message_type in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE)
        self.threads = max(1, int(settings.CAMPAIGN_DISPATCH_THREADS))
        # Subscribe sends stay sequential: their consent bookkeeping is per send.
        per_thread_ok = campaign.message_type in (MessageType.TEMPLATE, MessageType.CUSTOMER_SERVICE)
        self.pool = ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 and per_thread_ok else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def state(self) -> str:
        if time.monotonic() - self._checked_at >= STATE_CHECK_SECONDS:
            self._state = _campaign_state(self.campaign.pk)
            self._checked_at = time.monotonic()
        return self._state

    def outcome_row(self, row: Claimed, outcome) -> tuple:
        if outcome.status == "sent":
            self.result.sent += 1
            return (row.id, DeliveryState.SENT, outcome.msgid or "", "", "", None)
        if outcome.error_code == RATE_LIMITED:
            # Our own limiter said wait: not an attempt, and the pump comes back after the wait.
            self.result.requeue_in = max(self.result.requeue_in or 0, outcome.retry_after or 1.0)
            return (row.id, DeliveryState.PLANNED, "", "deferred", "", timezone.now() + timedelta(seconds=outcome.retry_after or 1.0))
        attempt = row.attempts + 1
        if outcome.status == "retryable" and attempt < self.policy.max_attempts:
            self.result.retry += 1
            delay = max(outcome.retry_after or 0, backoff_delay(attempt))
            return (row.id, DeliveryState.PLANNED, "", outcome.error_code or "", outcome.error_message or "", timezone.now() + timedelta(seconds=delay))
        self.result.failed += 1
        return (row.id, DeliveryState.FAILED, "", outcome.error_code or "", outcome.error_message or "", None)

    def flush(self, outcomes: list[tuple], sent_rows: list[Claimed]) -> None:
        msgids = [row[2] for row in outcomes if row[1] == DeliveryState.SENT and row[2]]
        if msgids and self.campaign.message_type == MessageType.TEMPLATE:
            from campaigns.receivers import msgid_locks, pending_reports_apply

            with transaction.atomic():
                msgid_locks(account_id=self.campaign.account_id, msgids=msgids)
                _record(outcomes)
            pending_reports_apply(account_id=self.campaign.account_id, msgids=msgids)
        else:
            _record(outcomes)
        if sent_rows:
            _record_push_events(self.campaign, sent_rows, timezone.now())
        outcomes.clear()
        sent_rows.clear()

    def run_batch(self, rows: list[Claimed]) -> bool:
        """Send one claimed batch; False when the pump must stop (paused, cancelled, rate-limited)."""
        from messaging.channels.base import OutboundMessage, Recipient

        _load_recipients(rows)
        drop, defer = _recheck(self.campaign, self.policy, [r.id for r in rows])
        if drop or defer:
            _record(
                [(i, DeliveryState.SUPPRESSED, "", reason, "policy re-check before send", None) for i, reason in drop.items()]
                + [(i, DeliveryState.PLANNED, "", "deferred", "", at) for i, at in defer.items()],
                count_attempt=False,
            )
            self.result.suppressed += len(drop)
            self.result.deferred += len(defer)
            rows = [r for r in rows if r.id not in drop and r.id not in defer]
        mtype = self.campaign.message_type
        if mtype != MessageType.INBOX and rows:
            rows = self._within_account_quota(rows)
        if mtype in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE) and rows:
            rows = self._consume_consent(rows)
        if mtype == MessageType.INBOX:
            self._send_inbox(rows)
            return True
        if mtype in (MessageType.MASS, MessageType.WECOM_GROUP):
            return self._send_lists(rows, OutboundMessage, Recipient)
        if mtype in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE):
            try:
                return self._send_each(rows, OutboundMessage, Recipient)
            finally:
                self._refund_unsent_consent()
        return self._send_each(rows, OutboundMessage, Recipient)

    def _within_account_quota(self, rows: list[Claimed]) -> list[Claimed]:
        """Planning checked the quota days ago perhaps: other campaigns may have used it since."""
        left = _account_quota_left(self.campaign, [r.id for r in rows])
        if left >= len(rows):
            return rows
        over = rows[left:]
        _record([(r.id, DeliveryState.SUPPRESSED, "", "account_quota", "account daily quota used up at send time", None) for r in over], count_attempt=False)
        self.result.suppressed += len(over)
        return rows[:left]

    def _refund_unsent_consent(self) -> None:
        """A credit spent on a send WeChat did not accept (busy, rate limit, stopped) is given back,
        except after 43101 (the user refused: the adapter has revoked the credits)."""
        ids = [i for i, state, code in self._subscribe_outcomes if state != DeliveryState.SENT and code != "43101"]
        self._subscribe_outcomes.clear()
        if not ids:
            return
        t = _tables()
        template_id = str((self.campaign.content or {}).get("template_id", ""))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {t['consentcredit']} cc SET remaining = remaining + 1, updated_at = clock_timestamp()
                FROM {t['delivery']} d
                WHERE d.id = ANY(%s) AND d.state <> 'sent' AND cc.customer_id = d.customer_id
                  AND cc.account_id = %s AND cc.template_id = %s
                """,
                [ids, self.campaign.account_id, template_id],
            )

    def _send_each(self, rows: list[Claimed], OutboundMessage, Recipient) -> bool:
        outcomes: list[tuple] = []
        sent_rows: list[Claimed] = []
        step = self.threads * 4
        for start in range(0, len(rows), step):
            if self.state() != CampaignState.SENDING or time.monotonic() > self.deadline + 30 or self.result.requeue_in:
                self.flush(outcomes, sent_rows)
                _release([r.id for r in rows[start:]], self.campaign.pk)
                if self.spends_consent:
                    self._subscribe_outcomes += [(r.id, DeliveryState.PLANNED, "") for r in rows[start:]]
                self.result.stopped = self._state
                return False
            chunk = rows[start : start + step]
            # Rendering (and tracked links, which touch the database) stays on this thread; only the
            # WeChat calls, which wait on the network, overlap on the pool.
            messages = [self._message(row, OutboundMessage) for row in chunk]
            if hasattr(self.adapter, "send_each"):
                results = self._send_chunk(chunk, messages, Recipient)
            elif self.pool is not None and len(chunk) > 1:
                results = list(self.pool.map(lambda pair: self._send_one(*pair, Recipient), zip(chunk, messages, strict=True)))
            else:
                results = [self._send_one(row, message, Recipient) for row, message in zip(chunk, messages, strict=True)]
            for row, outcome in zip(chunk, results, strict=True):
                outcomes.append(self.outcome_row(row, outcome))
                if self.spends_consent:
                    self._subscribe_outcomes.append((row.id, outcomes[-1][1], outcome.error_code))
                if outcome.status == "sent":
                    sent_rows.append(row)
            if len(outcomes) >= FLUSH_EVERY:
                self.flush(outcomes, sent_rows)
        self.flush(outcomes, sent_rows)
        return True

    def _message(self, row: Claimed, OutboundMessage):
        try:
            return OutboundMessage(message_type=self.campaign.message_type, payload=self.renderer.payload(row), idempotency_key=str(row.id))
        except Exception as exc:
            logger.exception("render failed for delivery %s", row.id)
            return exc

    def _send_chunk(self, chunk: list[Claimed], messages: list, Recipient) -> list:
        """The chunk's sends through the adapter's send_each: one memo lookup, one rate-limit acquire and
        one memo write per chunk instead of per message; only the WeChat calls run on the pool."""
        from messaging.channels.base import SendOutcome

        results: list = [None] * len(chunk)
        items, positions = [], []
        for index, (row, message) in enumerate(zip(chunk, messages, strict=True)):
            if isinstance(message, Exception):
                results[index] = SendOutcome(status="permanent", error_code="render_failed", error_message=type(message).__name__)
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
                    return SendOutcome(status="retryable", error_code="exception", error_message=type(exc).__name__)
                finally:
                    if threading.current_thread() is not threading.main_thread() and connections["default"].connection is not None:
                        connections.close_all()

            return run

        def map_calls(call, seq):
            seq = list(seq)
            if self.pool is not None and len(seq) > 1:
                return list(self.pool.map(guarded(call), seq))
            return [guarded(call)(item) for item in seq]

        try:
            outcomes = self.adapter.send_each(items, map_calls=map_calls)
        except Exception as exc:
            logger.exception("send_each failed for deliveries %s", [chunk[i].id for i in positions])
            outcomes = [SendOutcome(status="retryable", error_code="exception", error_message=type(exc).__name__)] * len(items)
        for index, outcome in zip(positions, outcomes, strict=True):
            results[index] = outcome
        return results

    def _send_one(self, row: Claimed, message, Recipient):
        from messaging.channels.base import SendOutcome

        if isinstance(message, Exception):
            return SendOutcome(status="permanent", error_code="render_failed", error_message=type(message).__name__)
        try:
            return self.adapter.send(Recipient(key=str(row.id), external_id=row.external_id), message)
        except Exception as exc:
            # One bad row (an adapter bug) must not strand the whole batch in 'sending'.
            logger.exception("send failed for delivery %s", row.id)
            return SendOutcome(status="retryable", error_code="exception", error_message=type(exc).__name__)
        finally:
            if threading.current_thread() is not threading.main_thread():
                # The adapter may touch the database (43004 → unfollowed): give the thread's connection back.
                connections.close_all()

    def _consume_consent(self, rows: list[Claimed]) -> list[Claimed]:
        """Each subscribe message spends one consent credit (conditional update); rows without one are suppressed."""
        t = _tables()
        template_id = str((self.campaign.content or {}).get("template_id", ""))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {t['consentcredit']} SET remaining = remaining - 1, updated_at = clock_timestamp()
                WHERE account_id = %s AND template_id = %s AND customer_id = ANY(%s) AND remaining > 0
                RETURNING customer_id
                """,
                [self.campaign.account_id, template_id, [r.customer_id for r in rows]],
            )
            ok = {row[0] for row in cursor.fetchall()}
        missing = [r for r in rows if r.customer_id not in ok]
        _record([(r.id, DeliveryState.SUPPRESSED, "", "no_consent", "no consent credit left at send time", None) for r in missing], count_attempt=False)
        self.result.suppressed += len(missing)
        return [r for r in rows if r.customer_id in ok]

    def _send_inbox(self, rows: list[Claimed]) -> None:
        InboxMessage = apps.get_model("customers", "InboxMessage")
        c = self.renderer.content
        now = timezone.now()
        InboxMessage.objects.bulk_create(
            [
                InboxMessage(
                    customer_id=r.customer_id,
                    title=self.renderer._text(c.get("title", ""), r, links=False)[:128],
                    body=self.renderer._text(c.get("body", ""), r),
                    link_url=self.renderer._link(c["url"], r) if c.get("url") else "",
                    mp_page=c.get("mp_page", ""),
                    campaign_id=self.campaign.pk,
                    delivery_id=r.id,
                    created_at=now,
                )
                for r in rows
            ],
            ignore_conflicts=True,
        )
        self.flush([(r.id, DeliveryState.SENT, "", "", "", None) for r in rows], list(rows))
        self.result.sent += len(rows)

    def _send_lists(self, rows: list[Claimed], OutboundMessage, Recipient) -> bool:
        groups: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        by_staff = self.campaign.message_type == MessageType.WECOM_GROUP
        for row in rows:
            groups[(row.owner_staff_id if by_staff else "", row.batch_key)].append(row)
        # Rows without a key get one, stored before the call so a re-send reuses it (clientmsgid de-dup).
        fresh: dict[tuple[str, str], list[Claimed]] = {}
        for (staff, key), members in list(groups.items()):
            if key:
                continue
            del groups[(staff, key)]
            for start in range(0, len(members), LIST_CALL_LIMIT):
                chunk = members[start : start + LIST_CALL_LIMIT]
                new_key = f"c{self.campaign.pk}-d{chunk[0].id}"
                Delivery.objects.filter(pk__in=[r.id for r in chunk]).update(batch_key=new_key)
                for r in chunk:
                    r.batch_key = new_key
                fresh[(staff, new_key)] = chunk
        groups.update(fresh)
        ordered = list(groups.items())
        for index, ((staff, key), members) in enumerate(ordered):
            if self.state() != CampaignState.SENDING or self.result.requeue_in:
                _release([r.id for _k, ms in ordered[index:] for r in ms], self.campaign.pk)
                self.result.stopped = self._state
                return False
            message = OutboundMessage(message_type=self.campaign.message_type, payload=self.renderer.batch_payload(staff=staff), idempotency_key=key)
            recipients = [Recipient(key=str(r.id), external_id=r.external_id) for r in members]
            outcomes_by_key = self.adapter.send_batch(recipients, message)
            outcomes = []
            sent_rows = []
            for r in members:
                outcome = outcomes_by_key.get(str(r.id))
                if outcome is None:
                    from messaging.channels.base import SendOutcome

                    outcome = SendOutcome(status="retryable", error_code="missing_outcome")
                outcomes.append(self.outcome_row(r, outcome))
                if outcome.status == "sent":
                    sent_rows.append(r)
            sent_msgids = [o[2] for o in outcomes if o[1] == DeliveryState.SENT and o[2]]
            self.flush(outcomes, sent_rows)
            if by_staff and sent_msgids:
                # The task waits for the staff member's confirmation; its per-customer results are polled.
                from campaigns.group_results import group_results_poll_schedule

                group_results_poll_schedule(account_id=self.campaign.account_id, msgids=sent_msgids)
        return True


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """sending → completed once no delivery is planned or in flight."""
    pending = Delivery.objects.filter(campaign_id=campaign_id, state__in=[DeliveryState.PLANNED, DeliveryState.SENDING]).exists()
    if pending:
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING).update(state=CampaignState.COMPLETED, completed_at=timezone.now())
    )


def campaign_dispatch(*, campaign_id: int, budget_seconds: float | None = None) -> DispatchResult:
    """Send due deliveries of a sending campaign for up to `budget_seconds`, batch by batch."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None or campaign.state != CampaignState.SENDING:
        return DispatchResult(stopped=campaign.state if campaign else "missing")
    budget = budget_seconds if budget_seconds is not None else settings.CAMPAIGN_DISPATCH_SLICE_SECONDS
    pump = _Pump(campaign, budget_seconds=budget)
    try:
        return _pump_run(pump, campaign, campaign_id)
    finally:
        pump.close()


def _pump_run(pump: _Pump, campaign: Campaign, campaign_id: int) -> DispatchResult:
    limit = pump.policy.dispatch_batch_size
    if campaign.message_type in (MessageType.MASS, MessageType.WECOM_GROUP):
        limit = max(limit, LIST_CALL_LIMIT)
    while True:
        if time.monotonic() > pump.deadline:
            pump.result.requeue_in = 0
            return pump.result
        if pump.state() != CampaignState.SENDING:
            pump.result.stopped = pump._state
            return pump.result
        rows = deliveries_claim(campaign=campaign, limit=limit)
        if not rows:
            break
        if not pump.run_batch(rows):
            return pump.result
    next_due = (
        Delivery.objects.filter(campaign_id=campaign_id, state=DeliveryState.PLANNED).order_by("send_after").values_list("send_after", flat=True).first()
    )
    if next_due is not None or Delivery.objects.filter(campaign_id=campaign_id, state=DeliveryState.PLANNED).exists():
        wait = (next_due - timezone.now()).total_seconds() if next_due else 0
        pump.result.requeue_in = min(max(wait, 1.0), 60.0)
        return pump.result
    if not campaign_complete_if_done(campaign_id=campaign_id):
        # Rows still in flight (another worker, or a crashed one the sweeper will return).
        pump.result.requeue_in = 30.0
    return pump.result


def deliveries_sweep_stale(*, older_than_seconds: float) -> list[int]:
    """Return 'sending' rows whose worker died to 'planned'; their idempotency key makes the re-send safe."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {t['delivery']} SET state = 'planned', claimed_at = NULL, send_after = clock_timestamp(), updated_at = clock_timestamp()
            WHERE state = 'sending' AND claimed_at < clock_timestamp() - make_interval(secs => %s)
            RETURNING campaign_id
            """,
            [older_than_seconds],
        )
        return sorted({row[0] for row in cursor.fetchall()})
