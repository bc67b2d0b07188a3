"""Rule validation: every bad node reported with its JSON path and why, cycles caught before running."""

import pytest

from customers.segments.models import Segment, SegmentKind
from customers.segments.rules import rule_validate
from customers.segments.selectors import segment_customer_queryset
from customers.segments.services import segment_create, segment_update
from scrm.errors import ApplicationError
from tests.factories import ChannelAccountFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


def _errors(rule, **kwargs):
    return {(e.path, e.message) for e in rule_validate(rule, **kwargs)}


def _paths(rule, **kwargs):
    return {e.path for e in rule_validate(rule, **kwargs)}


def test_valid_rule_has_no_errors():
    tag, account = TagFactory(), ChannelAccountFactory()
    rule = {
        "all": [
            {"type": "tag", "op": "has", "tag": tag.pk},
            {"type": "channel", "op": "follows", "account": account.pk},
            {"not": {"type": "pushes", "op": "at_least", "count": 3, "days": 7}},
            {"any": [{"type": "events", "event_type": "mp.purchase", "op": "at_least", "count": 1, "days": 90}]},
        ]
    }
    assert rule_validate(rule) == []


def test_every_bad_node_is_reported_with_its_path():
    rule = {
        "all": [
            {"type": "tag", "op": "has", "tag": "coffee"},
            {"type": "nope"},
            {"any": [{"type": "field", "field": "height", "op": "eq", "value": 1}, {"type": "field", "field": "city", "op": "gt", "value": 3}]},
            {"not": {"type": "events", "event_type": "mp.purchase", "op": "at_least", "count": "two", "days": 0}},
            {"type": "field", "field": "attributes.age", "op": "between", "value": [5, 1]},
            {"type": "pushes", "op": "at_most", "count": 1, "colour": "red"},
            "not a node",
        ]
    }
    assert _paths(rule) == {
        "$.all[0].tag",
        "$.all[1].type",
        "$.all[2].any[0].field",
        "$.all[2].any[1].op",
        "$.all[3].not.count",
        "$.all[3].not.days",
        "$.all[4].value",
        "$.all[5].colour",
        "$.all[6]",
    }


def test_wrong_operand_types_are_explained():
    errors = _errors({"type": "field", "field": "gender", "op": "in", "value": [1, "two"]})
    assert errors == {("$.value[1]", "expected a scalar of the field's type")}
    assert _paths({"type": "field", "field": "last_engaged_at", "op": "before", "value": "yesterday"}) == {"$.value"}
    assert _paths({"type": "field", "field": "city", "op": "exists", "value": "x"}) == {"$.value"}
    assert _paths({"type": "engagement", "op": "score_between", "value": [1]}) == {"$.value"}


def test_unknown_tags_accounts_and_segments_are_reported():
    tag = TagFactory()
    rule = {
        "all": [
            {"type": "tag", "op": "has_any", "tags": [tag.pk, 999999]},
            {"type": "channel", "op": "follows", "account": 888888},
            {"type": "segment", "segment": 777777},
            {"type": "tag", "op": "has_none", "group": 666666},
        ]
    }
    assert _errors(rule) == {
        ("$.all[0].tags[1]", "unknown tag 999999"),
        ("$.all[1].account", "unknown channel account 888888"),
        ("$.all[2].segment", "unknown segment 777777"),
        ("$.all[3].group", "unknown tag group 666666"),
    }


def test_group_shape_errors():
    assert _paths({"all": [], "any": []}) == {"$"}
    assert _paths({"all": {"type": "tag"}}) == {"$.all"}
    assert _paths([]) == {"$"}


def test_segment_cycles_are_rejected():
    a = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"all": []})
    b = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "segment", "segment": a.pk})
    c = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "segment", "segment": b.pk})
    # a -> c -> b -> a
    errors = rule_validate({"not": {"type": "segment", "segment": c.pk}}, segment_id=a.pk)
    assert [e.path for e in errors] == ["$.not.segment"]
    assert "cycle" in errors[0].message
    with pytest.raises(ApplicationError) as excinfo:
        segment_update(segment=a, rule={"type": "segment", "segment": c.pk})
    assert excinfo.value.code == "segment_rule_invalid"
    assert _paths({"type": "segment", "segment": a.pk}, segment_id=a.pk) == {"$.segment"}


def test_create_refuses_an_invalid_rule_with_paths():
    with pytest.raises(ApplicationError) as excinfo:
        segment_create(name="bad", rule={"any": [{"type": "tag", "op": "maybe"}]})
    assert excinfo.value.detail == {"errors": [{"path": "$.any[0].op", "message": "unknown operator 'maybe'; expected one of ['has', 'has_all', 'has_any', 'has_none']"}]}


def test_a_stored_cycle_is_refused_when_evaluated_not_a_server_error():
    a = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"all": []})
    b = SegmentFactory(kind=SegmentKind.DYNAMIC, rule={"type": "segment", "segment": a.pk})
    Segment.objects.filter(pk=a.pk).update(rule={"type": "segment", "segment": b.pk})  # bypassing validation
    a.refresh_from_db()
    with pytest.raises(ApplicationError) as excinfo:
        segment_customer_queryset(a)
    assert excinfo.value.code == "segment_cycle"
