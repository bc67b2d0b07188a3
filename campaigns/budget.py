"""One attention budget per customer, and the choice between campaigns by expected value.

For a campaign with ``steer_by_expected_value`` planning adds to each audience row (before the
decision, `campaigns.planning`):

- ``budget``: the customer's pushes per 7 days, learned from their tolerance and bounded by the
  policy: the weekly cap less the pushes they ignored in a row, at least 1 (the weekly cap stays a
  hard limit on its own);
- ``ev_sample`` / ``ev_mean``: expected value of this push = predicted click (a Thompson draw / the
  mean, customers.engagement.prediction) × the chance the push is read in time × ``click_value`` −
  predicted disturbance × DISTURBANCE_COST, where the predicted disturbance is the account's recent
  unfollow-and-mute rate per push times (1 + ignored pushes in a row), and the chance read in time
  halves every READ_HALF_LIFE_HOURS the push waits for the customer's best hour (1 when it goes at
  that hour; less when the hour falls in the quiet hours and the push goes before they begin; for a
  customer whose hour is unknown, the average over the audience's known hours at the send hour —
  the click estimate is per push read, customers.engagement.prediction);
- ``better_pending``: how many other campaigns steered by expected value, scheduled within the next
  7 days, are worth more to this customer (by their mean expected value).

The reasons (campaigns.policy_sql, in funnel order after the hard caps and fatigue):
``attention_budget`` (the budget is used), ``low_expected_value`` (the draw does not outweigh the
disturbance), ``budget_reserved`` (what is left of the budget goes to the better campaigns).

With a reach (``top_percent``) the campaign's volume is set: ``ev_sample`` is then the class-level
draw (``class_sample``, customers.engagement.prediction) and only ranks — the top-percent cut keeps
the best, the others get ``low_predicted_engagement`` — and ``low_expected_value`` does not apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import sql

from campaigns.models import Campaign, CampaignState
from campaigns.policy import Policy
from customers.engagement.prediction import (
    click_estimates_sql,
    customer_read_sql,
    disturbance_rate,
    hour_read_sql,
    topic_lift_json,
)
from scrm.sqltools import render

# The cost of one disturbance in clicks: an unfollow ends every future click of the customer.
DISTURBANCE_COST = 20.0
BUDGET_HORIZON = timedelta(days=7)
# A competing campaign is better only by more than the rounding of the estimates' sums: for a customer
# in the same class for both topics the two are equal, and which one float noise favours must not decide.
BETTER_MARGIN = 1e-9

_ADD_COLUMNS = sql.SQL(
    "ALTER TABLE plan_audience ADD COLUMN budget int, ADD COLUMN disturb float8, ADD COLUMN ev_sample float8,"
    " ADD COLUMN ev_mean float8, ADD COLUMN better_pending int NOT NULL DEFAULT 0"
)

# A push sent hours before its reader's best hour (the hour falls in the quiet hours: the push goes in the
# last hour before them) waits in the chat list and is less likely read, halving every
# READ_HALF_LIFE_HOURS like the covering hour's reach (campaigns.policy).
# A customer whose hour is unknown reads it as the audience's customers with a known hour do, on average.
_READ = customer_read_sql("pa.best_hour", "z.local_hour", "hr.chance")

# Params: weekly_cap, rate (disturbances per push), cost, value, topics, now, seed, account, reach (top_percent set).
_FILL = sql.SQL(
    """
    WITH hour_read AS ({hour_read})
    UPDATE plan_audience pa
    SET budget = GREATEST(1, %(weekly_cap)s - pa.ignored_push_streak),
        disturb = %(rate)s * (1 + pa.ignored_push_streak),
        ev_sample = (CASE WHEN %(reach)s THEN e.class_sample ELSE e.sample END) * {read} * %(value)s
                    - %(rate)s * (1 + pa.ignored_push_streak) * %(cost)s,
        ev_mean = e.mean * {read} * %(value)s - %(rate)s * (1 + pa.ignored_push_streak) * %(cost)s
    FROM ({estimates}) e, plan_slots z, hour_read hr
    WHERE e.customer_id = pa.customer_id AND z.slot_key = pa.slot_key AND hr.hour = z.local_hour
    """
).format(estimates=click_estimates_sql(sql.SQL("plan_audience")), read=_READ, hour_read=hour_read_sql(sql.SQL("plan_audience")))

# One competing campaign (read as likely as this one: the customer's hour is the same). Params: topics,
# now, seed, account, value (the competitor's), rate, cost.
_COUNT_BETTER = sql.SQL(
    """
    WITH hour_read AS ({hour_read})
    UPDATE plan_audience pa SET better_pending = pa.better_pending + 1
    FROM ({estimates}) e, plan_slots z, hour_read hr
    WHERE e.customer_id = pa.customer_id AND z.slot_key = pa.slot_key AND hr.hour = z.local_hour
      AND e.mean * {read} * %(value)s - %(rate)s * (1 + pa.ignored_push_streak) * %(cost)s > pa.ev_mean + {margin}
      AND e.mean * {read} * %(value)s - %(rate)s * (1 + pa.ignored_push_streak) * %(cost)s > 0
    """
).format(
    estimates=click_estimates_sql(sql.SQL("plan_audience")), read=_READ, hour_read=hour_read_sql(sql.SQL("plan_audience")),
    margin=sql.Literal(BETTER_MARGIN),
)


def _topics(campaign: Campaign) -> list[str]:
    return [str(pk) for pk in campaign.topics.values_list("pk", flat=True)]


def competing_campaigns(*, campaign: Campaign, start_at: datetime) -> list[Campaign]:
    """Other campaigns steered by expected value that will be planned within the budget's horizon."""
    return list(
        Campaign.objects.filter(
            steer_by_expected_value=True,
            state=CampaignState.SCHEDULED,
            priority_class="marketing",
            scheduled_at__gte=start_at,
            scheduled_at__lt=start_at + BUDGET_HORIZON,
        )
        .exclude(pk=campaign.pk)
        .exclude(message_type="inbox")
        .prefetch_related("topics")
    )


def budget_prepare(cursor, *, campaign: Campaign, policy: Policy, start_at: datetime, now: datetime) -> None:
    """Add budget, expected values and better competitors to plan_audience (see the module docstring)."""
    rate = disturbance_rate(account_id=campaign.account_id, now=now)
    lift = topic_lift_json(account_id=campaign.account_id, now=now)
    cursor.execute(render(_ADD_COLUMNS))
    cursor.execute(
        render(_FILL),
        {
            "weekly_cap": policy.weekly_cap,
            "rate": rate,
            "cost": DISTURBANCE_COST,
            "value": campaign.click_value,
            "topics": _topics(campaign),
            "now": now,
            # Reproducible for a campaign, and for a replayed one (the simulator's runs on any database).
            "seed": f"campaign:{campaign.name}:{campaign.created_at.isoformat()}",
            "account": campaign.account_id,
            "topic_lift": lift,
            "reach": bool(campaign.top_percent),
        },
    )
    for other in competing_campaigns(campaign=campaign, start_at=start_at):
        cursor.execute(
            render(_COUNT_BETTER),
            {"topics": _topics(other), "now": now, "seed": "", "value": other.click_value, "rate": rate, "cost": DISTURBANCE_COST,
             "account": campaign.account_id, "topic_lift": lift},
        )
