"""Planning's statements, as named builders composed with `psycopg.sql` (`campaigns/planning.py` runs them).

The temp tables: `plan_members` (the snapshot's customers), `plan_audience` (those still to plan, with
their facts under the customers' tables' column names), `plan_slots` (send slot and local day/month
per distinct time zone / quiet hours / best hour) and `plan_history` (recent pushes of other
campaigns). The decision reads the audience with its slot as `a` and the history as `h`.
"""

from __future__ import annotations

from psycopg import sql

from accounts.models import ChannelAccount
from campaigns.models import Campaign, Delivery, Suppression
from campaigns.policy import Policy
from campaigns.policy_sql import Facts, Window, history_columns, history_scope, reason_case, steered_by_expected_value
from customers.models import ChannelIdentity, Customer, CustomerPreference, EngagementProfile, SegmentSnapshotMember
from scrm.sqltools import table

PLAN_TEMP_TABLES = ("plan_history", "plan_slots", "plan_audience", "plan_members")

# They drop themselves at commit; a second planning in the same transaction (tests, previews) needs them gone.
DROP_TEMP_TABLES = sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(sql.Identifier(name) for name in PLAN_TEMP_TABLES))

AUDIENCE_BEST_HOURS = sql.SQL(
    """
    SELECT p.best_hour, count(*) FROM {member} m
    JOIN {profile} p ON p.customer_id = m.customer_id
    WHERE m.snapshot_id = %s AND p.best_hour IS NOT NULL
    GROUP BY p.best_hour
    """
).format(member=table(SegmentSnapshotMember), profile=table(EngagementProfile))

MEMBERS = sql.SQL(
    """
    CREATE TEMP TABLE plan_members ON COMMIT DROP AS
    SELECT m.customer_id FROM {member} m WHERE m.snapshot_id = %(snapshot)s
    """
).format(member=table(SegmentSnapshotMember))

# Params: qs, qe (the policy's quiet hours), topics, account, kind, sto, campaign.
AUDIENCE = sql.SQL(
    """
    CREATE TEMP TABLE plan_audience ON COMMIT DROP AS
    WITH base AS (
        SELECT pm.customer_id, i.id AS identity_id, i.follow_state, i.do_not_disturb, i.refuses_template,
               i.owner_staff_id, i.last_interaction_at, i.cs_window_kind, i.cs_window_sends,
               NULLIF(c.timezone, '') AS tz_name,
               CASE WHEN %(sto)s THEN p.best_hour END AS best_hour,
               pref.frequency,
               COALESCE(pref.quiet_start, %(qs)s::time) AS qs,
               CASE WHEN pref.quiet_start IS NOT NULL THEN pref.quiet_end ELSE %(qe)s::time END AS qe,
               COALESCE(p.ignored_push_streak, 0) AS ignored_push_streak, p.last_push_at,
               CASE WHEN cardinality(%(topics)s::text[]) = 0 THEN COALESCE(p.score, 0)
                    ELSE 0.5 * COALESCE(p.score, 0) + 0.5 * COALESCE((
                        SELECT max((p.topic_affinity ->> k)::float) FROM unnest(%(topics)s::text[]) k
                        WHERE jsonb_typeof(p.topic_affinity -> k) = 'number'), 0)
               END AS predicted
        FROM plan_members pm
        JOIN {customer} c ON c.id = pm.customer_id AND c.erased_at IS NULL
        -- One identity on the account per customer: the following one, else the newest.
        LEFT JOIN (
            SELECT DISTINCT ON (ci.customer_id) ci.customer_id, ci.id, ci.follow_state, ci.do_not_disturb,
                   ci.refuses_template, ci.owner_staff_id, ci.last_interaction_at, ci.cs_window_kind, ci.cs_window_sends
            FROM plan_members x
            JOIN {identity} ci ON ci.customer_id = x.customer_id AND ci.account_id = %(account)s AND ci.kind = %(kind)s
            ORDER BY ci.customer_id, (ci.follow_state = 'following') DESC, ci.id DESC
        ) i ON i.customer_id = pm.customer_id
        LEFT JOIN {preference} pref ON pref.customer_id = pm.customer_id
        LEFT JOIN {profile} p ON p.customer_id = pm.customer_id
        WHERE NOT EXISTS (SELECT 1 FROM {delivery} d WHERE d.campaign_id = %(campaign)s AND d.customer_id = pm.customer_id)
          AND NOT EXISTS (SELECT 1 FROM {suppression} s WHERE s.campaign_id = %(campaign)s AND s.customer_id = pm.customer_id)
    )
    SELECT base.*,
           concat_ws('|', COALESCE(tz_name, ''), COALESCE(best_hour::text, ''), COALESCE(qs::text, ''), COALESCE(qe::text, '')) AS slot_key
    FROM base
    """
).format(
    customer=table(Customer), identity=table(ChannelIdentity), preference=table(CustomerPreference),
    profile=table(EngagementProfile), delivery=table(Delivery), suppression=table(Suppression),
)

# Invalid zone names would abort the statement: only names PostgreSQL knows are used, else the account's.
# Params: account, sto, fallback (best hour), ws, we (send window), start.
SLOTS = sql.SQL(
    """
    CREATE TEMP TABLE plan_slots ON COMMIT DROP AS
    WITH combos AS (
        SELECT DISTINCT slot_key, tz_name, best_hour, qs, qe FROM plan_audience
    ), zoned AS (
        SELECT combos.*, COALESCE(tzn.name, acc.timezone) AS tz
        FROM combos
        JOIN {account} acc ON acc.id = %(account)s
        LEFT JOIN pg_timezone_names tzn ON tzn.name = combos.tz_name
    ), slotted AS (
        SELECT zoned.*,
               scrm_send_slot(
                   CASE WHEN %(sto)s AND edge IS NOT NULL
                             AND (%(ws)s::time IS NULL OR scrm_time_in(edge, %(ws)s::time, %(we)s::time))
                        THEN CASE WHEN scrm_time_in(l::time, edge, qs) THEN l
                                  WHEN l::time < edge THEN date_trunc('day', l) + edge
                                  ELSE date_trunc('day', l) + interval '1 day' + edge END
                        WHEN %(sto)s AND hour IS NOT NULL
                             AND (%(ws)s::time IS NULL OR scrm_time_in(make_time(hour, 0, 0), %(ws)s::time, %(we)s::time))
                        THEN scrm_next_hour(l, hour)
                        ELSE l END,
                   %(ws)s::time, %(we)s::time, qs, qe) AS local_slot
        FROM (
            -- A reader whose hour falls in their quiet hours gets the push shortly before those begin
            -- (`edge`: quiet_edge_margin before, campaigns.planning): it waits for them in WeChat, the
            -- less long the better, where one sent after the quiet hours would miss the visit it was
            -- meant for and wait a day.
            SELECT zoned.*, %(start)s::timestamptz AT TIME ZONE tz AS l,
                   CASE WHEN inside THEN (qs - %(margin)s::interval)::time END AS edge,
                   CASE WHEN inside THEN extract(hour FROM qs - %(margin)s::interval)::int ELSE reader_hour END AS hour
            FROM (
                SELECT zoned.*, COALESCE(best_hour, %(fallback)s) AS reader_hour,
                       scrm_time_in(make_time(COALESCE(best_hour, %(fallback)s), 0, 0), qs, qe) AS inside
                FROM zoned
            ) zoned
        ) zoned
    )
    SELECT slot_key,
           local_slot AT TIME ZONE tz AS slot,
           date_trunc('day', local_slot) AT TIME ZONE tz AS day_start,
           (date_trunc('day', local_slot) + interval '1 day') AT TIME ZONE tz AS day_end,
           date_trunc('month', local_slot) AT TIME ZONE tz AS month_start,
           extract(hour FROM local_slot)::int AS local_hour
    FROM slotted
    """
).format(account=table(ChannelAccount))

# The audience with its send slot, as the history and the decision read it (`a`).
_AUDIENCE_WITH_SLOT = sql.SQL(
    """(
    SELECT pa.*, z.slot, z.day_start, z.day_end, z.month_start
    FROM plan_audience pa JOIN plan_slots z ON z.slot_key = pa.slot_key
)"""
)

_A, _H, _PUSH, _PUSH_CAMPAIGN = sql.Identifier("a"), sql.Identifier("h"), sql.Identifier("d"), sql.Identifier("oc")


def _audience(column: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(_A, sql.Identifier(column))


# Planning looks at the planned send slot and the customer's local day and month around it.
SLOT_WINDOW = Window(at=_audience("slot"), day_start=_audience("day_start"), day_end=_audience("day_end"), month_start=_audience("month_start"))
# Every fact of a customer is a column of the audience row; the history is its own row.
PLANNING_FACTS = Facts(recipient=_A, identity=_A, preference=_A, profile=_A, history=_H, at=_audience("slot"))

# Each customer's recent pushes of other campaigns, aggregated once (one join, not a subquery per rule).
# Params: campaign.
HISTORY = sql.SQL(
    """
    CREATE TEMP TABLE plan_history ON COMMIT DROP AS
    SELECT a.customer_id, {columns}
    FROM {audience} a
    JOIN {delivery} d ON d.customer_id = a.customer_id AND {scope}
    JOIN {campaign} oc ON oc.id = d.campaign_id
    GROUP BY a.customer_id
    """
).format(
    columns=history_columns(_PUSH, _PUSH_CAMPAIGN, SLOT_WINDOW),
    audience=_AUDIENCE_WITH_SLOT,
    delivery=table(Delivery),
    scope=history_scope(_PUSH, SLOT_WINDOW),
    campaign=table(Campaign),
)


def decision(*, campaign: Campaign, policy: Policy, top_percent: bool, holdout: bool, quota: bool) -> sql.Composable:
    """One SELECT over the audience giving each customer its suppression reason (NULL: deliver).

    The reasons are a CASE in funnel order, so the first matching one wins; the ranked cuts (top
    percent, holdout, account quota) then apply in that order to the customers still eligible, each
    ranked best predicted engagement first. Params: the reasons' (`reason_params`), and per cut
    low + pct, holdout + hkey + hpct, quota + left."""
    # Steered by expected value, the cuts rank by the Thompson draw of expected value (exploration
    # included: an untried customer can rank above a known one), else by predicted engagement.
    rank = sql.SQL("a.ev_sample") if steered_by_expected_value(campaign, policy) else sql.SQL("a.predicted")
    query: sql.Composable = sql.SQL(
        "SELECT a.customer_id, a.identity_id, a.slot, {rank} AS predicted, {reason} AS reason FROM {audience} a LEFT JOIN plan_history h ON h.customer_id = a.customer_id"
    ).format(rank=rank, reason=reason_case(campaign, policy, PLANNING_FACTS, at_send=False), audience=_AUDIENCE_WITH_SLOT)
    if top_percent:
        query = sql.SQL(
            """
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL
                             AND row_number() OVER (PARTITION BY r.reason IS NULL ORDER BY r.predicted DESC, r.customer_id)
                                 > ceil(count(*) OVER (PARTITION BY r.reason IS NULL) * %(pct)s / 100.0)
                        THEN %(low)s ELSE r.reason END AS reason
            FROM ({}) r
            """
        ).format(query)
    if holdout:
        query = sql.SQL(
            """
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL AND mod(abs(hashtext(%(hkey)s || ':' || r.customer_id::text)), 100) < %(hpct)s
                        THEN %(holdout)s ELSE r.reason END AS reason
            FROM ({}) r
            """
        ).format(query)
    if quota:
        query = sql.SQL(
            """
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL
                             AND row_number() OVER (PARTITION BY r.reason IS NULL ORDER BY r.predicted DESC, r.customer_id) > %(left)s
                        THEN %(quota)s ELSE r.reason END AS reason
            FROM ({}) r
            """
        ).format(query)
    return query


def decision_write(decided: sql.Composable, *, skip_existing: bool) -> sql.Composable:
    """Write suppressions and deliveries from one materialized decision; returns (reason or NULL, count) rows.

    One pass: the audience is read once instead of once per reason, and rows go in customer order, so
    index insertions touch neighbouring pages instead of random ones. Params: campaign, account,
    marketing, now."""
    on_conflict = sql.SQL("ON CONFLICT (campaign_id, customer_id) DO NOTHING") if skip_existing else sql.SQL("")
    return sql.SQL(
        """
        WITH decided AS MATERIALIZED ({decided}),
        suppressed AS (
            INSERT INTO {suppression} (campaign_id, customer_id, reason, created_at)
            SELECT %(campaign)s, customer_id, reason, %(now)s FROM decided WHERE reason IS NOT NULL
            ORDER BY customer_id
            {on_conflict}
            RETURNING reason
        ),
        planned AS (
            INSERT INTO {delivery}
                (campaign_id, customer_id, identity_id, account_id, state, send_after, is_marketing, batch_key,
                 attempts, msgid, error_code, error_message, created_at, updated_at)
            SELECT %(campaign)s, customer_id, identity_id, %(account)s, 'planned', slot, %(marketing)s, '',
                   0, '', '', '', %(now)s, %(now)s
            FROM decided WHERE reason IS NULL
            ORDER BY customer_id
            {on_conflict}
            RETURNING 1
        )
        SELECT reason, count(*) FROM suppressed GROUP BY reason
        UNION ALL SELECT NULL, count(*) FROM planned
        """
    ).format(decided=decided, suppression=table(Suppression), delivery=table(Delivery), on_conflict=on_conflict)
