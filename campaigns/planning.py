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

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns import planning_sql
from campaigns.budget import budget_prepare
from campaigns.counters import campaign_counters_add_suppressed
from campaigns.errors import CampaignError
from campaigns.models import Campaign, MessageType, SuppressionReason
from campaigns.policy import Policy, counts_as_marketing_push, covering_hour, effective_policy, quiet_edge_margin
from campaigns.policy_sql import account_quota_left, reason_params
from campaigns.variants.assign import variants_assign
from scrm.errors import ApplicationError
from scrm.sqltools import render

logger = logging.getLogger(__name__)


def planning_available() -> bool:
    """Planning is PostgreSQL SQL (functions of migration 0004); the embedded SQLite cannot run it."""
    return connection.vendor == "postgresql"


def planning_require_postgresql() -> None:
    """Refuse planning on the embedded SQLite database with a 400 that says what to do."""
    if not planning_available():
        raise ApplicationError(
            gettext(
                "Campaign planning needs PostgreSQL; this server runs on the embedded SQLite database. "
                "Set DATABASE_URL (e.g. postgres://user:password@host:5432/scrm), run migrate, and restart."
            ),
            code=CampaignError.NEEDS_POSTGRESQL,
            detail={"database": connection.vendor},
        )


@dataclass
class PlanResult:
    audience: int
    suppressed: dict[str, int]
    planned: int


def audience_best_hour(*, snapshot_id: int, policy: Policy | None = None) -> int | None:
    """The send-time fallback for customers without a best hour: the hour that reaches most of the
    audience's learned best hours before the push goes stale (`campaigns.policy.covering_hour`)."""
    with connection.cursor() as cursor:
        cursor.execute(render(planning_sql.AUDIENCE_BEST_HOURS), [snapshot_id])
        hours = dict(cursor.fetchall())
    return covering_hour(hours, quiet_start=policy.quiet_start if policy else None, quiet_end=policy.quiet_end if policy else None)


def _create_audience(cursor, *, campaign: Campaign, snapshot_id: int, policy: Policy, start_at, fallback_hour) -> int:
    """Temp tables: the snapshot's members, the facts of those still to plan, and the send slots; the audience's size.

    The members come first, on their own and analysed, so that the big join below is planned for
    the audience's real size (hash joins for a million customers, index lookups for a few hundred);
    a snapshot written moments ago has no statistics. A send slot depends only on the customer's
    time zone, quiet hours and (with send-time optimisation) best hour, so it is computed once per
    distinct combination in `plan_slots` and joined by `slot_key`, instead of once per customer.
    """
    topic_ids = list(campaign.topics.values_list("id", flat=True))
    sto = campaign.send_time_optimization
    cursor.execute(render(planning_sql.DROP_TEMP_TABLES))
    cursor.execute(render(planning_sql.MEMBERS), {"snapshot": snapshot_id})
    cursor.execute("ANALYZE plan_members")
    cursor.execute(
        render(planning_sql.AUDIENCE),
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
    cursor.execute("SELECT count(*) FROM plan_audience")
    audience = cursor.fetchone()[0]
    margin = quiet_edge_margin(audience=audience, rate_per_second=campaign.account.rate_limit_per_second)
    cursor.execute(
        render(planning_sql.SLOTS),
        {
            "account": campaign.account_id,
            "sto": sto,
            "fallback": fallback_hour,
            "ws": campaign.send_window_start,
            "we": campaign.send_window_end,
            "start": start_at,
            "margin": margin,
        },
    )
    cursor.execute("ANALYZE plan_slots")
    if campaign.steer_by_expected_value and counts_as_marketing_push(campaign):
        budget_prepare(cursor, campaign=campaign, policy=policy, start_at=start_at, now=timezone.now())
    cursor.execute(render(planning_sql.HISTORY), {"campaign": campaign.pk})
    cursor.execute("CREATE INDEX ON plan_history (customer_id)")
    return audience


def _decision(*, campaign: Campaign, policy: Policy, quota_left: int | None) -> tuple[str, dict]:
    """The decision statement (reasons in funnel order, then the ranked cuts) and its parameters."""
    params = reason_params(campaign, policy)
    if campaign.top_percent:
        params.update(low=str(SuppressionReason.LOW_PREDICTED_ENGAGEMENT), pct=campaign.top_percent)
    if campaign.holdout_percent:
        params.update(holdout=str(SuppressionReason.HOLDOUT), hkey=str(_holdout_key(campaign)), hpct=campaign.holdout_percent)
    if quota_left is not None:
        params.update(quota=str(SuppressionReason.ACCOUNT_QUOTA), left=quota_left)
    query = planning_sql.decision(
        campaign=campaign, policy=policy, top_percent=bool(campaign.top_percent), holdout=bool(campaign.holdout_percent), quota=quota_left is not None
    )
    return query, params


def _write_decision(cursor, *, decision, params: dict, skip_existing: bool) -> list[tuple[str | None, int]]:
    """Write suppressions and deliveries from one materialized decision; (reason or None, count) rows."""
    cursor.execute(render(planning_sql.decision_write(decision, skip_existing=skip_existing)), params)
    return cursor.fetchall()


def _holdout_key(campaign: Campaign) -> int:
    # Recurring runs share their template's key, so a held-out customer stays held out.
    return campaign.parent_id or campaign.pk


def campaign_plan_audience(*, campaign: Campaign, snapshot_id: int, start_at=None) -> PlanResult:
    """Apply the contact policy to a snapshot and create the deliveries (run inside a transaction)."""
    planning_require_postgresql()
    now = timezone.now()
    start_at = start_at or now
    if campaign.scheduled_at and campaign.scheduled_at > start_at:
        start_at = campaign.scheduled_at
    policy = effective_policy(campaign)
    fallback = audience_best_hour(snapshot_id=snapshot_id, policy=policy) if campaign.send_time_optimization else None
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        # Two sorts of the whole audience (time zones, rankings): in memory rather than on disk. JIT
        # compiling these wide CASE expressions costs more than it saves. SET LOCAL ends with the
        # planning transaction.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute("SET LOCAL jit = off")
        audience = _create_audience(cursor, campaign=campaign, snapshot_id=snapshot_id, policy=policy, start_at=start_at, fallback_hour=fallback)
        # The same daily quota as the send-time check (campaigns/policy_sql.py): what the account used today.
        left = account_quota_left(cursor, campaign=campaign, ids=[]) if campaign.message_type != MessageType.INBOX else None
        decision, params = _decision(campaign=campaign, policy=policy, quota_left=left)
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
        cursor.execute(render(planning_sql.DROP_TEMP_TABLES))
    variants_assign(campaign=campaign)
    # The reasons of the rows written just now, in the same transaction (the funnel reads these).
    campaign_counters_add_suppressed(campaign_id=campaign.pk, suppressed={str(k): v for k, v in counts.items()})
    return PlanResult(audience=audience, suppressed={k: v for k, v in counts.items() if v}, planned=planned)
