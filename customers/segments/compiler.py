"""Compile a (validated) segment rule into one filter over customers — one SQL query.

Shape, chosen for PostgreSQL's planner:
- Negation is pushed down to the leaves (De Morgan), so every leaf knows its polarity.
- A positive leaf on another table is `customers.id IN (SELECT customer_id FROM <table> WHERE …)`:
  in an AND it becomes a semi-join that can start from that table's index (e.g. (tag, customer)),
  inside an OR a hashed subplan evaluated once.
- A negative leaf is `NOT EXISTS (… WHERE customer_id = customers.id …)`: an anti-join, which also
  keeps customers with no rows at all ("at most k" includes zero events; "has none of" includes
  untagged customers).
- Counts ("at least k events") group the event rows by customer inside the subquery.
- Column leaves that can be NULL are built so the predicate itself is never NULL, so `not` is exact.
The same leaves compile over another table's customer_id column (key "customer_id") for rules that
start from one condition's rows (members.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Collate
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan
from django.utils import timezone

from customers.errors import CustomerError
from customers.models import ChannelIdentity, ConsentCredit, CustomerTag, EngagementEvent, EngagementProfile, Tag
from customers.segments.language import FIELD_TYPES, parse_moment
from customers.segments.models import Segment, SegmentKind, SegmentStaticMember
from scrm.errors import ApplicationError

TRUE = Q(pk__isnull=False)
FALSE = Q(pk__in=[])
PUSH_SENT = "push.sent"


class _AttrIs(Func):
    """`attributes.<key>` holds a JSON value of one type (number, string, boolean): never NULL."""

    output_field = BooleanField()
    conditional = True
    PG = {"number": "('number')", "string": "('string')", "boolean": "('boolean')"}
    SQLITE = {"number": "('integer', 'real')", "string": "('text')", "boolean": "('true', 'false')"}

    def __init__(self, key: str, json_type: str):
        super().__init__(F("attributes"))
        self.key, self.json_type = key, json_type

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"COALESCE(json_type({sql}, %s) IN {self.SQLITE[self.json_type]}, FALSE)",
            [*params, f'$."{self.key}"'],
        )

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE(jsonb_typeof({sql} -> %s) IN {self.PG[self.json_type]}, FALSE)", [*params, self.key]


@dataclass
class _Leaf:
    """Both polarities of one condition."""

    positive: Q
    negative: Q


def _membership(rows: QuerySet, key: str) -> _Leaf:
    """Customers having at least one row of `rows` (a queryset of a table with customer_id); `key` is
    the outer query's customer column ("pk" over customers, "customer_id" over a driving table)."""
    return _Leaf(
        positive=Q(**{f"{key}__in": rows.values("customer_id")}),
        negative=~Q(Exists(rows.filter(customer_id=OuterRef(key)))),
    )


def grouped_count(rows: QuerySet, *, at_least: int) -> QuerySet:
    """customer_id of the customers with at least `at_least` rows of `rows`: one grouped count."""
    return rows.order_by().values("customer_id").annotate(n=Count("*")).filter(n__gte=at_least).values("customer_id")


def _counted(rows: QuerySet, *, at_least: int, key: str) -> _Leaf:
    """Customers with at least `at_least` rows of `rows` (at_least >= 1)."""
    if at_least <= 1:
        return _membership(rows, key)
    grouped = grouped_count(rows, at_least=at_least)
    return _Leaf(positive=Q(**{f"{key}__in": grouped}), negative=~Q(**{f"{key}__in": grouped}))


def _column(q: Q) -> _Leaf:
    # Django adds `AND col IS NOT NULL` inside a negated lookup on a nullable column, so ~q is exact.
    return _Leaf(positive=q, negative=~q)


def _never_null(q: Q) -> _Leaf:
    return _Leaf(positive=q, negative=~q)


def as_aware(value: datetime | date) -> datetime:
    """A date means its midnight in the project's time zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


class RuleCompiler:
    """Compiles a rule to a Q over customers (key "pk"), or over another table's customer_id column
    (key "customer_id"; customers/segments/members.py), which only rules without customer-column
    conditions can use."""

    def __init__(self, *, now: datetime | None = None, stack: tuple[int, ...] = (), key: str = "pk"):
        self.now = now or timezone.now()
        self.stack = stack
        self.key = key
        self.postgres = connection.vendor == "postgresql"

    def _membership(self, rows: QuerySet) -> _Leaf:
        return _membership(rows, self.key)

    def compile(self, node: dict, negate: bool = False) -> Q:
        if "all" in node or "any" in node:
            is_all = "all" in node
            children = node["all"] if is_all else node["any"]
            if not children:
                # all [] is everyone, any [] is no one; flipped under negation.
                return (FALSE if negate else TRUE) if is_all else (TRUE if negate else FALSE)
            parts = [self.compile(child, negate) for child in merge_tag_conditions(children, is_any=not is_all)]
            conjunction = is_all != negate
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if conjunction else (combined | part)
            return combined
        if "not" in node:
            return self.compile(node["not"], not negate)
        if node["type"] == "segment":
            return self._segment(node["segment"], negate)
        if self.key != "pk" and reads_customer_columns(node):
            raise ValueError("a condition on customer columns compiles over customers only")
        leaf = getattr(self, f"_{node['type']}")(node)
        return leaf.negative if negate else leaf.positive

    # --- leaves ---

    def tag_ids(self, node: dict) -> list[int]:
        """The tags a tag condition names (its tag, its list, or its group's tags)."""
        if node["op"] == "has":
            return [node["tag"]]
        if "group" in node:
            return list(Tag.objects.filter(group_id=node["group"]).values_list("pk", flat=True))
        return list(dict.fromkeys(node["tags"]))

    def _tag(self, node: dict) -> _Leaf:
        op, tag_ids = node["op"], self.tag_ids(node)
        if op == "has_all":
            if not tag_ids:
                return _Leaf(TRUE, FALSE)
            leaves = [self._membership(CustomerTag.objects.filter(tag_id=tag_id)) for tag_id in tag_ids]
            positive, negative = leaves[0].positive, leaves[0].negative
            for leaf in leaves[1:]:
                positive &= leaf.positive
                negative |= leaf.negative
            return _Leaf(positive, negative)
        if not tag_ids:
            leaf = _Leaf(FALSE, TRUE)
        elif len(tag_ids) == 1:
            leaf = self._membership(CustomerTag.objects.filter(tag_id=tag_ids[0]))
        else:
            leaf = self._membership(CustomerTag.objects.filter(tag_id__in=tag_ids))
        return _Leaf(leaf.negative, leaf.positive) if op == "has_none" else leaf

    def _field(self, node: dict) -> _Leaf:
        field, op, value = node["field"], node["op"], node.get("value")
        if field.startswith("attributes."):
            return self._attribute(field.removeprefix("attributes."), op, value)
        kind = FIELD_TYPES[field]
        if op == "exists":
            return _column(Q(**{f"{field}__isnull": False}) if kind == "datetime" else ~Q(**{field: ""}))
        if op == "eq":
            return _column(Q(**{field: value}))
        if op in {"in", "not_in"}:
            leaf = _column(Q(**{f"{field}__in": value}))
            return _Leaf(leaf.negative, leaf.positive) if op == "not_in" else leaf
        if op in {"gt", "lt"}:
            return _column(Q(**{f"{field}__{op}": value}))
        if op == "between":
            return _column(Q(**{f"{field}__gte": value[0], f"{field}__lte": value[1]}))
        if op == "contains":
            return _column(Q(**{f"{field}__icontains": value}))
        if op == "before":
            return _column(Q(**{f"{field}__lt": as_aware(parse_moment(value))}))
        if op == "after":
            return _column(Q(**{f"{field}__gt": as_aware(parse_moment(value))}))
        if op == "within_days":
            return _column(Q(**{f"{field}__gte": self.now - timedelta(days=value)}))
        raise ValueError(op)

    def _attribute(self, key: str, op: str, value: Any) -> _Leaf:
        path = f"attributes__{key}"
        if op == "exists":
            return _never_null(Q(attributes__has_key=key))
        if op in {"eq", "in", "not_in"}:
            values = [value] if op == "eq" else list(value)
            q = FALSE
            for item in values:
                if self.postgres:
                    # jsonb containment: served by the GIN index on attributes, never NULL.
                    term = Q(attributes__contains={key: item})
                else:
                    term = Q(_AttrIs(key, _json_type(item))) & Q(**{path: item})
                q = term if q is FALSE else q | term
            leaf = _never_null(q)
            return _Leaf(leaf.negative, leaf.positive) if op == "not_in" else leaf
        if op in {"gt", "lt", "between"}:
            # Only JSON numbers compare; the type guard makes the predicate FALSE (not NULL) otherwise.
            guard = Q(_AttrIs(key, "number"))
            if op == "between":
                return _never_null(guard & Q(**{f"{path}__gte": value[0], f"{path}__lte": value[1]}))
            return _never_null(guard & Q(**{f"{path}__{op}": value}))
        guard = Q(_AttrIs(key, "string"))
        if op == "contains":
            return _never_null(guard & Q(**{f"{path}__icontains": value}))
        # Dates in attributes are ISO strings, compared as text (byte order).
        text = KeyTextTransform(key, "attributes")
        if self.postgres:
            text = Collate(text, "C")
        if op == "before":
            return _never_null(guard & Q(LessThan(text, Value(str(value)))))
        if op == "after":
            return _never_null(guard & Q(GreaterThan(text, Value(str(value)))))
        if op == "within_days":
            since = timezone.localdate(self.now - timedelta(days=value)).isoformat()  # the operator's day
            return _never_null(guard & Q(GreaterThanOrEqual(text, Value(since))))
        raise ValueError(op)

    def _channel(self, node: dict) -> _Leaf:
        return self._membership(self.channel_rows(node))

    def channel_rows(self, node: dict) -> QuerySet:
        """The identity (or consent) rows a channel condition asks for."""
        op = node["op"]
        if op == "follows":
            rows = ChannelIdentity.objects.filter(account_id=node["account"], follow_state="following")
        elif op == "has_wecom":
            rows = ChannelIdentity.objects.filter(kind="wecom_external").exclude(follow_state="unfollowed")
            if node.get("staff"):
                rows = rows.filter(owner_staff_id=node["staff"])
        elif op == "has_miniprogram":
            rows = ChannelIdentity.objects.filter(kind="mp_openid")
        else:
            rows = ConsentCredit.objects.filter(template_id=node["template"], remaining__gt=0)
            if node.get("account"):
                rows = rows.filter(account_id=node["account"])
        return rows

    def event_rows(self, node: dict) -> QuerySet:
        """The engagement events an events/pushes count condition counts (type, window, properties)."""
        rows = EngagementEvent.objects.filter(event_type=node["event_type"] if node["type"] == "events" else PUSH_SENT)
        if node.get("days"):
            rows = rows.filter(occurred_at__gte=self.now - timedelta(days=node["days"]))
        properties = node.get("properties")
        if properties:
            if self.postgres:
                rows = rows.filter(properties__contains=properties)
            else:
                for key, value in properties.items():
                    rows = rows.filter(**{f"properties__{key}": value})
        return rows

    def _events(self, node: dict) -> _Leaf:
        rows, count = self.event_rows(node), node["count"]
        if node["op"] == "at_least":
            return _counted(rows, at_least=count, key=self.key)
        # at most k == not (at least k + 1): customers with no events at all are included.
        leaf = _counted(rows, at_least=count + 1, key=self.key)
        return _Leaf(leaf.negative, leaf.positive)

    def _pushes(self, node: dict) -> _Leaf:
        if node["op"] == "ignored_last":
            return self._membership(EngagementProfile.objects.filter(ignored_push_streak__gte=node["count"]))
        return self._events(node)

    def _engagement(self, node: dict) -> _Leaf:
        op, value = node["op"], node["value"]
        if op == "last_engaged_before":
            return _column(Q(last_engaged_at__lt=as_aware(parse_moment(value))))
        if op == "last_engaged_after":
            return _column(Q(last_engaged_at__gt=as_aware(parse_moment(value))))
        if op == "last_engaged_within_days":
            return _column(Q(last_engaged_at__gte=self.now - timedelta(days=value)))
        return self._membership(EngagementProfile.objects.filter(score__gte=value[0], score__lte=value[1]))

    def _segment(self, segment_id: int, negate: bool) -> Q:
        if segment_id in self.stack:
            # Validation refuses cycles; this guards rules stored before a referenced segment changed.
            raise ApplicationError(code=CustomerError.SEGMENT_CYCLE, detail={"segments": [*self.stack, segment_id]})
        segment = Segment.objects.filter(pk=segment_id).only("kind", "rule").first()
        if segment is None:
            return TRUE if negate else FALSE
        if segment.kind == SegmentKind.STATIC:
            leaf = self._membership(SegmentStaticMember.objects.filter(segment_id=segment_id))
            return leaf.negative if negate else leaf.positive
        inner = RuleCompiler(now=self.now, stack=(*self.stack, segment_id), key=self.key)
        return inner.compile(segment.rule or {"all": []}, negate)


def reads_customer_columns(node: dict) -> bool:
    """A condition on the customer's own columns (fields, attributes, last engaged)."""
    return node.get("type") == "field" or (node.get("type") == "engagement" and node.get("op") != "score_between")


def merge_tag_conditions(children: list, *, is_any: bool) -> list:
    """One probe of the (tag, customer) index instead of one per tag: in an `any`, "has"/"has any of"
    siblings become one "has any of"; in an `all`, "has none of" siblings become one "has none of"."""
    mergeable = {"has", "has_any"} if is_any else {"has_none"}
    tag_ids: list[int] = []
    rest = []
    for child in children:
        if isinstance(child, dict) and child.get("type") == "tag" and child.get("op") in mergeable and "group" not in child:
            tag_ids.extend([child["tag"]] if child["op"] == "has" else child["tags"])
        else:
            rest.append(child)
    if len(children) - len(rest) < 2:
        return children
    return [{"type": "tag", "op": "has_any" if is_any else "has_none", "tags": tag_ids}, *rest]


def rule_compile(rule: dict, *, now: datetime | None = None, segment_id: int | None = None) -> Q:
    """The rule as one Q over Customer (the caller validated it)."""
    stack = (segment_id,) if segment_id else ()
    return RuleCompiler(now=now, stack=stack).compile(rule or {"all": []})
