"""The contact policy in SQL, written once: the reason catalogue, a customer's push history and the
account's daily quota, as `psycopg.sql` composables over whatever aliases a statement gives its rows.

Planning (`campaigns/planning_sql.py`) renders them over its audience temp tables, at the planned send
slot; the send-time re-check (`campaigns/dispatch/sql.py`) over the claimed batch, at the clock. Both
read the same facts under the same column names (the customers' tables' own names), so a reason's
condition is the same text in both, only the aliases differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from accounts.models import WeComGroupMsgPeriod, wecom_group_msg_default
from campaigns.models import Campaign, Delivery, MessageType, SuppressionReason
from campaigns.policy import MASS_SENDS_PER_MONTH, Policy, counts_as_marketing_push
from customers.models import ConsentCredit, TopicSubscription
from customers.services.cs_window import window_open, window_used
from scrm.sqltools import render, table

# Deliveries that count as pushes (under way or done) for the caps and the history.
ACTIVE_STATES = ("sending", "sent", "delivered")


@dataclass(frozen=True)
class Facts:
    """Where a statement keeps the facts the reasons read, and the moment the push would go out.

    `recipient` has customer_id, identity_id (and at planning predicted); `identity` follow_state,
    do_not_disturb, refuses_template, owner_staff_id, last_interaction_at, cs_window_kind, cs_window_sends;
    `preference` frequency;
    `profile` ignored_push_streak, last_push_at; `history` the columns of `history_columns`."""

    recipient: sql.Identifier
    identity: sql.Identifier
    preference: sql.Identifier
    profile: sql.Identifier
    history: sql.Identifier
    at: sql.Composable


@dataclass(frozen=True)
class Reason:
    """One reason of the funnel: when it applies to a campaign, its condition, and whether the send-time
    re-check tests it again (reasons about facts planning fixed, like consent or targeting, are not)."""

    name: SuppressionReason
    applies: Callable[[Campaign, Policy], bool]
    condition: Callable[[Facts], sql.Composable]
    at_send: bool = True


def _always(campaign: Campaign, policy: Policy) -> bool:
    return True


def _for(*types: str) -> Callable[[Campaign, Policy], bool]:
    return lambda campaign, policy: campaign.message_type in types


def _marketing(campaign: Campaign, policy: Policy) -> bool:
    return counts_as_marketing_push(campaign)


def steered_by_expected_value(campaign: Campaign, policy: Policy) -> bool:
    return campaign.steer_by_expected_value and counts_as_marketing_push(campaign)


def _col(alias: sql.Identifier, column: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(alias, sql.Identifier(column))


def _history_at_least(column: str, threshold: sql.Composable) -> Callable[[Facts], sql.Composable]:
    # No history row (no recent push) counts as zero.
    return lambda f: sql.SQL("COALESCE({}, 0) >= {}").format(_col(f.history, column), threshold)


def _topic_opt_out(f: Facts) -> sql.Composable:
    topics = Campaign.topics.field
    return sql.SQL(
        "EXISTS (SELECT 1 FROM {subscription} ts WHERE ts.customer_id = {customer} AND ts.opted_in = false"
        " AND ts.tag_id IN (SELECT {tag} FROM {topics} WHERE {campaign} = %(campaign)s))"
    ).format(
        subscription=table(TopicSubscription),
        customer=_col(f.recipient, "customer_id"),
        tag=sql.Identifier(topics.m2m_reverse_name()),
        topics=table(topics.remote_field.through),
        campaign=sql.Identifier(topics.m2m_column_name()),
    )


def _no_consent(f: Facts) -> sql.Composable:
    return sql.SQL(
        "NOT EXISTS (SELECT 1 FROM {credit} cc WHERE cc.customer_id = {customer}"
        " AND cc.account_id = %(account)s AND cc.template_id = %(template_id)s AND cc.remaining > 0)"
    ).format(credit=table(ConsentCredit), customer=_col(f.recipient, "customer_id"))


# WeCom counts a customer's group messages on its own (Beijing) calendar: day, ISO week (from Monday),
# month (创建企业群发, https://developer.work.weixin.qq.com/document/path/92135).
WECOM_TZ = "Asia/Shanghai"


def _wecom_local(at: sql.Composable) -> sql.Composable:
    return sql.SQL("({} AT TIME ZONE {})").format(at, sql.Literal(WECOM_TZ))


def _wecom_group_over(f: Facts) -> sql.Composable:
    """The customer's group messages in the corp's period have reached its count: %(group_period)s
    picks the history column; %(group_limit)s NULL (a month at WeCom's default) is the days of the month."""
    return sql.SQL(
        "CASE %(group_period)s WHEN 'day' THEN COALESCE({day}, 0) WHEN 'week' THEN COALESCE({week}, 0) ELSE COALESCE({month}, 0) END"
        " >= COALESCE(%(group_limit)s::int, extract(day from date_trunc('month', {local}) + interval '1 month' - interval '1 day')::int)"
    ).format(
        day=_col(f.history, "group_day_count"), week=_col(f.history, "group_week_count"), month=_col(f.history, "group_month_count"),
        local=_wecom_local(f.at),
    )


# In funnel order: the first reason whose condition holds is the customer's.
REASONS: tuple[Reason, ...] = (
    Reason(SuppressionReason.NO_IDENTITY, _always, lambda f: sql.SQL("{} IS NULL").format(_col(f.recipient, "identity_id")), at_send=False),
    Reason(
        SuppressionReason.UNFOLLOWED,
        lambda campaign, policy: campaign.message_type != MessageType.INBOX,
        lambda f: sql.SQL("{} = 'unfollowed'").format(_col(f.identity, "follow_state")),
    ),
    Reason(SuppressionReason.DO_NOT_DISTURB, _always, lambda f: _col(f.identity, "do_not_disturb")),
    Reason(SuppressionReason.TOPIC_OPT_OUT, _always, _topic_opt_out),
    Reason(SuppressionReason.REFUSES_TEMPLATE, _for(MessageType.TEMPLATE), lambda f: _col(f.identity, "refuses_template")),
    Reason(
        SuppressionReason.WECOM_NO_OWNER,
        _for(MessageType.WECOM_GROUP),
        lambda f: sql.SQL("COALESCE({}, '') = ''").format(_col(f.identity, "owner_staff_id")),
        at_send=False,
    ),
    # Dispatch spends a credit per send instead (no credit left: suppressed then, as no_consent too).
    Reason(SuppressionReason.NO_CONSENT, _for(MessageType.OA_SUBSCRIBE, MessageType.MP_SUBSCRIBE), _no_consent, at_send=False),
    # The customer-service window (customers/services/cs_window.py): its kind sets how long it stays open
    # and how many messages it allows; dispatch takes each send from it just before the call.
    Reason(SuppressionReason.OUTSIDE_CS_WINDOW, _for(MessageType.CUSTOMER_SERVICE), lambda f: sql.SQL("NOT {}").format(window_open(f.identity, f.at))),
    Reason(SuppressionReason.CS_QUOTA_USED, _for(MessageType.CUSTOMER_SERVICE), lambda f: window_used(f.identity)),
    Reason(SuppressionReason.MASS_MONTHLY_LIMIT, _for(MessageType.MASS), _history_at_least("mass_month_count", sql.SQL("%(mass_per_month)s"))),
    # The corp's per-customer rule (accounts.WeComGroupMsgPeriod), counted as WeCom counts it.
    Reason(SuppressionReason.WECOM_GROUP_LIMIT, _for(MessageType.WECOM_GROUP), lambda f: _wecom_group_over(f)),
    Reason(
        SuppressionReason.PREFERENCE_FREQUENCY,
        _marketing,
        lambda f: sql.SQL("{frequency} = 'important_only' OR ({frequency} = 'weekly_digest' AND {digest_used})").format(
            frequency=_col(f.preference, "frequency"), digest_used=_history_at_least("week_count", sql.SQL("1"))(f)
        ),
    ),
    Reason(SuppressionReason.FREQUENCY_DAY, _marketing, _history_at_least("day_count", sql.SQL("%(daily_cap)s"))),
    Reason(SuppressionReason.FREQUENCY_WEEK, _marketing, _history_at_least("week_count", sql.SQL("%(weekly_cap)s"))),
    Reason(
        SuppressionReason.MIN_GAP,
        lambda campaign, policy: _marketing(campaign, policy) and bool(policy.min_gap_hours),
        lambda f: sql.SQL("{} > {} - make_interval(hours => %(gap)s)").format(_col(f.history, "last_marketing_at"), f.at),
    ),
    Reason(
        SuppressionReason.FATIGUE,
        lambda campaign, policy: _marketing(campaign, policy) and bool(policy.fatigue_ignored_pushes),
        lambda f: sql.SQL("COALESCE({streak}, 0) >= %(k)s AND {last} > {at} - make_interval(days => %(cool)s)").format(
            streak=_col(f.profile, "ignored_push_streak"), last=_col(f.profile, "last_push_at"), at=f.at
        ),
    ),
    # The attention budget and expected value (campaigns.budget: columns planning adds to the audience).
    Reason(
        SuppressionReason.ATTENTION_BUDGET,
        steered_by_expected_value,
        lambda f: sql.SQL("COALESCE({week}, 0) >= {budget}").format(week=_col(f.history, "week_count"), budget=_col(f.recipient, "budget")),
        at_send=False,
    ),
    # With a reach (top_percent) the campaign's volume is set and the draws only rank: no absolute bar.
    Reason(
        SuppressionReason.LOW_EXPECTED_VALUE,
        lambda campaign, policy: steered_by_expected_value(campaign, policy) and not campaign.top_percent,
        lambda f: sql.SQL("{} <= 0").format(_col(f.recipient, "ev_sample")),
        at_send=False,
    ),
    Reason(
        SuppressionReason.BUDGET_RESERVED,
        steered_by_expected_value,
        lambda f: sql.SQL("{better} > 0 AND {better} >= {budget} - COALESCE({week}, 0)").format(
            better=_col(f.recipient, "better_pending"), budget=_col(f.recipient, "budget"), week=_col(f.history, "week_count")
        ),
        at_send=False,
    ),
    Reason(
        SuppressionReason.LOW_PREDICTED_ENGAGEMENT,
        lambda campaign, policy: campaign.min_predicted_engagement is not None,
        lambda f: sql.SQL("{} < %(min_pred)s").format(_col(f.recipient, "predicted")),
        at_send=False,
    ),
)


def reason_params(campaign: Campaign, policy: Policy) -> dict[str, Any]:
    """The values the reasons' conditions refer to (`%(name)s`)."""
    return {
        "campaign": campaign.pk,
        "account": campaign.account_id,
        "template_id": str((campaign.content or {}).get("template_id", "")),
        "mass_per_month": MASS_SENDS_PER_MONTH,
        **wecom_group_params(campaign),
        "daily_cap": policy.daily_cap,
        "weekly_cap": policy.weekly_cap,
        "gap": policy.min_gap_hours,
        "k": policy.fatigue_ignored_pushes,
        "cool": policy.fatigue_cooldown_days,
        "min_pred": campaign.min_predicted_engagement,
    }


def wecom_group_params(campaign: Campaign) -> dict[str, Any]:
    """The campaign's corp's per-customer group-message rule: period, and the count (None: the days of the month)."""
    account = campaign.account
    period = account.wecom_group_msg_period or WeComGroupMsgPeriod.MONTH
    limit = account.wecom_group_msg_limit
    if limit is None and period != WeComGroupMsgPeriod.MONTH:
        limit = wecom_group_msg_default(period)
    return {"group_period": str(period), "group_limit": limit}


def reasons_for(campaign: Campaign, policy: Policy, *, at_send: bool) -> list[Reason]:
    """The reasons that apply to the campaign, in funnel order (at send time: those re-checked then)."""
    return [reason for reason in REASONS if reason.applies(campaign, policy) and (reason.at_send or not at_send)]


def reason_case(campaign: Campaign, policy: Policy, facts: Facts, *, at_send: bool) -> sql.Composable:
    """`CASE WHEN <condition> THEN '<reason>' … END`: the first reason that holds, NULL when none does."""
    whens = [
        sql.SQL("WHEN ({}) THEN {}").format(reason.condition(facts), sql.Literal(str(reason.name)))
        for reason in reasons_for(campaign, policy, at_send=at_send)
    ]
    if not whens:
        return sql.SQL("NULL::text")
    return sql.SQL("CASE {} END").format(sql.SQL(" ").join(whens))


# --- push history -------------------------------------------------------------------------------------


def pushed_at(delivery: sql.Identifier) -> sql.Composable:
    """The effective push time of a delivery under way or done."""
    return sql.SQL("COALESCE({}, {})").format(_col(delivery, "sent_at"), _col(delivery, "claimed_at"))


@dataclass(frozen=True)
class Window:
    """The moment of the push and the customer's local day and month around it (timestamptz expressions)."""

    at: sql.Composable
    day_start: sql.Composable
    day_end: sql.Composable
    month_start: sql.Composable


def history_columns(delivery: sql.Identifier, campaign: sql.Identifier, window: Window) -> sql.Composable:
    """The aggregates of a customer's other pushes that the caps read (`Facts.history`)."""
    at = pushed_at(delivery)
    marketing = _col(delivery, "is_marketing")
    message_type = _col(campaign, "message_type")
    return sql.SQL(
        """count(*) FILTER (WHERE {marketing} AND {at} >= {day_start} AND {at} < {day_end}) AS day_count,
           count(*) FILTER (WHERE {marketing} AND {at} > {now} - interval '7 days') AS week_count,
           max({at}) FILTER (WHERE {marketing}) AS last_marketing_at,
           count(*) FILTER (WHERE {message_type} = {mass} AND {at} >= {month_start}) AS mass_month_count,
           count(*) FILTER (WHERE {message_type} = {group} AND date_trunc('day', {at_cn}) = date_trunc('day', {now_cn})) AS group_day_count,
           count(*) FILTER (WHERE {message_type} = {group} AND date_trunc('week', {at_cn}) = date_trunc('week', {now_cn})) AS group_week_count,
           count(*) FILTER (WHERE {message_type} = {group} AND date_trunc('month', {at_cn}) = date_trunc('month', {now_cn})) AS group_month_count"""
    ).format(
        marketing=marketing, at=at, now=window.at, day_start=window.day_start, day_end=window.day_end,
        month_start=window.month_start, message_type=message_type, at_cn=_wecom_local(at), now_cn=_wecom_local(window.at),
        mass=sql.Literal(str(MessageType.MASS)), group=sql.Literal(str(MessageType.WECOM_GROUP)),
    )


def history_scope(delivery: sql.Identifier, window: Window) -> sql.Composable:
    """The other campaigns' pushes the history reads: under way or done, and recent enough for a cap."""
    # (WeCom's month begins on Beijing time, maybe before the customer's.)
    return sql.SQL(
        "{campaign} <> %(campaign)s AND {state} IN ({states})"
        " AND {at} > least({now} - interval '7 days', {month_start}, date_trunc('month', {now_cn}) AT TIME ZONE {tz})"
    ).format(
        campaign=_col(delivery, "campaign_id"),
        state=_col(delivery, "state"),
        states=sql.SQL(", ").join(sql.Literal(state) for state in ACTIVE_STATES),
        at=pushed_at(delivery),
        now=window.at,
        month_start=window.month_start,
        now_cn=_wecom_local(window.at),
        tz=sql.Literal(WECOM_TZ),
    )


# --- the account's daily quota ------------------------------------------------------------------------

# The daily quota bounds the sends an account makes per calendar day in its own time zone (WeChat counts
# every send call). A day's use: the account's deliveries sent that day (whatever a later report said),
# plus those in flight claimed that day and not yet sent, ahead of the asking batch (all of them when
# planning asks). Planned rows reserve nothing: planning counts what is used, and each batch checks again
# just before it sends. Parameters: %(account)s, %(tz)s, %(ids)s (the batch; empty at planning).
#
# Two counts, each on its own index (today's sends: account + sent_at; rows in flight: the 'sending'
# index), with the bounds as init-plan values: an OR of both, or the batch's bounds joined in, would read
# every delivery the account ever had, once per batch.
QUOTA_USED_TODAY = sql.SQL(
    """
    WITH me AS MATERIALIZED (
             SELECT COALESCE(min(claimed_at), 'infinity'::timestamptz) AS claimed_at, COALESCE(min(id), 0) AS id
             FROM {delivery} WHERE id = ANY(%(ids)s)),
         day AS MATERIALIZED (SELECT date_trunc('day', clock_timestamp() AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s AS start)
    SELECT (SELECT count(*) FROM {delivery} d
            WHERE d.account_id = %(account)s AND d.sent_at >= (SELECT start FROM day) AND NOT (d.id = ANY(%(ids)s)))
         + (SELECT count(*) FROM {delivery} d
            WHERE d.state = 'sending' AND d.claimed_at >= (SELECT start FROM day) AND d.account_id = %(account)s
              AND (d.claimed_at, d.id) < (SELECT claimed_at, id FROM me)
              AND (d.sent_at IS NULL OR d.sent_at < (SELECT start FROM day)) AND NOT (d.id = ANY(%(ids)s)))
    """
).format(delivery=table(Delivery))


def account_quota_left(cursor, *, campaign: Campaign, ids: list[int]) -> int:
    """Sends the campaign's account may still make today (its time zone), after the claims ahead of `ids`."""
    cursor.execute(render(QUOTA_USED_TODAY), {"ids": ids, "tz": campaign.account.timezone, "account": campaign.account_id})
    return max(0, campaign.account.daily_quota - cursor.fetchone()[0])
