"""Predicted probability that a customer clicks a push on some topics, for customers with and without history.

A hierarchy of Beta–binomial estimates, all in one SQL statement over any set of customers (the
planning audience, or a selector's list), from the profile's decayed ``topic_pushes`` /
``topic_clicks`` (a push without a click is negative evidence) and ``topic_affinity`` (organic
visits, menu clicks, conversions):

1. population, per topic t: m0 = (Σ clicks + PRIOR_CLICKS · lift_t) / (Σ pushes + PRIOR_PUSHES), lift_t
   the account's article read rate on t over its average (customers.engagement.article_signals;
   1 without article statistics);
2. similar customers: three classes by the organic signal for t (affinity not from clicks: strong
   from ORGANIC_STRONG, weak from ORGANIC_WEAK, none); m_class = (Σ clicks + K_CLASS·m0·lift) /
   (Σ pushes + K_CLASS) within the class, lift = ORGANIC_LIFT for strong, 1 for weak, its inverse
   for none (a prior the class's own pushes soon outweigh);
3. the customer's propensity to click at all, across topics: r = (clicks + K_PROPENSITY) /
   (pushes · m_all + K_PROPENSITY), m_all the population's rate over every topic;
4. the customer: mean = (clicks_t + K_CUSTOMER · m_class · r) / (pushes_t + K_CUSTOMER).

So a customer with no history gets the rate of customers like them (calibrated on the audience's
own pushes), and every push or click moves their own estimate. With several topics the best one
counts. ``sd`` is the Beta posterior's standard deviation; ``sample`` one Thompson draw (normal
approximation, uniforms from a hash of the seed and the customer: the same seed gives the same draw)
so that uncertain customers — those never tagged — are tried rather than excluded.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.db import connection
from psycopg import sql

from customers.engagement.article_signals import topic_read_lifts
from customers.engagement.learning import HALF_LIFE_DAYS
from customers.models import EngagementProfile
from scrm.sqltools import render, table

PRIOR_CLICKS = 0.5
PRIOR_PUSHES = 10.0
K_CLASS = 10.0
K_PROPENSITY = 0.5
K_CUSTOMER = 4.0
# Organic signal for a topic (affinity not from clicks: a page view weighs 0.5, a conversion 2):
# strong from about two visits, weak from one recent-ish visit, else none.
ORGANIC_STRONG = 0.9
ORGANIC_WEAK = 0.25
# Before the audience's own pushes say otherwise, customers with a strong organic signal are taken to
# click this many times more often than the population, those with none this many times less.
ORGANIC_LIFT = 3.0


def click_estimates_sql(source: sql.Composable) -> sql.Composable:
    """SELECT customer_id, mean, sd, sample for every customer_id of `source` (a relation).

    Params: topics (text[] of tag ids), now, seed (text), topic_lift (a JSON object {tag id: lift},
    `topic_lift_json`)."""
    return sql.SQL(
        """
        WITH src AS (
            SELECT s.customer_id, p.topic_pushes, p.topic_clicks, p.topic_affinity,
                   COALESCE(power(2.0, -extract(epoch FROM (%(now)s::timestamptz - p.score_updated_at)) / {half_life}), 0) AS f
            FROM (SELECT DISTINCT customer_id FROM {source} x) s
            LEFT JOIN {profile} p ON p.customer_id = s.customer_id
        ), per AS (
            SELECT src.customer_id, t.topic,
                   src.f * COALESCE((src.topic_pushes ->> t.topic)::float, 0) AS n,
                   src.f * COALESCE((src.topic_clicks ->> t.topic)::float, 0) AS c,
                   CASE WHEN src.f * (COALESCE((src.topic_affinity ->> t.topic)::float, 0) - COALESCE((src.topic_clicks ->> t.topic)::float, 0))
                             >= {strong} THEN 2
                        WHEN src.f * (COALESCE((src.topic_affinity ->> t.topic)::float, 0) - COALESCE((src.topic_clicks ->> t.topic)::float, 0))
                             >= {weak} THEN 1
                        ELSE 0 END AS similar
            FROM src CROSS JOIN unnest(%(topics)s::text[]) AS t(topic)
        ), totals AS (
            SELECT src.customer_id,
                   src.f * COALESCE((SELECT sum(value::float) FROM jsonb_each_text(src.topic_pushes)), 0) AS n_all,
                   src.f * COALESCE((SELECT sum(value::float) FROM jsonb_each_text(src.topic_clicks)), 0) AS c_all
            FROM src
        ), population AS (
            SELECT (sum(c_all) + {prior_c}) / (sum(n_all) + {prior_n}) AS m_all FROM totals
        ), topic_rate AS (
            SELECT topic, (sum(c) + {prior_c} * COALESCE((%(topic_lift)s::jsonb ->> topic)::float, 1)) / (sum(n) + {prior_n}) AS m0
            FROM per GROUP BY topic
        ), class_rate AS (
            SELECT per.topic, per.similar,
                   (sum(per.c) + {k_class} * LEAST(0.9, tr.m0 * CASE per.similar WHEN 2 THEN {lift} WHEN 1 THEN 1 ELSE {unlift} END))
                       / (sum(per.n) + {k_class}) AS m
            FROM per JOIN topic_rate tr ON tr.topic = per.topic GROUP BY per.topic, per.similar, tr.m0
        ), estimate AS (
            SELECT DISTINCT ON (per.customer_id) per.customer_id, per.n,
                   LEAST(0.99, (per.c + {k_customer} * cr.m
                        * (tot.c_all + {k_prop}) / (tot.n_all * pop.m_all + {k_prop})) / (per.n + {k_customer})) AS mean
            FROM per
            JOIN class_rate cr ON cr.topic = per.topic AND cr.similar = per.similar
            JOIN totals tot ON tot.customer_id = per.customer_id
            CROSS JOIN population pop
            ORDER BY per.customer_id, 3 DESC
        ), drawn AS (
            SELECT e.*, sqrt(e.mean * (1 - e.mean) / (e.n + {k_customer} + 1)) AS sd,
                   -- two uniforms in (0, 1) from the seed and the customer (Box–Muller below)
                   (abs(hashtext(%(seed)s || ':a:' || e.customer_id::text))::float + 1) / 2147483649.0 AS u1,
                   (abs(hashtext(%(seed)s || ':b:' || e.customer_id::text))::float + 1) / 2147483649.0 AS u2
            FROM estimate e
        )
        SELECT customer_id, mean, sd,
               GREATEST(0, LEAST(1, mean + sd * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2))) AS sample
        FROM drawn
        """
    ).format(
        source=source,
        profile=table(EngagementProfile),
        half_life=sql.Literal(HALF_LIFE_DAYS * 86400.0),
        strong=sql.Literal(ORGANIC_STRONG),
        weak=sql.Literal(ORGANIC_WEAK),
        prior_c=sql.Literal(PRIOR_CLICKS),
        prior_n=sql.Literal(PRIOR_PUSHES),
        k_class=sql.Literal(K_CLASS),
        lift=sql.Literal(ORGANIC_LIFT),
        unlift=sql.Literal(1 / ORGANIC_LIFT),
        k_prop=sql.Literal(K_PROPENSITY),
        k_customer=sql.Literal(K_CUSTOMER),
    )


def topic_lift_json(*, account_id: int | None, now: datetime) -> str:
    """The `topic_lift` parameter of click_estimates_sql for an account (article read rates)."""
    return json.dumps(topic_read_lifts(account_id=account_id, now=now))


_ESTIMATES_FOR_IDS = click_estimates_sql(sql.SQL("(SELECT unnest(%(ids)s::bigint[]) AS customer_id)"))


def click_estimates(
    *, customer_ids: list[int], topic_ids: list[int], now: datetime, seed: str = "", account_id: int | None = None,
) -> dict[int, tuple[float, float, float]]:
    """{customer id: (mean, sd, Thompson sample)} of clicking a push on these topics, estimated within
    these customers (with the account's article read rates as the topics' prior, when given)."""
    if not customer_ids or not topic_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            render(_ESTIMATES_FOR_IDS), {"ids": list(customer_ids), "topics": [str(t) for t in topic_ids], "now": now, "seed": seed,
             "topic_lift": topic_lift_json(account_id=account_id, now=now)}
        )
        return {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}


# A disturbance (unfollow after a push, or a mute) per push, before the account has its own history.
PRIOR_DISTURBANCES = 1.0
PRIOR_DISTURBANCE_PUSHES = 200.0
DISTURBANCE_WINDOW_DAYS = 28


def disturbance_rate(*, account_id: int, now: datetime) -> float:
    """The account's recent rate of unfollows-after-a-push and mutes per push, from its daily counters."""
    from django.db.models import Sum

    from customers.engagement.daily import PUSH_TYPE, UNFOLLOW_AFTER_PUSH
    from customers.engagement.models import AccountDailyCount
    from customers.engagement.selectors import MUTE_METRICS

    since = (now - timedelta(days=DISTURBANCE_WINDOW_DAYS)).date()
    rows = dict(
        AccountDailyCount.objects.filter(account_id=account_id, day__gte=since, metric__in=[PUSH_TYPE, UNFOLLOW_AFTER_PUSH, *MUTE_METRICS])
        .values("metric")
        .annotate(n=Sum("count"))
        .values_list("metric", "n")
    )
    disturbances = rows.get(UNFOLLOW_AFTER_PUSH, 0) + sum(rows.get(m, 0) for m in MUTE_METRICS)
    return (disturbances + PRIOR_DISTURBANCES) / (rows.get(PUSH_TYPE, 0) + PRIOR_DISTURBANCE_PUSHES)
