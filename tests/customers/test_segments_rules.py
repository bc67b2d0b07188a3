"""Every rule operator, checked against a Python oracle on random small populations (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import ChannelAccount
from customers.models import (
    ChannelIdentity,
    ConsentCredit,
    Customer,
    CustomerTag,
    EngagementEvent,
    EngagementProfile,
    Tag,
    TagGroup,
)
from customers.segments.members import rule_member_ids
from customers.segments.rules import rule_validate
from customers.segments.selectors import rule_customer_queryset

pytestmark = pytest.mark.django_db(transaction=False)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
CITIES = ["", "Shanghai", "Beijing", "shanghai east"]
EVENT_TYPES = ["mp.purchase", "link.click", "push.sent"]
EVENT_AGES = [1, 5, 20, 60]  # days before NOW; rules use windows 3/10/30 so no event sits on a boundary
ENGAGED_AGES = [None, 2, 12, 45]
ATTR_VALUES = st.one_of(st.integers(0, 5), st.sampled_from(["gold", "silver", "2026-01-05", "2026-03-01T10:00:00"]))


@dataclass
class Person:
    tags: set[int]
    city: str
    gender: int
    attributes: dict[str, Any]
    engaged_days_ago: int | None
    identities: list[tuple[str, int, str, str]]  # (kind, account index, follow state, staff)
    consent: int
    events: list[tuple[str, int, dict]]
    profile: tuple[float, int] | None
    erased: bool
    pk: int = 0
    first_seen_days_ago: int = 100
    extra: dict = field(default_factory=dict)

    @property
    def last_engaged_at(self) -> datetime | None:
        return None if self.engaged_days_ago is None else NOW - timedelta(days=self.engaged_days_ago)


people = st.builds(
    Person,
    tags=st.sets(st.integers(0, 3), max_size=4),
    city=st.sampled_from(CITIES),
    gender=st.integers(0, 2),
    attributes=st.dictionaries(st.sampled_from(["age", "plan", "since"]), ATTR_VALUES, max_size=3),
    engaged_days_ago=st.sampled_from(ENGAGED_AGES),
    identities=st.lists(
        st.tuples(
            st.sampled_from(["oa_openid", "wecom_external", "mp_openid"]),
            st.integers(0, 1),
            st.sampled_from(["following", "unfollowed"]),
            st.sampled_from(["", "s1", "s2"]),
        ),
        max_size=3,
    ),
    consent=st.integers(0, 2),
    events=st.lists(
        st.tuples(st.sampled_from(EVENT_TYPES), st.sampled_from(EVENT_AGES), st.sampled_from([{}, {"sku": "a"}, {"sku": "b"}])),
        max_size=6,
    ),
    profile=st.one_of(st.none(), st.tuples(st.sampled_from([0.0, 0.4, 0.9]), st.integers(0, 3))),
    erased=st.sampled_from([False, False, False, True]),
)
populations = st.lists(people, min_size=1, max_size=8)

# --- conditions (tags and accounts by index; mapped to ids after the population is stored) ---

tag_conditions = st.one_of(
    st.builds(lambda t: {"type": "tag", "op": "has", "tag": ("tag", t)}, st.integers(0, 3)),
    st.builds(
        lambda op, ts: {"type": "tag", "op": op, "tags": [("tag", t) for t in ts]},
        st.sampled_from(["has_any", "has_all", "has_none"]),
        st.lists(st.integers(0, 3), min_size=1, max_size=3),
    ),
    st.builds(lambda op, g: {"type": "tag", "op": op, "group": ("group", g)}, st.sampled_from(["has_any", "has_all", "has_none"]), st.integers(0, 1)),
)
field_conditions = st.one_of(
    st.builds(lambda v: {"type": "field", "field": "city", "op": "eq", "value": v}, st.sampled_from(CITIES)),
    st.builds(lambda op, v: {"type": "field", "field": "city", "op": op, "value": v}, st.sampled_from(["in", "not_in"]), st.lists(st.sampled_from(CITIES), min_size=1, max_size=2)),
    st.builds(lambda v: {"type": "field", "field": "city", "op": "contains", "value": v}, st.sampled_from(["shang", "SHANG", "jing"])),
    st.just({"type": "field", "field": "city", "op": "exists"}),
    st.builds(lambda op, v: {"type": "field", "field": "gender", "op": op, "value": v}, st.sampled_from(["eq", "gt", "lt"]), st.integers(0, 2)),
    st.builds(lambda v: {"type": "field", "field": "gender", "op": "between", "value": v}, st.sampled_from([[0, 1], [1, 2], [2, 2]])),
    st.builds(lambda op, v: {"type": "field", "field": "last_engaged_at", "op": op, "value": v}, st.sampled_from(["before", "after"]), st.sampled_from(["2026-06-08", "2026-05-20T00:00:00+00:00"])),
    st.builds(lambda v: {"type": "field", "field": "last_engaged_at", "op": "within_days", "value": v}, st.sampled_from([7, 30])),
    st.just({"type": "field", "field": "last_engaged_at", "op": "exists"}),
    st.builds(lambda k: {"type": "field", "field": f"attributes.{k}", "op": "exists"}, st.sampled_from(["age", "plan"])),
    st.builds(lambda k, v: {"type": "field", "field": f"attributes.{k}", "op": "eq", "value": v}, st.sampled_from(["age", "plan"]), ATTR_VALUES),
    st.builds(lambda k, op, v: {"type": "field", "field": f"attributes.{k}", "op": op, "value": v}, st.sampled_from(["age", "plan"]), st.sampled_from(["in", "not_in"]), st.lists(ATTR_VALUES, min_size=1, max_size=3)),
    st.builds(lambda op, v: {"type": "field", "field": "attributes.age", "op": op, "value": v}, st.sampled_from(["gt", "lt"]), st.integers(0, 5)),
    st.builds(lambda v: {"type": "field", "field": "attributes.age", "op": "between", "value": v}, st.sampled_from([[1, 3], [0, 0], [2, 5]])),
    st.builds(lambda v: {"type": "field", "field": "attributes.plan", "op": "contains", "value": v}, st.sampled_from(["OL", "silv", "2026"])),
    st.builds(lambda op, v: {"type": "field", "field": "attributes.since", "op": op, "value": v}, st.sampled_from(["before", "after"]), st.sampled_from(["2026-02-01", "2026-03-01T10:00:00"])),
)
channel_conditions = st.one_of(
    st.builds(lambda a: {"type": "channel", "op": "follows", "account": ("account", a)}, st.integers(0, 1)),
    st.just({"type": "channel", "op": "has_wecom"}),
    st.builds(lambda s: {"type": "channel", "op": "has_wecom", "staff": s}, st.sampled_from(["s1", "s2"])),
    st.just({"type": "channel", "op": "has_miniprogram"}),
    st.just({"type": "channel", "op": "has_consent", "template": "T1"}),
)
behaviour_conditions = st.one_of(
    st.builds(
        lambda t, op, k, d, p: {"type": "events", "event_type": t, "op": op, "count": k, **({"days": d} if d else {}), **({"properties": p} if p else {})},
        st.sampled_from(EVENT_TYPES),
        st.sampled_from(["at_least", "at_most"]),
        st.integers(1, 3),
        st.sampled_from([None, 3, 10, 30]),
        st.sampled_from([None, {"sku": "a"}]),
    ),
    st.builds(lambda d: {"type": "events", "event_type": "link.click", "op": "at_most", "count": 0, "days": d}, st.sampled_from([10, 30])),
    st.builds(lambda op, v: {"type": "engagement", "op": op, "value": v}, st.sampled_from(["last_engaged_before", "last_engaged_after"]), st.sampled_from(["2026-06-08", "2026-05-01"])),
    st.builds(lambda v: {"type": "engagement", "op": "last_engaged_within_days", "value": v}, st.sampled_from([7, 30])),
    st.builds(lambda v: {"type": "engagement", "op": "score_between", "value": v}, st.sampled_from([[0, 0.5], [0.3, 1]])),
    st.builds(
        lambda op, k, d: {"type": "pushes", "op": op, "count": k, **({"days": d} if d else {})},
        st.sampled_from(["at_least", "at_most"]),
        st.integers(0, 2),
        st.sampled_from([None, 10, 30]),
    ).filter(lambda c: not (c["op"] == "at_least" and c["count"] == 0)),
    st.builds(lambda k: {"type": "pushes", "op": "ignored_last", "count": k}, st.integers(1, 3)),
)
conditions = st.one_of(tag_conditions, field_conditions, channel_conditions, behaviour_conditions)
trees = st.recursive(
    conditions,
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3)),
        st.builds(lambda x: {"not": x}, children),
    ),
    max_leaves=6,
)
# Rules that read no customer column: counted from one condition's own rows (customers/segments/members.py).
other_table_conditions = st.one_of(tag_conditions, channel_conditions, behaviour_conditions).filter(
    lambda c: c["type"] != "engagement" or c["op"] == "score_between"
)
driven_trees = st.builds(
    lambda first, rest: {"all": [first, *rest]},
    other_table_conditions,
    st.lists(
        st.recursive(
            other_table_conditions,
            lambda children: st.one_of(
                st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3)),
                st.builds(lambda x: {"not": x}, children),
            ),
            max_leaves=3,
        ),
        max_size=3,
    ),
)

# --- the oracle ---


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_eq(a: Any, b: Any) -> bool:
    # jsonb equality: same JSON type and value (a number never equals a string or a boolean).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def oracle(node: dict, p: Person, world: dict) -> bool:
    if "all" in node:
        return all(oracle(child, p, world) for child in node["all"])
    if "any" in node:
        return any(oracle(child, p, world) for child in node["any"])
    if "not" in node:
        return not oracle(node["not"], p, world)
    kind, op = node["type"], node.get("op")
    if kind == "tag":
        if op == "has":
            return node["tag"] in p.tags
        wanted = set(node["tags"]) if "tags" in node else world["groups"][node["group"]]
        if op == "has_any":
            return bool(wanted & p.tags)
        if op == "has_all":
            return wanted <= p.tags
        return not (wanted & p.tags)
    if kind == "field":
        name, value = node["field"], node.get("value")
        if name.startswith("attributes."):
            key = name.removeprefix("attributes.")
            present = key in p.attributes
            actual = p.attributes.get(key)
            if op == "exists":
                return present
            if op in {"eq", "in", "not_in"}:
                hit = present and any(_json_eq(actual, v) for v in ([value] if op == "eq" else value))
                return not hit if op == "not_in" else hit
            if op in {"gt", "lt", "between"}:
                if not _is_num(actual):
                    return False
                return {"gt": lambda: actual > value, "lt": lambda: actual < value, "between": lambda: value[0] <= actual <= value[1]}[op]()
            if not isinstance(actual, str):
                return False
            if op == "contains":
                return value.lower() in actual.lower()
            return actual < value if op == "before" else actual > value
        actual = {"city": p.city, "gender": p.gender, "last_engaged_at": p.last_engaged_at}[name]
        if op == "exists":
            return actual is not None and actual != ""
        if op == "eq":
            return actual == value
        if op == "in":
            return actual in value
        if op == "not_in":
            return actual not in value
        if op == "gt":
            return actual > value
        if op == "lt":
            return actual < value
        if op == "between":
            return value[0] <= actual <= value[1]
        if op == "contains":
            return value.lower() in actual.lower()
        if actual is None:
            return False
        if op == "before":
            return actual < _parse(value)
        if op == "after":
            return actual > _parse(value)
        return actual >= NOW - timedelta(days=value)
    if kind == "channel":
        if op == "follows":
            return any(k == "oa_openid" and a == node["account"] and s == "following" for k, a, s, _ in p.identities)
        if op == "has_wecom":
            return any(k == "wecom_external" and s != "unfollowed" and (not node.get("staff") or st_ == node["staff"]) for k, _, s, st_ in p.identities)
        if op == "has_miniprogram":
            return any(k == "mp_openid" for k, *_ in p.identities)
        return p.consent > 0
    if kind in {"events", "pushes"}:
        if op == "ignored_last":
            return p.profile is not None and p.profile[1] >= node["count"]
        event_type = node.get("event_type", "push.sent")
        days = node.get("days")
        props = node.get("properties") or {}
        n = sum(
            1
            for t, age, pr in p.events
            if t == event_type and (days is None or age < days) and all(pr.get(k) == v for k, v in props.items())
        )
        return n >= node["count"] if op == "at_least" else n <= node["count"]
    if kind == "engagement":
        value = node["value"]
        if op == "score_between":
            return p.profile is not None and value[0] <= p.profile[0] <= value[1]
        if p.last_engaged_at is None:
            return False
        if op == "last_engaged_before":
            return p.last_engaged_at < _parse(value)
        if op == "last_engaged_after":
            return p.last_engaged_at > _parse(value)
        return p.last_engaged_at >= NOW - timedelta(days=value)
    raise AssertionError(node)


# --- storing a population ---


def _store(population: list[Person]) -> dict:
    groups = [TagGroup.objects.create(name=f"g{i}") for i in range(2)]
    tags = [Tag.objects.create(group=groups[i % 2], name=f"t{i}") for i in range(4)]
    accounts = [ChannelAccount.objects.create(kind="oa", name=f"a{i}", app_id=f"wxoracle{i}") for i in range(2)]
    mp = ChannelAccount.objects.create(kind="miniprogram", name="mp", app_id="wxoraclemp")
    wecom = ChannelAccount.objects.create(kind="wecom", name="wc", app_id="wworacle")
    for index, p in enumerate(population):
        c = Customer.objects.create(
            city=p.city, gender=p.gender, attributes=p.attributes, last_engaged_at=p.last_engaged_at,
            erased_at=NOW if p.erased else None,
        )
        p.pk = c.pk
        CustomerTag.objects.bulk_create([CustomerTag(customer=c, tag=tags[t]) for t in p.tags])
        for n, (kind, acct, state, staff) in enumerate(p.identities):
            account = {"oa_openid": accounts[acct], "mp_openid": mp, "wecom_external": wecom}[kind]
            ChannelIdentity.objects.get_or_create(
                account=account, kind=kind, external_id=f"o-{index}-{n}-{acct}",
                defaults={"customer": c, "follow_state": state, "owner_staff_id": staff},
            )
        ConsentCredit.objects.create(customer=c, account=mp, template_id="T1", remaining=p.consent)
        EngagementEvent.objects.bulk_create(
            [EngagementEvent(customer=c, event_type=t, occurred_at=NOW - timedelta(days=age), properties=pr) for t, age, pr in p.events]
        )
        if p.profile is not None:
            EngagementProfile.objects.create(customer=c, score=p.profile[0], ignored_push_streak=p.profile[1])
    return {
        "tag": {i: t.pk for i, t in enumerate(tags)},
        "group": {i: g.pk for i, g in enumerate(groups)},
        "account": {i: a.pk for i, a in enumerate(accounts)},
        "groups_by_id": {g.pk: {t.pk for t in tags if t.group_id == g.pk} for g in groups},
    }


def _bind(node: Any, ids: dict) -> Any:
    if isinstance(node, tuple) and len(node) == 2 and node[0] in ("tag", "group", "account"):
        return ids[node[0]][node[1]]
    if isinstance(node, dict):
        return {k: _bind(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_bind(v, ids) for v in node]
    return node


def _check(population: list[Person], rule: dict) -> None:
    with transaction.atomic():
        ids = _store(population)
        bound = _bind(rule, ids)
        assert rule_validate(bound) == []
        for p in population:
            p.tags = {ids["tag"][t] for t in p.tags}
            p.identities = [(k, ids["account"][a], s, st_) for k, a, s, st_ in p.identities]
        world = {"groups": ids["groups_by_id"]}
        expected = {p.pk for p in population if not p.erased and oracle(bound, p, world)}
        got = set(rule_customer_queryset(bound, now=NOW).values_list("pk", flat=True))
        assert got == expected, bound
        members = _member_rows(rule_member_ids(bound, now=NOW))
        assert sorted(members) == sorted(expected), bound  # the same members, each once
        transaction.set_rollback(True)


def _member_rows(members) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(members.sql, members.params)
        return [row[0] for row in cursor.fetchall()]


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(population=populations, rule=tag_conditions)
def test_tag_conditions_match_the_oracle(db, population, rule):
    _check(population, rule)


@SETTINGS
@given(population=populations, rule=field_conditions)
def test_field_and_attribute_conditions_match_the_oracle(db, population, rule):
    _check(population, rule)


@SETTINGS
@given(population=populations, rule=st.one_of(channel_conditions, behaviour_conditions))
def test_channel_behaviour_and_push_conditions_match_the_oracle(db, population, rule):
    _check(population, rule)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(population=populations, rule=trees)
def test_nested_all_any_not_trees_match_the_oracle(db, population, rule):
    _check(population, rule)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(population=populations, rule=driven_trees)
def test_rules_counted_from_one_conditions_rows_match_the_oracle(db, population, rule):
    _check(population, rule)


def test_an_empty_any_inside_an_all_has_no_members(db):
    Customer.objects.create()
    tag = Tag.objects.create(group=TagGroup.objects.create(name="g"), name="t")
    assert _member_rows(rule_member_ids({"all": [{"type": "tag", "op": "has", "tag": tag.pk}, {"any": []}]})) == []
    assert _member_rows(rule_member_ids({"any": []})) == []


def test_at_most_includes_customers_without_any_events(db):
    population = [
        Person(tags=set(), city="", gender=0, attributes={}, engaged_days_ago=None, identities=[], consent=0, events=[], profile=None, erased=False),
        Person(tags=set(), city="", gender=0, attributes={}, engaged_days_ago=None, identities=[], consent=0,
               events=[("push.sent", 1, {}), ("push.sent", 5, {})], profile=None, erased=False),
    ]
    _check(population, {"type": "pushes", "op": "at_most", "count": 1, "days": 30})
    with transaction.atomic():
        _store(population)
        got = set(rule_customer_queryset({"type": "pushes", "op": "at_most", "count": 1, "days": 30}, now=NOW).values_list("pk", flat=True))
        assert got == {population[0].pk}
        transaction.set_rollback(True)


def test_erased_customers_are_never_in_a_segment(db):
    kept = Customer.objects.create()
    Customer.objects.create(erased_at=NOW)
    assert list(rule_customer_queryset({"all": []}).values_list("pk", flat=True)) == [kept.pk]
