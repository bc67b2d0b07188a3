"""Planning: audience snapshot → suppressions by reason → deliveries, as a handful of SQL statements.

1. `_create_audience` builds temp tables: the snapshot's members not yet planned or suppressed for this
   campaign; their identity on the account, preference and engagement facts; the send slots (send
   window, quiet hours, send-time optimisation in local time) per distinct time zone / quiet hours /
   best hour; and their recent push history.
2. One statement decides every customer's fate (a CASE over the reasons in funnel order, the first
   match wins, then the ranked cuts) and writes the suppressions with their reason and the
   deliveries from that one decision. Both are unique per (campaign, customer): planning twice
   creates nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Delivery, MessageType, Suppression, SuppressionReason
from campaigns.policy import CS_WINDOW_HOURS, MASS_SENDS_PER_MONTH, Policy, counts_as_marketing_push, effective_policy
from scrm.errors import ApplicationError

logger = logging.getLogger(__name__)

ACTIVE_STATES = "('sending', 'sent', 'delivered')"
# The effective "push time" of a delivery already under way or done.
PUSHED_AT = "COALESCE(d.sent_at, d.claimed_at)"


def planning_available() -> bool:
    """Planning is PostgreSQL SQL (functions of migration 0004); the embedded SQLite cannot run it."""
    return connection.vendor == "postgresql"


def planning_require_postgresql() -> None:
    """Refuse planning on the embedded SQLite database with a 400 that says what to do."""
    if not planning_available():
        raise ApplicationError(
            "Campaign planning needs PostgreSQL; this server runs on the embedded SQLite database. "
            "Set DATABASE_URL (e.g. postgres://user:password@host:5432/scrm), run migrate, and restart.",
            code="needs_postgresql",
            detail={"database": connection.vendor},
        )


@dataclass
class PlanResult:
    audience: int
    suppressed: dict[str, int]
    planned: int


def _tables() -> dict[str, str]:
    member = apps.get_model("customers", "SegmentSnapshotMember")
    names = {
        "member": member._meta.db_table,
        "delivery": Delivery._meta.db_table,
        "suppression": Suppression._meta.db_table,
        "campaign": Campaign._meta.db_table,
    }
    for model in ("Customer", "ChannelIdentity", "CustomerPreference", "TopicSubscription", "EngagementProfile", "ConsentCredit"):
        names[model.lower()] = apps.get_model("customers", model)._meta.db_table
    names["account"] = apps.get_model("accounts", "ChannelAccount")._meta.db_table
    return names


def audience_best_hour(*, snapshot_id: int) -> int | None:
    """The most common best hour of the audience: the send-time fallback for customers without one."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT mode() WITHIN GROUP (ORDER BY p.best_hour) FROM {t['member']} m "
            f"JOIN {t['engagementprofile']} p ON p.customer_id = m.customer_id "
            f"WHERE m.snapshot_id = %s AND p.best_hour IS NOT NULL",
            [snapshot_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


# The audience with its send slot, as the reasons and the inserts read it (`a` in their SQL).
AUDIENCE = """(
    SELECT pa.*, z.slot, z.day_start, z.day_end, z.month_start
    FROM plan_audience pa JOIN plan_slots z ON z.slot_key = pa.slot_key
)"""


PLAN_TEMP_TABLES = ("plan_history", "plan_slots", "plan_audience", "plan_members")


def _drop_temp_tables(cursor) -> None:
    # They drop themselves at commit; a second planning in the same transaction (tests, previews) needs them gone.
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(PLAN_TEMP_TABLES)}")


def _create_audience(cursor, *, campaign: Campaign, snapshot_id: int, policy: Policy, start_at, fallback_hour) -> None:
    """Temp tables: the snapshot's members, the facts of those still to plan, and the send slots.

    The members come first, on their own and analysed, so that the big join below is planned for
    the audience's real size (hash joins for a million customers, index lookups for a few hundred);
    a snapshot written moments ago has no statistics. A send slot depends only on the customer's
    time zone, quiet hours and (with send-time optimisation) best hour, so it is computed once per
    distinct combination in `plan_slots` and joined by `slot_key`, instead of once per customer.
    """
    t = _tables()
    topic_ids = list(campaign.topics.values_list("id", flat=True))
    sto = campaign.send_time_optimization
    _drop_temp_tables(cursor)
    cursor.execute(
        f"""
        CREATE TEMP TABLE plan_members ON COMMIT DROP AS
        SELECT m.customer_id FROM {t['member']} m WHERE m.snapshot_id = %(snapshot)s
        """,
        {"snapshot": snapshot_id},
    )
    cursor.execute("ANALYZE plan_members")
    cursor.execute(
        f"""
        CREATE TEMP TABLE plan_audience ON COMMIT DROP AS
        WITH base AS (
            SELECT pm.customer_id, i.id AS identity_id, i.follow_state, i.do_not_disturb, i.refuses_template,
                   i.owner_staff_id, i.last_interaction_at,
                   NULLIF(c.timezone, '') AS tz_name,
                   CASE WHEN %(sto)s THEN p.best_hour END AS best_hour,
                   pref.frequency AS pref_frequency,
                   COALESCE(pref.quiet_start, %(qs)s::time) AS qs,
                   CASE WHEN pref.quiet_start IS NOT NULL THEN pref.quiet_end ELSE %(qe)s::time END AS qe,
                   COALESCE(p.ignored_push_streak, 0) AS ignored_streak, p.last_push_at,
                   CASE WHEN cardinality(%(topics)s::text[]) = 0 THEN COALESCE(p.score, 0)
                        ELSE 0.5 * COALESCE(p.score, 0) + 0.5 * COALESCE((
                            SELECT max((p.topic_affinity ->> k)::float) FROM unnest(%(topics)s::text[]) k
                            WHERE jsonb_typeof(p.topic_affinity -> k) = 'number'), 0)
                   END AS predicted
            FROM plan_members pm
            JOIN {t['customer']} c ON c.id = pm.customer_id AND c.erased_at IS NULL
            -- One identity on the account per customer: the following one, else the newest.
            LEFT JOIN (
                SELECT DISTINCT ON (ci.customer_id) ci.customer_id, ci.id, ci.follow_state, ci.do_not_disturb,
                       ci.refuses_template, ci.owner_staff_id, ci.last_interaction_at
                FROM plan_members x
                JOIN {t['channelidentity']} ci ON ci.customer_id = x.customer_id AND ci.account_id = %(account)s AND ci.kind = %(kind)s
                ORDER BY ci.customer_id, (ci.follow_state = 'following') DESC, ci.id DESC
            ) i ON i.customer_id = pm.customer_id
            LEFT JOIN {t['customerpreference']} pref ON pref.customer_id = pm.customer_id
            LEFT JOIN {t['engagementprofile']} p ON p.customer_id = pm.customer_id
            WHERE NOT EXISTS (SELECT 1 FROM {t['delivery']} d WHERE d.campaign_id = %(campaign)s AND d.customer_id = pm.customer_id)
              AND NOT EXISTS (SELECT 1 FROM {t['suppression']} s WHERE s.campaign_id = %(campaign)s AND s.customer_id = pm.customer_id)
        )
        SELECT base.*,
               concat_ws('|', COALESCE(tz_name, ''), COALESCE(best_hour::text, ''), COALESCE(qs::text, ''), COALESCE(qe::text, '')) AS slot_key
        FROM base
        """,
        {
            "qs": policy.quiet_start,
            "qe": policy.quiet_end,
            "topics": [str(pk) for pk in topic_ids],
            "account": campaign.account_id,
            "kind": campaign.account.identity_kind,
            "sto": sto,
            "campaign": campaign.pk,
        },
    )
    cursor.execute("CREATE INDEX ON plan_audience (customer_id)")
    cursor.execute("ANALYZE plan_audience")
    # Invalid zone names would abort the statement: only names PostgreSQL knows are used, else the account's.
    cursor.execute(
        f"""
        CREATE TEMP TABLE plan_slots ON COMMIT DROP AS
        WITH combos AS (
            SELECT DISTINCT slot_key, tz_name, best_hour, qs, qe FROM plan_audience
        ), zoned AS (
            SELECT combos.*, COALESCE(tzn.name, acc.timezone) AS tz
            FROM combos
            JOIN {t['account']} acc ON acc.id = %(account)s
            LEFT JOIN pg_timezone_names tzn ON tzn.name = combos.tz_name
        ), slotted AS (
            SELECT zoned.*,
                   scrm_send_slot(
                       CASE WHEN %(sto)s AND COALESCE(best_hour, %(fallback)s) IS NOT NULL
                                 AND (%(ws)s::time IS NULL OR scrm_time_in(make_time(COALESCE(best_hour, %(fallback)s), 0, 0), %(ws)s::time, %(we)s::time))
                            THEN scrm_next_hour(%(start)s::timestamptz AT TIME ZONE tz, COALESCE(best_hour, %(fallback)s))
                            ELSE %(start)s::timestamptz AT TIME ZONE tz END,
                       %(ws)s::time, %(we)s::time, qs, qe) AS local_slot
            FROM zoned
        )
        SELECT slot_key,
               local_slot AT TIME ZONE tz AS slot,
               date_trunc('day', local_slot) AT TIME ZONE tz AS day_start,
               (date_trunc('day', local_slot) + interval '1 day') AT TIME ZONE tz AS day_end,
               date_trunc('month', local_slot) AT TIME ZONE tz AS month_start
        FROM slotted
        """,
        {
            "account": campaign.account_id,
            "sto": sto,
            "fallback": fallback_hour,
            "ws": campaign.send_window_start,
            "we": campaign.send_window_end,
            "start": start_at,
        },
    )
    cursor.execute("ANALYZE plan_slots")
    # Each customer's recent pushes of other campaigns, aggregated once (one join, not a subquery per rule).
    cursor.execute(
        f"""
        CREATE TEMP TABLE plan_history ON COMMIT DROP AS
        SELECT a.customer_id,
               count(*) FILTER (WHERE d.is_marketing AND {PUSHED_AT} >= a.day_start AND {PUSHED_AT} < a.day_end) AS day_count,
               count(*) FILTER (WHERE d.is_marketing AND {PUSHED_AT} > a.slot - interval '7 days') AS week_count,
               max({PUSHED_AT}) FILTER (WHERE d.is_marketing) AS last_marketing_at,
               count(*) FILTER (WHERE oc.message_type = 'mass' AND {PUSHED_AT} >= a.month_start) AS mass_month_count,
               count(*) FILTER (WHERE oc.message_type = 'wecom_group' AND {PUSHED_AT} >= a.day_start AND {PUSHED_AT} < a.day_end) AS group_day_count
        FROM {AUDIENCE} a
        JOIN {t['delivery']} d ON d.customer_id = a.customer_id AND d.campaign_id <> %(campaign)s
             AND d.state IN {ACTIVE_STATES} AND {PUSHED_AT} > least(a.slot - interval '7 days', a.month_start)
        JOIN {t['campaign']} oc ON oc.id = d.campaign_id
        GROUP BY a.customer_id
        """,
        {"campaign": campaign.pk},
    )
    cursor.execute("CREATE INDEX ON plan_history (customer_id)")


def _reason_conditions(campaign: Campaign, policy: Policy) -> list[tuple[str, str, dict]]:
    """(reason, SQL condition over `a` (audience) and `h` (history), params) in funnel order."""
    t = _tables()
    mtype = campaign.message_type
    marketing = counts_as_marketing_push(campaign)
    content = campaign.content or {}
    reasons: list[tuple[str, str, dict]] = [
        (SuppressionReason.NO_IDENTITY, "a.identity_id IS NULL", {}),
    ]
    if mtype != MessageType.INBOX:
        reasons.append((SuppressionReason.UNFOLLOWED, "a.follow_state = 'unfollowed'", {}))
    reasons.append((SuppressionReason.DO_NOT_DISTURB, "a.do_not_disturb", {}))
    reasons.append(
        (
            SuppressionReason.TOPIC_OPT_OUT,
            f"""EXISTS (SELECT 1 FROM {t['topicsubscription']} ts WHERE ts.customer_id = a.customer_id
                AND ts.opted_in = false AND ts.tag_id IN (SELECT tag_id FROM campaigns_campaign_topics WHERE campaign_id = %(campaign)s))""",
            {},
        )
    )
    if mtype == MessageType.TEMPLATE:
        reasons.append((SuppressionReason.REFUSES_TEMPLATE, "a.refuses_template", {}))
    if mtype == MessageType.WECOM_GROUP:
        reasons.append((SuppressionReason.WECOM_NO_OWNER, "COALESCE(a.owner_staff_id, '') = ''", {}))
    if mtype in (MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE):
        reasons.append(
            (
                SuppressionReason.NO_CONSENT,
                f"""NOT EXISTS (SELECT 1 FROM {t['consentcredit']} cc WHERE cc.customer_id = a.customer_id
                    AND cc.account_id = %(account)s AND cc.template_id = %(template_id)s AND cc.remaining > 0)""",
                {"template_id": str(content.get("template_id", ""))},
            )
        )
    if mtype == MessageType.CUSTOMER_SERVICE:
        reasons.append(
            (
                SuppressionReason.OUTSIDE_CS_WINDOW,
                f"a.last_interaction_at IS NULL OR a.last_interaction_at <= a.slot - interval '{CS_WINDOW_HOURS} hours'",
                {},
            )
        )
    if mtype == MessageType.MASS:
        reasons.append((SuppressionReason.MASS_MONTHLY_LIMIT, f"COALESCE(h.mass_month_count, 0) >= {MASS_SENDS_PER_MONTH}", {}))
    if mtype == MessageType.WECOM_GROUP:
        reasons.append(
            (SuppressionReason.WECOM_GROUP_LIMIT, "COALESCE(h.group_day_count, 0) >= %(group_per_day)s", {"group_per_day": policy.wecom_group_per_day})
        )
    if marketing:
        reasons += [
            (
                SuppressionReason.PREFERENCE_FREQUENCY,
                "a.pref_frequency = 'important_only' OR (a.pref_frequency = 'weekly_digest' AND COALESCE(h.week_count, 0) >= 1)",
                {},
            ),
            (SuppressionReason.FREQUENCY_DAY, "COALESCE(h.day_count, 0) >= %(daily_cap)s", {"daily_cap": policy.daily_cap}),
            (SuppressionReason.FREQUENCY_WEEK, "COALESCE(h.week_count, 0) >= %(weekly_cap)s", {"weekly_cap": policy.weekly_cap}),
        ]
        if policy.min_gap_hours:
            reasons.append(
                (
                    SuppressionReason.MIN_GAP,
                    "h.last_marketing_at > a.slot - make_interval(hours => %(gap)s)",
                    {"gap": policy.min_gap_hours},
                )
            )
        if policy.fatigue_ignored_pushes:
            reasons.append(
                (
                    SuppressionReason.FATIGUE,
                    "a.ignored_streak >= %(k)s AND a.last_push_at > a.slot - make_interval(days => %(cool)s)",
                    {"k": policy.fatigue_ignored_pushes, "cool": policy.fatigue_cooldown_days},
                )
            )
    if campaign.min_predicted_engagement is not None:
        reasons.append((SuppressionReason.LOW_PREDICTED_ENGAGEMENT, "a.predicted < %(min_pred)s", {"min_pred": campaign.min_predicted_engagement}))
    return reasons


def _decision_sql(*, campaign: Campaign, policy: Policy, quota_left: int | None) -> tuple[str, dict]:
    """One SELECT over the audience giving each customer its suppression reason (NULL: deliver).

    The reasons are a CASE in funnel order, so the first matching one wins, as one INSERT per reason
    did; the ranked cuts (top percent, holdout, account quota) then apply in that order to the
    customers still eligible, each ranked best predicted engagement first."""
    params: dict = {}
    cases = []
    for index, (reason, condition, extra) in enumerate(_reason_conditions(campaign, policy)):
        params[f"reason_{index}"] = str(reason)
        params.update(extra)
        cases.append(f"WHEN ({condition}) THEN %(reason_{index})s")
    sql = f"""
        SELECT a.customer_id, a.identity_id, a.slot, a.predicted, CASE {" ".join(cases)} END AS reason
        FROM {AUDIENCE} a LEFT JOIN plan_history h ON h.customer_id = a.customer_id
    """
    if campaign.top_percent:
        params.update(low=str(SuppressionReason.LOW_PREDICTED_ENGAGEMENT), pct=campaign.top_percent)
        sql = f"""
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL
                             AND row_number() OVER (PARTITION BY r.reason IS NULL ORDER BY r.predicted DESC, r.customer_id)
                                 > ceil(count(*) OVER (PARTITION BY r.reason IS NULL) * %(pct)s / 100.0)
                        THEN %(low)s ELSE r.reason END AS reason
            FROM ({sql}) r
        """
    if campaign.holdout_percent:
        params.update(holdout=str(SuppressionReason.HOLDOUT), hkey=str(_holdout_key(campaign)), hpct=campaign.holdout_percent)
        sql = f"""
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL AND mod(abs(hashtext(%(hkey)s || ':' || r.customer_id::text)), 100) < %(hpct)s
                        THEN %(holdout)s ELSE r.reason END AS reason
            FROM ({sql}) r
        """
    if quota_left is not None:
        params.update(quota=str(SuppressionReason.ACCOUNT_QUOTA), left=quota_left)
        sql = f"""
            SELECT r.customer_id, r.identity_id, r.slot, r.predicted,
                   CASE WHEN r.reason IS NULL
                             AND row_number() OVER (PARTITION BY r.reason IS NULL ORDER BY r.predicted DESC, r.customer_id) > %(left)s
                        THEN %(quota)s ELSE r.reason END AS reason
            FROM ({sql}) r
        """
    return sql, params


def _write_decision(cursor, *, decision: str, params: dict, skip_existing: bool) -> list[tuple[str | None, int]]:
    """Write suppressions and deliveries from one materialized decision; (reason or None, count) rows.

    One pass: the audience is read once instead of once per reason, and rows go in customer order, so
    index insertions touch neighbouring pages instead of random ones.
    """
    on_conflict = "ON CONFLICT (campaign_id, customer_id) DO NOTHING" if skip_existing else ""
    cursor.execute(
        f"""
        WITH decided AS MATERIALIZED ({decision}),
        suppressed AS (
            INSERT INTO {Suppression._meta.db_table} (campaign_id, customer_id, reason, created_at)
            SELECT %(campaign)s, customer_id, reason, %(now)s FROM decided WHERE reason IS NOT NULL
            ORDER BY customer_id
            {on_conflict}
            RETURNING reason
        ),
        planned AS (
            INSERT INTO {Delivery._meta.db_table}
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
        """,
        params,
    )
    return cursor.fetchall()


def _holdout_key(campaign: Campaign) -> int:
    # Recurring runs share their template's key, so a held-out customer stays held out.
    return campaign.parent_id or campaign.pk


def _account_quota_left(cursor, *, campaign: Campaign) -> int:
    account = campaign.account
    cursor.execute(
        f"""
        SELECT count(*) FROM {Delivery._meta.db_table} d
        WHERE d.account_id = %(account)s AND d.state IN ('planned', 'sending', 'sent', 'delivered')
          AND COALESCE(d.sent_at, d.send_after, d.created_at) >= date_trunc('day', now() AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s
        """,
        {"account": account.pk, "tz": account.timezone},
    )
    return max(0, account.daily_quota - cursor.fetchone()[0])


def campaign_plan_audience(*, campaign: Campaign, snapshot_id: int, start_at=None) -> PlanResult:
    """Apply the contact policy to a snapshot and create the deliveries (run inside a transaction)."""
    planning_require_postgresql()
    now = timezone.now()
    start_at = start_at or now
    if campaign.scheduled_at and campaign.scheduled_at > start_at:
        start_at = campaign.scheduled_at
    policy = effective_policy(campaign)
    fallback = audience_best_hour(snapshot_id=snapshot_id) if campaign.send_time_optimization else None
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        # Two sorts of the whole audience (time zones, rankings): in memory rather than on disk. JIT
        # compiling these wide CASE expressions costs more than it saves. SET LOCAL ends with the
        # planning transaction.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute("SET LOCAL jit = off")
        _create_audience(cursor, campaign=campaign, snapshot_id=snapshot_id, policy=policy, start_at=start_at, fallback_hour=fallback)
        cursor.execute("SELECT count(*) FROM plan_audience")
        audience = cursor.fetchone()[0]
        left = _account_quota_left(cursor, campaign=campaign) if campaign.message_type != MessageType.INBOX else None
        decision, params = _decision_sql(campaign=campaign, policy=policy, quota_left=left)
        params.update(campaign=campaign.pk, account=campaign.account_id, marketing=counts_as_marketing_push(campaign), now=now)
        try:
            # The audience already leaves out every customer with a row for this campaign, and planning
            # holds the campaign's row lock, so the plain INSERTs conflict with nothing; ON CONFLICT
            # would make every row pay a speculative insertion. Should another transaction have
            # written rows meanwhile (a preview racing a plan), the unique keys refuse the statement and
            # it runs again, skipping what exists: nothing is created twice either way.
            with transaction.atomic():
                rows = _write_decision(cursor, decision=decision, params=params, skip_existing=False)
        except IntegrityError:
            logger.info("campaign %s: planning met rows written concurrently; skipping those", campaign.pk)
            rows = _write_decision(cursor, decision=decision, params=params, skip_existing=True)
        planned = 0
        for reason, count in rows:
            if reason is None:
                planned = count
            else:
                counts[SuppressionReason(reason)] = count
        _drop_temp_tables(cursor)
    return PlanResult(audience=audience, suppressed={k: v for k, v in counts.items() if v}, planned=planned)
