"""The members of a rule as one column of customer ids: what previews count and snapshots copy.

Two shapes, chosen per rule:
- **Over customers** (any rule): `audience_base().filter(rule_compile(rule))`, each condition a
  semi-join or anti-join on the live customers (compiler.py).
- **Driven** (a rule that requires all of its conditions and reads no customer column — tags,
  identities, consent, events, profiles): the rows of one of its positive conditions are the start
  (the tag's (tag, customer) index entries, or one grouped count over the events in the window), the
  other conditions filter their customer_id, and erased customers are dropped with an anti-join on
  the small index of erased customers (segidx_customer_erased). Over customers, such a rule would read
  every live customer to keep the few that match, and a count condition's grouped count would be
  repeated in every parallel worker of the join.
Both give the same members (tests/customers/test_segments_rules.py checks both against an oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, QuerySet
from psycopg import sql

from customers.models import Customer, CustomerTag, EngagementProfile
from customers.segments.compiler import (
    RuleCompiler,
    grouped_count,
    merge_tag_conditions,
    reads_customer_columns,
    rule_compile,
)
from scrm.sqltools import render, table

# Uses index: segidx_customer_erased (only the erased customers) for the anti-join.
_LIVE_MEMBERS = sql.SQL(
    "SELECT members.customer_id FROM ({rows}) AS members WHERE NOT EXISTS "
    "(SELECT 1 FROM {customer} erased WHERE erased.id = members.customer_id AND erased.erased_at IS NOT NULL)"
)
_COUNT = sql.SQL("SELECT COUNT(*) FROM ({members}) AS segment_members")

# Which condition starts a driven rule, best first: a tag's index entries are the cheapest rows per
# member and usually the fewest; a grouped count is one pass over the window; a profile row is one per
# customer; identities are nearly one per customer per channel.
_TAG, _TAGS, _COUNTED, _PROFILE, _CHANNEL = range(5)


@dataclass(frozen=True)
class MemberIds:
    """A SELECT of one column, customer_id, one row per member; params for its placeholders."""

    sql: str
    params: tuple[Any, ...]


NO_MEMBERS = MemberIds("SELECT 1 AS customer_id WHERE 1 = 0", ())


def audience_base() -> QuerySet[Customer]:
    """Customers who can be in any audience: erased customers never are."""
    return Customer.objects.filter(erased_at__isnull=True)


def queryset_member_ids(customers: QuerySet[Customer]) -> MemberIds:
    """The ids of a customer queryset, as member ids."""
    return _member_ids(customers.order_by().values(customer_id=F("id")))


def rule_member_ids(rule: dict, *, now: datetime | None = None, segment_id: int | None = None) -> MemberIds:
    """The live customers a validated rule selects, driven by one of its conditions when it can be."""
    rows = _driven_rows(rule or {"all": []}, RuleCompiler(now=now, key="customer_id"))
    if rows is None:
        return queryset_member_ids(audience_base().filter(rule_compile(rule, now=now, segment_id=segment_id)))
    members = _member_ids(rows)
    if members is NO_MEMBERS:
        return members
    return MemberIds(render(_LIVE_MEMBERS.format(rows=sql.SQL(members.sql), customer=table(Customer))), members.params)


def _member_ids(rows: QuerySet) -> MemberIds:
    try:
        text, params = rows.query.sql_with_params()
    except EmptyResultSet:  # a condition that no one can match (e.g. an empty "any") in an "all"
        return NO_MEMBERS
    return MemberIds(text, tuple(params))


def member_count(members: MemberIds) -> int:
    """COUNT(*) of the members, as one plain statement."""
    with connection.cursor() as cursor:
        cursor.execute(render(_COUNT.format(members=sql.SQL(members.sql))), members.params)
        return cursor.fetchone()[0]


def _driven_rows(rule: dict, compiler: RuleCompiler) -> QuerySet | None:
    """customer_id rows (one per customer, erased ones included) of a driven rule; None when the
    rule has to be evaluated over customers."""
    if not _reads_other_tables_only(rule):
        return None
    conditions = merge_tag_conditions([_unwrap(c) for c in rule.get("all", [rule])], is_any=False)
    ranked = [(rank, index) for index, c in enumerate(conditions) if (rank := _driver_rank(c, compiler)) is not None]
    if not ranked:
        return None
    _, index = min(ranked)
    rows = _driver_rows(conditions[index], compiler)
    rest = conditions[:index] + conditions[index + 1 :]
    return rows.filter(compiler.compile({"all": rest})) if rest else rows


def _reads_other_tables_only(node: Any) -> bool:
    """No condition on customer columns and no reference to another segment, at any depth."""
    if "all" in node or "any" in node:
        return all(_reads_other_tables_only(child) for child in node.get("all", node.get("any")))
    if "not" in node:
        return _reads_other_tables_only(node["not"])
    return node["type"] != "segment" and not reads_customer_columns(node)


def _unwrap(node: dict) -> dict:
    """A group of one condition is that condition; an `any` of tags is one "has any of"."""
    while True:
        if "all" in node and len(node["all"]) == 1:
            node = node["all"][0]
        elif "any" in node and len(merged := merge_tag_conditions(node["any"], is_any=True)) == 1:
            node = merged[0]
        else:
            return node


def _driver_rank(node: dict, compiler: RuleCompiler) -> int | None:
    """How good a start the condition is (lower is better); None when it cannot start a rule."""
    kind, op = node.get("type"), node.get("op")
    if kind == "tag":
        if op == "has":
            return _TAG
        return _TAGS if op == "has_any" and compiler.tag_ids(node) else None
    if kind in ("events", "pushes") and op == "at_least":
        return _COUNTED
    if (kind, op) in (("pushes", "ignored_last"), ("engagement", "score_between")):
        return _PROFILE
    return _CHANNEL if kind == "channel" else None


def _driver_rows(node: dict, compiler: RuleCompiler) -> QuerySet:
    """The condition's own rows, one per customer, as a customer_id column."""
    kind, op = node["type"], node["op"]
    if kind == "tag":
        rows = CustomerTag.objects.filter(tag_id__in=compiler.tag_ids(node)).values("customer_id")
        return rows if op == "has" else rows.distinct()
    if kind in ("events", "pushes") and op == "at_least":
        return grouped_count(compiler.event_rows(node), at_least=node["count"])
    if kind == "pushes":
        return EngagementProfile.objects.filter(ignored_push_streak__gte=node["count"]).values("customer_id")
    if kind == "engagement":
        low, high = node["value"]
        return EngagementProfile.objects.filter(score__gte=low, score__lte=high).values("customer_id")
    return compiler.channel_rows(node).values("customer_id").distinct()
