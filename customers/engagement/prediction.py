"""Predicted probability that a customer clicks a push on some topics, for customers with and without history.

A hierarchy of Beta–binomial estimates, all in one SQL statement over any set of customers (the
planning audience, or a selector's list), from the profile's decayed ``topic_pushes`` /
``topic_clicks`` (a push without a click is negative evidence) and ``topic_affinity`` (organic
visits, menu clicks, conversions):

1. population: m_all = (Σ clicks + PRIOR_CLICKS) / (Σ pushes + PRIOR_PUSHES) over every topic, and
   per topic t a popularity lift_t = ((Σ clicks_t + K_TOPIC·m_all·read_t) / (Σ pushes_t + K_TOPIC)) / m_all,
   read_t the account's article read rate on t over its average (customers.engagement.article_signals;
   1 without article statistics): the prior the topic's own pushes soon outweigh;
2. customers like this one: for a (customer, topic) its class: DECLARED (the customer opted in to
   the topic in the preference centre), else by its organic signal (affinity not from clicks):
   STRONG from ORGANIC_STRONG, WEAK from ORGANIC_WEAK, DECLARED_ELSEWHERE (chose other topics, not
   this one), ELSEWHERE (signals for other topics only), SILENT (no organic signal at all: no
   evidence either way). Each class's click rate
   is learned from the audience's pushes on *every* topic, each push counted in the class its
   (customer, topic) is in: m_k = (Σ clicks + K_CLASS·m_base·PRIOR_LIFT_k) / (Σ pushes + K_CLASS),
   m_base = (Σ clicks + PRIOR_CLICKS) / (Σ pushes·PRIOR_LIFT_class + PRIOR_PUSHES) the rate of a
   lift-1 customer fitted to all pushes (not the plain rate: steered pushes go mostly to the likeliest
   class, and their rate would lift every other class's prior), so
   what one campaign teaches about, say, customers who visited a topic's pages serves the next
   campaign on another topic; the prior lifts (3, √3, ⅓, 1) only start it;
3. the customer's propensity to click at all, across topics: their clicks against those expected of
   customers like them (e = Σ pushes · m_k over the classes of the topics they were pushed),
   r = (clicks + k) / (e + k), where k, the prior's weight, is how much the audience's customers
   differ beyond chance (Poisson–gamma by the moments: k = Σe² / (Σ(clicks − e)² − Σe), between
   K_PROPENSITY_MIN and K_PROPENSITY_MAX): where everyone clicks as their classes do, one click
   moves r a little; where some never click, their ignored pushes soon lower it;
4. the customer: mean = (clicks_t + K_CUSTOMER · min(0.9, m_k · lift_t) · r) / (pushes_t + K_CUSTOMER).

Pushes count per push read: each customer's pushes and those of their classes are weighed by the
chance they were read (``read_chance`` of each recorded ``push_hours`` hour against the customer's
best hour; an unknown hour takes the audience's average, ``hour_read_sql``), so every rate above is
a click per push read, and a push's predicted click is the estimate × its own read chance
(``read_chances``; the expected value in campaigns.budget).

So a customer with no history gets the rate of customers like them (calibrated on the audience's
own pushes), and every push or click moves their own estimate. With several topics the best one
counts. ``sd`` is the Beta posterior's standard deviation; ``sample`` one Thompson draw (normal
approximation, uniforms from a hash of the seed and the customer's identity on the account — their
openid or external_userid, not a database id: the same seed gives the same draw on any database)
so that uncertain customers — those never tagged — are tried rather than excluded.

``class_sample`` draws per class instead (what ranks the audience of a campaign with a reach,
campaigns.budget): m_k drawn once per seed from N(m_k, m_k(1 − m_k) / (class pushes + K_CLASS + 1)),
floored at the draws of the classes with less evidence for the topic (EVIDENCE: one visit to it,
two visits or choosing it never draw below none) and carried through step 4, plus the customer's
own uncertainty on the topic (sd · pushes_t / (pushes_t + K_CUSTOMER): none before their first push
on it) and a TIE_BREAK. A
class whose first pushes brought no click can still draw high on the next campaign and is explored
as a whole; customers of one class are ordered by their own evidence, not by their prior spread.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.db import connection
from psycopg import sql

from customers.engagement.article_signals import topic_read_lifts
from customers.engagement.learning import INTEREST_HALF_LIFE_DAYS, READ_HALF_LIFE_HOURS
from customers.models import ChannelIdentity, EngagementProfile, TopicSubscription
from scrm.sqltools import render, table

PRIOR_CLICKS = 0.5
PRIOR_PUSHES = 10.0
K_TOPIC = 10.0
K_CLASS = 10.0
K_PROPENSITY_MIN = 0.5
K_PROPENSITY_MAX = 20.0
K_CUSTOMER = 4.0
# The spread of the draw among customers whose estimates are equal (who of a class is tried first).
TIE_BREAK = 1e-4
# Organic signal for a topic (affinity not from clicks: a page view weighs 0.5, a conversion 2;
# interest evidence halves every 14 days): strong from two visits within about a week
# (2 · 0.5 · ½^(7/14) ≈ 0.71), weak from one visit within about a month (0.5 · ½^(30/14) ≈ 0.11).
ORGANIC_STRONG = 0.7
ORGANIC_WEAK = 0.11
# The classes of "customers like this one" for a topic, and how much more (or less) often than the
# population each is taken to click before the audience's own pushes say otherwise: one visit is
# evidence for the topic too, half as strong (on this log scale) as two within a week. DECLARED: the
# customer chose the topic in the preference centre (a TopicSubscription opted in) — what they said
# they want, which no visit of theirs may show; it starts as strong as two visits within a week and
# learns its own rate like every class. DECLARED_ELSEWHERE: they chose other topics and not this
# one, which the preference centre offered too (and never visited it): as weak as visits elsewhere.
STRONG, WEAK, ELSEWHERE, SILENT, DECLARED, DECLARED_ELSEWHERE = 2, 1, 0, 3, 4, 5
ORGANIC_LIFT = 3.0
PRIOR_LIFT = {
    STRONG: ORGANIC_LIFT, WEAK: ORGANIC_LIFT ** 0.5, ELSEWHERE: 1 / ORGANIC_LIFT, SILENT: 1.0,
    DECLARED: ORGANIC_LIFT, DECLARED_ELSEWHERE: 1 / ORGANIC_LIFT,
}
# How much each class says for the topic itself: a class's draw never falls below one with less
# (customers' rates are learned from few pushes per class, and one unlucky campaign would otherwise
# drop every customer who visited the topic below those who never did).
EVIDENCE = {SILENT: 0, ELSEWHERE: 0, DECLARED_ELSEWHERE: 0, WEAK: 1, STRONG: 2, DECLARED: 2}


def _similar(topic: str, affinity: str, clicks: str) -> sql.Composable:
    """The class of a (customer, topic): declared, strong / weak organic signal for it, other topics declared, signals elsewhere only, or none at all."""
    organic = sql.SQL("src.f * (COALESCE(({a})::float, 0) - COALESCE(({c})::float, 0))").format(a=sql.SQL(affinity), c=sql.SQL(clicks))
    return sql.SQL(
        "CASE WHEN src.declared ? {topic} THEN {d} WHEN {organic} >= {strong} THEN {s} WHEN {organic} >= {weak} THEN {w}"
        " WHEN src.declared <> '{{}}'::jsonb THEN {de} WHEN src.organic_total >= {weak} THEN {e} ELSE {silent} END"
    ).format(
        topic=sql.SQL(topic),
        d=sql.Literal(DECLARED),
        de=sql.Literal(DECLARED_ELSEWHERE),
        organic=organic,
        strong=sql.Literal(ORGANIC_STRONG),
        weak=sql.Literal(ORGANIC_WEAK),
        s=sql.Literal(STRONG),
        w=sql.Literal(WEAK),
        e=sql.Literal(ELSEWHERE),
        silent=sql.Literal(SILENT),
    )


def read_chance(best_hour: int, send_hour: int) -> float:
    """How likely a push sent at local `send_hour` is read by a customer whose hour is `best_hour`: it
    waits in the chat list, halving every READ_HALF_LIFE_HOURS."""
    return 0.5 ** (((best_hour - send_hour) % 24) / READ_HALF_LIFE_HOURS)


def read_chance_sql(best_hour: str, send_hour: str) -> sql.Composable:
    """read_chance in SQL, over two integer expressions (NULL when the best hour is)."""
    return sql.SQL("power(0.5::float, mod({b} - {h} + 24, 24) / {half_life})").format(
        b=sql.SQL(best_hour), h=sql.SQL(send_hour), half_life=sql.Literal(READ_HALF_LIFE_HOURS)
    )


def customer_read_sql(best_hour: str, send_hour: str, audience_chance: str) -> sql.Composable:
    """A customer's chance to read a push sent at `send_hour`: by their own hour when it is known,
    else `audience_chance` (the audience's, hour_read_sql, at that hour)."""
    return sql.SQL("COALESCE({own}, {audience})").format(own=read_chance_sql(best_hour, send_hour), audience=sql.SQL(audience_chance))


def hour_read_sql(audience: sql.Composable) -> sql.Composable:
    """SELECT hour, chance: for each local send hour, how likely a push is read by a customer of
    `audience` (a relation with a best_hour column) whose hour is unknown — as by the audience's
    customers whose hour is known, on average (1 when none is)."""
    return sql.SQL(
        "SELECT h.hour, COALESCE(sum(k.n * {read}) / NULLIF(sum(k.n), 0), 1.0)::float AS chance"
        " FROM generate_series(0, 23) AS h(hour)"
        " LEFT JOIN (SELECT a.best_hour, count(*) AS n FROM {audience} a WHERE a.best_hour IS NOT NULL GROUP BY a.best_hour) k ON true"
        " GROUP BY h.hour"
    ).format(read=read_chance_sql("k.best_hour", "h.hour"), audience=audience)


def click_estimates_sql(source: sql.Composable) -> sql.Composable:
    """SELECT customer_id, mean, sd, sample, class_sample for every customer_id of `source` (a relation).

    Params: topics (text[] of tag ids), now, seed (text), topic_lift (a JSON object {tag id: lift},
    `topic_lift_json`), account (the campaign's account id or None: whose identity keys the draws)."""
    return sql.SQL(
        """
        WITH src AS (
            SELECT s.customer_id, p.topic_pushes, p.topic_clicks, p.topic_affinity, x.f, p.best_hour, p.push_hours,
                   x.f * GREATEST(0, COALESCE((SELECT sum(value::float) FROM jsonb_each_text(p.topic_affinity)), 0)
                                   - COALESCE((SELECT sum(value::float) FROM jsonb_each_text(p.topic_clicks)), 0)) AS organic_total,
                   COALESCE((SELECT jsonb_object_agg(ts.tag_id::text, true) FROM {subscription} ts
                             WHERE ts.customer_id = s.customer_id AND ts.opted_in), '{{}}'::jsonb) AS declared
            FROM (SELECT DISTINCT customer_id FROM {source} x) s
            LEFT JOIN {profile} p ON p.customer_id = s.customer_id
            CROSS JOIN LATERAL (
                SELECT COALESCE(power(2.0, -extract(epoch FROM (%(now)s::timestamptz - p.score_updated_at)) / {half_life}), 0) AS f
            ) x
        ), hour_read AS (
            {hour_read}
        ), exposure AS (
            -- Each push counts as the chance it was read (sent that long before their hour): clicks per push
            -- they could have read. Pushes without a recorded hour count 1.
            SELECT src.customer_id, COALESCE((
                SELECT sum(e.value::float * {read}) / NULLIF(sum(e.value::float), 0)
                FROM jsonb_array_elements_text(COALESCE(src.push_hours, '[]'::jsonb))
                     WITH ORDINALITY AS e(value, ord)
                WHERE e.value::float > 0
            ), 1.0) AS read
            FROM src CROSS JOIN (SELECT array_agg(chance ORDER BY hour) AS chances FROM hour_read) hr
        ), per AS (
            SELECT src.customer_id, t.topic,
                   -- a clicked push was read, whatever its hour: never fewer pushes read than clicks
                   GREATEST(src.f * ex.read * COALESCE((src.topic_pushes ->> t.topic)::float, 0),
                            src.f * COALESCE((src.topic_clicks ->> t.topic)::float, 0)) AS n,
                   src.f * COALESCE((src.topic_clicks ->> t.topic)::float, 0) AS c,
                   {similar_campaign} AS cls
            FROM src JOIN exposure ex ON ex.customer_id = src.customer_id CROSS JOIN unnest(%(topics)s::text[]) AS t(topic)
        ), pairs AS (
            -- Every topic each customer was pushed: how customers of each class click, whatever the topic.
            SELECT src.customer_id, GREATEST(src.f * ex.read * pu.value::float, src.f * COALESCE((src.topic_clicks ->> pu.key)::float, 0)) AS n,
                   src.f * COALESCE((src.topic_clicks ->> pu.key)::float, 0) AS c,
                   {similar_pushed} AS cls
            FROM src JOIN exposure ex ON ex.customer_id = src.customer_id
            CROSS JOIN LATERAL jsonb_each_text(COALESCE(src.topic_pushes, '{{}}'::jsonb)) pu
        ), population AS (
            SELECT (COALESCE(sum(c), 0) + {prior_c}) / (COALESCE(sum(n), 0) + {prior_n}) AS m_all FROM pairs
        ), topic_rate AS (
            -- The topic against the population: more or less clicked than topics on average.
            SELECT per.topic,
                   (sum(per.c) + {k_topic} * pop.m_all * COALESCE((%(topic_lift)s::jsonb ->> per.topic)::float, 1))
                       / (sum(per.n) + {k_topic}) / pop.m_all AS lift
            FROM per CROSS JOIN population pop GROUP BY per.topic, pop.m_all
        ), lifts AS (
            SELECT * FROM (VALUES {prior_lifts}) AS k(cls, prior_lift, evidence)
        ), base AS (
            -- The rate of a lift-1 customer, fitted to every push given the prior lifts of their classes:
            -- not biased by which classes the pushes went to (steered pushes go mostly to the likeliest).
            SELECT (COALESCE(sum(pairs.c), 0) + {prior_c}) / (COALESCE(sum(pairs.n * lifts.prior_lift), 0) + {prior_n}) AS m
            FROM pairs JOIN lifts ON lifts.cls = pairs.cls
        ), class_fit AS (
            SELECT lifts.cls, COALESCE(sum(pairs.n), 0) + {k_class} AS weight,
                   LEAST(0.99, (COALESCE(sum(pairs.c), 0) + {k_class} * base.m * lifts.prior_lift) / (COALESCE(sum(pairs.n), 0) + {k_class})) AS m
            FROM lifts CROSS JOIN base
            LEFT JOIN pairs ON pairs.cls = lifts.cls
            GROUP BY lifts.cls, lifts.prior_lift, base.m
        ), class_draw AS (
            -- One Thompson draw of each class's rate per seed (campaign): a class is explored as a whole.
            SELECT cls, m, GREATEST(0.001, LEAST(0.99, m + sqrt(m * (1 - m) / (weight + 1))
                       * sqrt(-2 * ln((abs(hashtext(%(seed)s || ':class-a:' || cls::text))::float + 1) / 2147483649.0))
                       * cos(2 * pi() * (abs(hashtext(%(seed)s || ':class-b:' || cls::text))::float + 1) / 2147483649.0))) AS m_draw
            FROM class_fit
        ), class_rate AS (
            -- Evidence for the topic never draws below less of it (a visit to the topic ranks no lower than none).
            SELECT d.cls, d.m, GREATEST(d.m_draw, (SELECT max(o.m_draw) FROM class_draw o JOIN lifts lo ON lo.cls = o.cls
                                                   WHERE lo.evidence < l.evidence)) AS m_draw
            FROM class_draw d JOIN lifts l ON l.cls = d.cls
        ), expected AS (
            -- Each customer's clicks against those of customers like them (their classes' rates).
            SELECT src.customer_id, COALESCE(sum(pairs.c), 0) AS c_all, COALESCE(sum(pairs.n * cf.m), 0) AS e_all
            FROM src LEFT JOIN pairs ON pairs.customer_id = src.customer_id LEFT JOIN class_fit cf ON cf.cls = pairs.cls
            GROUP BY src.customer_id
        ), dispersion AS (
            -- How much customers differ in their propensity beyond chance: clicks ~ Poisson(r · expected),
            -- r ~ Gamma(k, k), k by the moments (the prior's weight, in expected clicks), bounded.
            SELECT CASE WHEN sum((x.c_all - x.e_all) ^ 2) > sum(x.e_all)
                        THEN LEAST({k_prop_max}, GREATEST({k_prop}, sum(x.e_all ^ 2) / (sum((x.c_all - x.e_all) ^ 2) - sum(x.e_all))))
                        ELSE {k_prop_max} END AS k
            FROM expected x
        ), propensity AS (
            SELECT x.customer_id, (x.c_all + d.k) / (x.e_all + d.k) AS r FROM expected x CROSS JOIN dispersion d
        ), estimate AS (
            SELECT DISTINCT ON (per.customer_id) per.customer_id, per.n,
                   LEAST(0.99, (per.c + {k_customer} * LEAST(0.9, cr.m * tr.lift)
                        * pr.r) / (per.n + {k_customer})) AS mean,
                   LEAST(0.99, (per.c + {k_customer} * LEAST(0.9, cr.m_draw * tr.lift)
                        * pr.r) / (per.n + {k_customer})) AS mean_draw
            FROM per
            JOIN class_rate cr ON cr.cls = per.cls
            JOIN topic_rate tr ON tr.topic = per.topic
            JOIN propensity pr ON pr.customer_id = per.customer_id
            ORDER BY per.customer_id, 3 DESC
        ), drawn AS (
            SELECT e.*, sqrt(e.mean * (1 - e.mean) / (e.n + {k_customer} + 1)) AS sd,
                   -- the customer's own evidence on the topic: what is uncertain beyond their class's draw
                   sqrt(e.mean_draw * (1 - e.mean_draw) / (e.n + {k_customer} + 1)) * e.n / (e.n + {k_customer}) AS sd_own,
                   -- two uniforms in (0, 1) from the seed and the customer (Box–Muller below)
                   (abs(hashtext(%(seed)s || ':a:' || k.draw_key))::float + 1) / 2147483649.0 AS u1,
                   (abs(hashtext(%(seed)s || ':b:' || k.draw_key))::float + 1) / 2147483649.0 AS u2
            FROM estimate e
            -- The customer as the channel knows them (their openid / external_userid on the account, which
            -- never changes), not a database id: the same customer gets the same draw on any database.
            CROSS JOIN LATERAL (
                SELECT COALESCE(
                    (SELECT min(ci.external_id) FROM {identity} ci
                     WHERE ci.customer_id = e.customer_id AND (%(account)s::bigint IS NULL OR ci.account_id = %(account)s::bigint)),
                    'customer:' || e.customer_id::text) AS draw_key
            ) k
        )
        SELECT customer_id, mean, sd,
               GREATEST(0, LEAST(1, mean + sd * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2))) AS sample,
               -- the class's draw, the customer's own uncertainty, and a tie-break among equals
               GREATEST(0, LEAST(1, mean_draw + (sd_own + {tie}) * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2))) AS class_sample
        FROM drawn
        """
    ).format(
        source=source,
        profile=table(EngagementProfile),
        identity=table(ChannelIdentity),
        half_life=sql.Literal(INTEREST_HALF_LIFE_DAYS * 86400.0),
        subscription=table(TopicSubscription),
        similar_campaign=_similar("t.topic", "src.topic_affinity ->> t.topic", "src.topic_clicks ->> t.topic"),
        similar_pushed=_similar("pu.key", "src.topic_affinity ->> pu.key", "src.topic_clicks ->> pu.key"),
        prior_lifts=sql.SQL(", ").join(sql.SQL("({}, {}, {})").format(sql.Literal(k), sql.Literal(v), sql.Literal(EVIDENCE[k])) for k, v in PRIOR_LIFT.items()),
        prior_c=sql.Literal(PRIOR_CLICKS),
        prior_n=sql.Literal(PRIOR_PUSHES),
        k_topic=sql.Literal(K_TOPIC),
        k_class=sql.Literal(K_CLASS),
        k_prop=sql.Literal(K_PROPENSITY_MIN),
        k_prop_max=sql.Literal(K_PROPENSITY_MAX),
        k_customer=sql.Literal(K_CUSTOMER),
        tie=sql.Literal(TIE_BREAK),
        hour_read=hour_read_sql(sql.SQL("src")),
        read=customer_read_sql("src.best_hour", "(e.ord - 1)::int", "hr.chances[e.ord]"),
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
             "account": account_id, "topic_lift": topic_lift_json(account_id=account_id, now=now)}
        )
        return {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}


_READ_CHANCES = sql.SQL(
    """
    WITH audience AS (
        SELECT c.id AS customer_id, p.best_hour FROM unnest(%(ids)s::bigint[]) AS c(id) LEFT JOIN {profile} p ON p.customer_id = c.id
    ), hour_read AS ({hour_read})
    SELECT a.customer_id, {read} FROM audience a JOIN hour_read hr ON hr.hour = %(hour)s
    """
).format(profile=table(EngagementProfile), hour_read=hour_read_sql(sql.SQL("audience")), read=customer_read_sql("a.best_hour", "%(hour)s", "hr.chance"))


def read_chances(*, customer_ids: list[int], send_hour: int) -> dict[int, float]:
    """{customer id: how likely a push sent at local `send_hour` is read} (click_estimates is per push read)."""
    if not customer_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(render(_READ_CHANCES), {"ids": list(customer_ids), "hour": send_hour})
        return dict(cursor.fetchall())


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
