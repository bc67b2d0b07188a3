"""Segment benchmark: preview counts of representative rule shapes against hand-written SQL, and a
snapshot of a ~30%-of-population segment (300,000 members at 1M customers).

Each hand-written query is the best of a few forms for the same rule over the same tables; the ratio
is compiled time / best hand time (goal: <= 1.5), and the counts must agree.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from customers.segments.models import Segment
from customers.segments.selectors import customer_count, rule_customer_queryset, segment_query_session
from customers.segments.services import segment_snapshot_create
from devtools.population import population_generate

RUNS = 7


def _race(fns: list) -> list[tuple[float, int]]:
    """Best seconds of RUNS interleaved runs of each function after one warm-up, with its result.

    Interleaving and taking the best run keep other load on the machine from favouring either side.
    """
    results = [fn() for fn in fns]
    best = [float("inf")] * len(fns)
    for _ in range(RUNS):
        for index, fn in enumerate(fns):
            started = time.perf_counter()
            results[index] = fn()
            best[index] = min(best[index], time.perf_counter() - started)
    return list(zip(best, results, strict=True))


def _compiled_count(rule: dict, now) -> int:
    with segment_query_session():
        return customer_count(rule_customer_queryset(rule, now=now))


def _build_time(rule: dict, now) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        rule_customer_queryset(rule, now=now).order_by().values("id").query.sql_with_params()
        best = min(best, time.perf_counter() - started)
    return best


def _sql_count(sql: str, params: list) -> int:
    with segment_query_session(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _shapes(info, now) -> list[tuple[str, dict, list[tuple[str, list]]]]:
    t = info.tag_ids
    oa = info.accounts["oa"]
    since30, since7 = now - timedelta(days=30), now - timedelta(days=7)
    return [
        (
            "tag-only (has tag, ~15%)",
            {"type": "tag", "op": "has", "tag": t[1]},
            [
                ("SELECT count(*) FROM customers_customertag ct JOIN customers_customer c ON c.id = ct.customer_id "
                 "WHERE ct.tag_id = %s AND c.erased_at IS NULL", [t[1]]),
                ("SELECT count(*) FROM customers_customer c WHERE c.erased_at IS NULL AND EXISTS "
                 "(SELECT 1 FROM customers_customertag ct WHERE ct.customer_id = c.id AND ct.tag_id = %s)", [t[1]]),
            ],
        ),
        (
            "attribute + tag (city, attributes.plan, tag)",
            {"all": [
                {"type": "field", "field": "city", "op": "eq", "value": "Shanghai"},
                {"type": "field", "field": "attributes.plan", "op": "eq", "value": "gold"},
                {"type": "tag", "op": "has", "tag": t[2]},
            ]},
            [
                ("SELECT count(*) FROM customers_customertag ct JOIN customers_customer c ON c.id = ct.customer_id "
                 "WHERE ct.tag_id = %s AND c.city = 'Shanghai' AND c.attributes @> '{\"plan\": \"gold\"}' AND c.erased_at IS NULL", [t[2]]),
                ("SELECT count(*) FROM customers_customer c WHERE c.city = 'Shanghai' AND c.attributes @> '{\"plan\": \"gold\"}' "
                 "AND c.erased_at IS NULL AND EXISTS (SELECT 1 FROM customers_customertag ct WHERE ct.customer_id = c.id AND ct.tag_id = %s)", [t[2]]),
            ],
        ),
        (
            "behaviour: >= 2 link clicks in the last 30 days",
            {"type": "events", "event_type": "link.click", "op": "at_least", "count": 2, "days": 30},
            [
                ("SELECT count(*) FROM customers_customer c JOIN (SELECT customer_id FROM customers_engagementevent "
                 "WHERE event_type = 'link.click' AND occurred_at >= %s GROUP BY customer_id HAVING count(*) >= 2) e "
                 "ON e.customer_id = c.id WHERE c.erased_at IS NULL", [since30]),
            ],
        ),
        (
            "nested all/any/not with push history",
            {"all": [
                {"type": "channel", "op": "follows", "account": oa},
                {"any": [{"type": "tag", "op": "has", "tag": t[0]}, {"type": "tag", "op": "has", "tag": t[3]}]},
                {"not": {"type": "pushes", "op": "at_least", "count": 2, "days": 7}},
                {"not": {"type": "pushes", "op": "ignored_last", "count": 3}},
            ]},
            [
                ("SELECT count(*) FROM customers_customer c WHERE c.erased_at IS NULL "
                 "AND EXISTS (SELECT 1 FROM customers_channelidentity i WHERE i.customer_id = c.id AND i.account_id = %s AND i.follow_state = 'following') "
                 "AND EXISTS (SELECT 1 FROM customers_customertag ct WHERE ct.customer_id = c.id AND ct.tag_id IN (%s, %s)) "
                 "AND c.id NOT IN (SELECT customer_id FROM customers_engagementevent WHERE event_type = 'push.sent' AND occurred_at >= %s "
                 "GROUP BY customer_id HAVING count(*) >= 2) "
                 "AND NOT EXISTS (SELECT 1 FROM customers_engagementprofile p WHERE p.customer_id = c.id AND p.ignored_push_streak >= 3)",
                 [oa, t[0], t[3], since7]),
                ("SELECT count(*) FROM (SELECT i.customer_id FROM customers_channelidentity i WHERE i.account_id = %s AND i.follow_state = 'following' "
                 "INTERSECT SELECT customer_id FROM customers_customertag WHERE tag_id IN (%s, %s) "
                 "EXCEPT SELECT customer_id FROM customers_engagementevent WHERE event_type = 'push.sent' AND occurred_at >= %s "
                 "GROUP BY customer_id HAVING count(*) >= 2 "
                 "EXCEPT SELECT customer_id FROM customers_engagementprofile WHERE ignored_push_streak >= 3 "
                 "EXCEPT SELECT id FROM customers_customer WHERE erased_at IS NOT NULL) s",
                 [oa, t[0], t[3], since7]),
            ],
        ),
    ]


def run(*, customers: int, stdout) -> None:
    info = population_generate(customers=customers, log=stdout.write)
    now = timezone.now()
    stdout.write(f"\nsegments: preview counts at {customers:,} customers (best of {RUNS} runs each)")
    stdout.write(f"  {'shape':<48} {'count':>10} {'compiled':>10} {'(SQL build)':>11} {'hand SQL':>10} {'ratio':>7}")
    compiled_times = []
    worst = 0.0
    for name, rule, hand_queries in _shapes(info, now):
        timed = _race([
            lambda rule=rule: _compiled_count(rule, now),
            *[lambda sql=sql, params=params: _sql_count(sql, params) for sql, params in hand_queries],
        ])
        (compiled_s, count), hand = timed[0], timed[1:]
        build_s = _build_time(rule, now)
        hand_s = min(seconds for seconds, _ in hand)
        mismatched = [c for _, c in hand if c != count]
        ratio = compiled_s / hand_s if hand_s else float("inf")
        worst = max(worst, ratio)
        compiled_times.append(compiled_s)
        flag = "  COUNT MISMATCH " + str(mismatched) if mismatched else ""
        stdout.write(f"  {name:<48} {count:>10,} {compiled_s * 1000:>8.0f}ms {build_s * 1000:>9.1f}ms {hand_s * 1000:>8.0f}ms {ratio:>6.2f}x{flag}")
    stdout.write("  (compiled = building the SQL from the rule + running it; at small sizes that fixed cost dominates the ratio)")
    stdout.write(f"  median compiled preview: {statistics.median(compiled_times) * 1000:.0f} ms (goal <= 1000 ms); "
                 f"worst ratio {worst:.2f}x (goal <= 1.5x)")

    rule = {"type": "tag", "op": "has", "tag": info.tag_ids[0]}
    with transaction.atomic():
        segment, _ = Segment.objects.update_or_create(name="bench: snapshot ~30%", defaults={"rule": rule, "kind": "dynamic"})
        started = time.perf_counter()
        snapshot = segment_snapshot_create(segment=segment)
        seconds = time.perf_counter() - started
        # Leave no bench snapshots behind (the members table would grow on every run).
        transaction.set_rollback(True)
    stdout.write(f"  snapshot of {snapshot.member_count:,} members: {seconds:.2f} s (goal <= 5 s for 300,000)")
