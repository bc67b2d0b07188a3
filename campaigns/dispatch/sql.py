"""Dispatch's statements, as named builders composed with `psycopg.sql` (the reasons, the history and
the daily quota come from the one contact policy in `campaigns/policy_sql.py`)."""

from __future__ import annotations

from psycopg import sql

from accounts.models import ChannelAccount
from campaigns.counters import MUTE_ERROR_CODES
from campaigns.models import Campaign, CampaignCounters, Delivery
from campaigns.policy import Policy
from campaigns.policy_sql import Facts, Window, history_columns, history_scope, reason_case
from customers.models import ChannelIdentity, Customer, CustomerPreference, EngagementProfile
from messaging.errors import SendErrorCode
from scrm.sqltools import table

# Params: campaign, limit, lease (seconds).
CLAIM = sql.SQL(
    """
    WITH picked AS (
        SELECT id FROM {delivery}
        WHERE campaign_id = %(campaign)s AND state = 'planned' AND (send_after IS NULL OR send_after <= clock_timestamp())
        ORDER BY send_after, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    )
    -- The ids as an init-plan array, so the rows are fetched by primary key: joined to the CTE,
    -- a freshly planned campaign (no statistics yet) got a nested loop comparing every due row
    -- with every picked id.
    UPDATE {delivery} d SET state = 'sending', claimed_at = clock_timestamp(), updated_at = clock_timestamp(),
        lease_until = clock_timestamp() + make_interval(secs => %(lease)s)
    WHERE d.id = ANY(ARRAY(SELECT id FROM picked)) AND d.state = 'planned'
    RETURNING d.id, d.customer_id, d.identity_id, d.batch_key, d.attempts
    """
).format(delivery=table(Delivery))

# Params: ids, lease (seconds). Only rows still in 'sending': an outcome already recorded is final.
LEASES_RENEW = sql.SQL(
    """
    UPDATE {delivery} SET lease_until = clock_timestamp() + make_interval(secs => %(lease)s)
    WHERE id = ANY(%(ids)s) AND state = 'sending'
    """
).format(delivery=table(Delivery))

# Params: lease (seconds). A row claimed before leases existed (lease_until empty) expires a lease
# after its claim. Uses index: delivery_sending_idx (the few rows in flight).
SWEEP_EXPIRED = sql.SQL(
    """
    UPDATE {delivery} SET state = 'planned', claimed_at = NULL, lease_until = NULL, send_after = clock_timestamp(),
        updated_at = clock_timestamp()
    WHERE state = 'sending'
      AND COALESCE(lease_until, claimed_at + make_interval(secs => %(lease)s)) < clock_timestamp()
    RETURNING campaign_id
    """
).format(delivery=table(Delivery))

# Params: campaign, generation (NULL: a pump that predates generations), seconds. A pump may run a
# slice when it belongs to the campaign's current generation, or when no pump is alive (a generation
# merely enqueued is not alive: its pumps may wait in a long queue, and a pump that turns up first
# must not step aside for them). Returns the current generation, which such a pump takes on, or no
# row: the pump stops.
PUMP_ENTER = sql.SQL(
    """
    UPDATE {campaign} SET pump_alive_until = GREATEST(pump_alive_until, clock_timestamp() + make_interval(secs => %(seconds)s))
    WHERE id = %(campaign)s AND state = 'sending'
      AND (%(generation)s::integer IS NULL OR pump_generation = %(generation)s::integer
           OR pump_alive_until IS NULL OR pump_alive_until < clock_timestamp())
    RETURNING pump_generation
    """
).format(campaign=table(Campaign))

# Params: campaign, seconds. A pump is alive (while it works, or until its next slice is due).
PUMP_ALIVE = sql.SQL(
    """
    UPDATE {campaign} SET pump_alive_until = GREATEST(pump_alive_until, clock_timestamp() + make_interval(secs => %(seconds)s))
    WHERE id = %(campaign)s AND state = 'sending'
    """
).format(campaign=table(Campaign))

# Params: campaigns (ids whose claims just lapsed), seconds. Sending campaigns with no live pump get a
# new generation, unless the current one was enqueued less than `seconds` ago (its pumps may still be
# on their way; a dead worker's lapsed claims do not wait for that). A campaign with a live pump is
# left to it: the claims handed back are planned again, and it sends them.
# Uses index: the campaign state index (few campaigns are sending).
# Campaigns to customer groups have no pumps (campaigns/groups/send.py sends them).
PUMPS_RESTART = sql.SQL(
    """
    UPDATE {campaign} SET pump_generation = pump_generation + 1, pump_restarted_at = clock_timestamp()
    WHERE state = 'sending' AND (content -> 'group_audience') IS NULL
      AND (pump_alive_until IS NULL OR pump_alive_until < clock_timestamp())
      AND (id = ANY(%(campaigns)s) OR pump_restarted_at IS NULL
           OR pump_restarted_at < clock_timestamp() - make_interval(secs => %(seconds)s))
    RETURNING id, pump_generation
    """
).format(campaign=table(Campaign))

# The batch row is `d`, its identity `i`, preference `pref`, profile `p`, history `h`; the push is now.
_D, _H, _PUSH, _PUSH_CAMPAIGN = sql.Identifier("d"), sql.Identifier("h"), sql.Identifier("o"), sql.Identifier("oc")
_NOW = sql.SQL("clock_timestamp()")
SEND_TIME_FACTS = Facts(recipient=_D, identity=sql.Identifier("i"), preference=sql.Identifier("pref"), profile=sql.Identifier("p"), history=_H, at=_NOW)


def _batch(column: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier("b2"), sql.Identifier(column))


# Send time looks at today and this month in the customer's time zone.
NOW_WINDOW = Window(at=_NOW, day_start=_batch("day_start"), day_end=_batch("day_end"), month_start=_batch("month_start"))


def recheck(*, campaign: Campaign, policy: Policy) -> sql.Composable:
    """Per delivery of the batch: the first reason (re-checked at send time) that now holds, and the
    send slot (window and quiet hours) from now. Params: ids, qs, qe, ws, we, and the reasons'."""
    return sql.SQL(
        """
        WITH b AS (
            SELECT d.id, d.customer_id, d.identity_id, d.claimed_at AS my_claimed_at, COALESCE(tzn.name, acc.timezone) AS tz,
                   COALESCE(pref.quiet_start, %(qs)s::time) AS qs,
                   CASE WHEN pref.quiet_start IS NOT NULL THEN pref.quiet_end ELSE %(qe)s::time END AS qe
            FROM {delivery} d
            JOIN {customer} c ON c.id = d.customer_id
            JOIN {account} acc ON acc.id = d.account_id
            LEFT JOIN pg_timezone_names tzn ON tzn.name = NULLIF(c.timezone, '')
            LEFT JOIN {preference} pref ON pref.customer_id = d.customer_id
            WHERE d.id = ANY(%(ids)s)
        ), b2 AS (
            SELECT b.*, clock_timestamp() AT TIME ZONE tz AS local_now,
                   date_trunc('day', clock_timestamp() AT TIME ZONE tz) AT TIME ZONE tz AS day_start,
                   (date_trunc('day', clock_timestamp() AT TIME ZONE tz) + interval '1 day') AT TIME ZONE tz AS day_end,
                   date_trunc('month', clock_timestamp() AT TIME ZONE tz) AT TIME ZONE tz AS month_start
            FROM b
        ), h AS (
            -- Per customer of the batch (an index lookup each), not one join over every customer's
            -- history: a batch is a few hundred customers, the delivery table millions of rows.
            SELECT b2.customer_id, agg.*
            FROM b2 CROSS JOIN LATERAL (
                SELECT {history}
                FROM {delivery} o JOIN {campaign} oc ON oc.id = o.campaign_id
                WHERE o.customer_id = b2.customer_id AND {scope}
                  -- Two campaigns claiming one customer at once: the earlier claim goes, the later one yields.
                  AND (o.state <> 'sending' OR (o.claimed_at, o.id) < (b2.my_claimed_at, b2.id))
                -- No row (rather than zeros) for a customer without history, as a grouped join gave.
                HAVING count(*) > 0
            ) agg
        )
        SELECT d.id,
               {reason} AS reason,
               scrm_send_slot(d.local_now, %(ws)s::time, %(we)s::time, d.qs, d.qe) AT TIME ZONE d.tz AS slot,
               d.local_now
        FROM b2 d
        LEFT JOIN {identity} i ON i.id = d.identity_id
        LEFT JOIN {preference} pref ON pref.customer_id = d.customer_id
        LEFT JOIN {profile} p ON p.customer_id = d.customer_id
        LEFT JOIN h ON h.customer_id = d.customer_id
        """
    ).format(
        delivery=table(Delivery),
        customer=table(Customer),
        account=table(ChannelAccount),
        preference=table(CustomerPreference),
        identity=table(ChannelIdentity),
        profile=table(EngagementProfile),
        campaign=table(Campaign),
        history=history_columns(_PUSH, _PUSH_CAMPAIGN, NOW_WINDOW),
        scope=history_scope(_PUSH, NOW_WINDOW),
        reason=reason_case(campaign, policy, SEND_TIME_FACTS, at_send=True),
    )


def record(*, rows: int, count_attempt: bool) -> sql.Composable:
    """Write `rows` outcomes (id, state, msgid, code, message, send_after) to the rows still in 'sending',
    and add the rows that became sent / failed to their campaign's counters (campaigns.counters).

    'deferred' and 'quota_deferred' rows (quiet hours, rate limit, a WeChat quota) go back to planned
    without spending an attempt; so do
    outcomes recorded with count_attempt=False (suppressed or deferred before the send). Only rows
    this statement moved out of 'sending' are counted: a late duplicate outcome counts nothing."""
    row = sql.SQL("(%s::bigint, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::timestamptz)")
    attempts = sql.SQL("d.attempts + 1") if count_attempt else sql.SQL("d.attempts")
    return sql.SQL(
        """
        WITH changed AS (
            UPDATE {delivery} d SET
                state = v.state, msgid = CASE WHEN v.msgid <> '' THEN v.msgid ELSE d.msgid END,
                error_code = v.code, error_message = left(v.msg, 255), send_after = COALESCE(v.send_after, d.send_after),
                attempts = CASE WHEN v.state IN ('sent', 'failed', 'planned') AND v.code NOT IN ({deferred}) THEN {attempts} ELSE d.attempts END,
                sent_at = CASE WHEN v.state = 'sent' THEN clock_timestamp() ELSE d.sent_at END,
                claimed_at = CASE WHEN v.state = 'planned' THEN NULL ELSE d.claimed_at END,
                updated_at = clock_timestamp()
            FROM (VALUES {values}) AS v(id, state, msgid, code, msg, send_after)
            WHERE d.id = v.id AND d.state = 'sending'
            RETURNING d.campaign_id, d.state, d.error_code, d.sent_at
        ), counted AS (
            SELECT campaign_id,
                   count(*) FILTER (WHERE state = 'sent') AS sent,
                   count(*) FILTER (WHERE state = 'failed') AS failed,
                   count(*) FILTER (WHERE state = 'failed' AND error_code IN ({mutes})) AS mutes,
                   min(sent_at) FILTER (WHERE state = 'sent') AS first_sent_at,
                   max(sent_at) FILTER (WHERE state = 'sent') AS last_sent_at
            FROM changed GROUP BY campaign_id
        )
        INSERT INTO {counters} AS k (campaign_id, sent, delivered, failed, clicked, mutes, first_sent_at, last_sent_at,
                                     suppressed_by_reason, lift_counts, updated_at)
        SELECT campaign_id, sent, 0, failed, 0, mutes, first_sent_at, last_sent_at, '{{}}'::jsonb, '{{}}'::jsonb, clock_timestamp() FROM counted
        WHERE sent + failed > 0
        ON CONFLICT (campaign_id) DO UPDATE SET
            sent = k.sent + EXCLUDED.sent, failed = k.failed + EXCLUDED.failed, mutes = k.mutes + EXCLUDED.mutes,
            first_sent_at = LEAST(k.first_sent_at, EXCLUDED.first_sent_at),
            last_sent_at = GREATEST(k.last_sent_at, EXCLUDED.last_sent_at), updated_at = EXCLUDED.updated_at
        """
    ).format(
        delivery=table(Delivery),
        counters=table(CampaignCounters),
        attempts=attempts,
        deferred=sql.SQL(", ").join(sql.Literal(code.value) for code in (SendErrorCode.DEFERRED, SendErrorCode.QUOTA_DEFERRED)),
        mutes=sql.SQL(", ").join(sql.Literal(code) for code in MUTE_ERROR_CODES),
        values=sql.SQL(", ").join([row] * rows),
    )
