"""The segment rule language and its validation.

A rule is a tree of groups over conditions:

    {"all": [node, ...]}   every child matches ({"all": []} is everyone)
    {"any": [node, ...]}   at least one child matches ({"any": []} is no one)
    {"not": node}          the child does not match (exact: customers with no data match "not")

Conditions (``type`` selects the shape; every other key is checked):

    {"type": "tag", "op": "has", "tag": id}
    {"type": "tag", "op": "has_any" | "has_all" | "has_none", "tags": [id, ...]}     or "group": id
    {"type": "field", "field": name | "attributes.<key>", "op": op, "value": ...}
        ops: eq, in, not_in, gt, lt, between, contains, exists, before, after, within_days
    {"type": "channel", "op": "follows", "account": id}
    {"type": "channel", "op": "has_wecom", "staff": "userid" (optional)}
    {"type": "channel", "op": "has_miniprogram"}
    {"type": "channel", "op": "has_consent", "template": "template id", "account": id (optional)}
    {"type": "events", "event_type": "mp.purchase", "op": "at_least" | "at_most", "count": k,
     "days": N (optional, else all time), "properties": {...} (optional, exact key/value match)}
    {"type": "engagement", "op": "last_engaged_before" | "last_engaged_after", "value": date}
    {"type": "engagement", "op": "last_engaged_within_days", "value": N}
    {"type": "engagement", "op": "score_between", "value": [low, high]}   (inclusive; needs a profile)
    {"type": "pushes", "op": "at_least" | "at_most", "count": k, "days": N (optional)}   (push.sent events)
    {"type": "pushes", "op": "ignored_last", "count": k}   (ignored the last k pushes or more)
    {"type": "segment", "segment": id}   (member of another segment; no cycles)

`rule_validate` checks the whole tree against the database (tags, accounts, segments exist, no
cycle) and returns every problem with the JSON path of its node; `rule_check` raises them as one
ApplicationError (HTTP 400) before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.models import ChannelAccount
from customers.errors import CustomerError
from customers.models import Tag, TagGroup
from customers.segments.language import (
    ATTRIBUTE_KEY,
    CHANNEL_OPS,
    CONDITION_KEYS,
    COUNT_OPS,
    ENGAGEMENT_OPS,
    EVENT_TYPE,
    FIELD_OPS,
    FIELD_TYPES,
    MAX_DEPTH,
    MAX_NODES,
    PUSH_OPS,
    TAG_OPS,
    is_id,
    is_int,
    is_number,
    is_scalar,
    parse_moment,
)
from customers.segments.models import Segment
from customers.segments.references import find_cycle, segment_references
from scrm.errors import ApplicationError

# Re-exported: callers read the language's names and segment references through this module too.
__all__ = ["FIELD_TYPES", "RuleError", "parse_moment", "rule_check", "rule_validate", "segment_references"]


@dataclass
class RuleError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class _Validator:
    def __init__(self, *, segment_id: int | None):
        self.errors: list[RuleError] = []
        self.segment_id = segment_id
        self.nodes = 0
        # References to check against the database once the walk is done: id -> first paths.
        self.tags: dict[int, list[str]] = {}
        self.groups: dict[int, list[str]] = {}
        self.accounts: dict[int, list[str]] = {}
        self.segments: dict[int, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.append(RuleError(path, message))

    def node(self, node: Any, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.error(path, f"the rule has more than {MAX_NODES} nodes")
            return
        if depth > MAX_DEPTH:
            self.error(path, f"the rule is nested deeper than {MAX_DEPTH} levels")
            return
        if not isinstance(node, dict):
            self.error(path, "expected an object (a group or a condition)")
            return
        groups = [key for key in ("all", "any", "not") if key in node]
        if groups:
            if len(node) != 1:
                self.error(path, "a group has exactly one key: all, any or not")
                return
            key = groups[0]
            child = node[key]
            if key == "not":
                self.node(child, f"{path}.not", depth + 1)
            elif not isinstance(child, list):
                self.error(f"{path}.{key}", "expected a list of conditions")
            else:
                for index, item in enumerate(child):
                    self.node(item, f"{path}.{key}[{index}]", depth + 1)
            return
        kind = node.get("type")
        if kind is None:
            self.error(path, "expected a group (all/any/not) or a condition with a 'type'")
            return
        if kind not in CONDITION_KEYS:
            self.error(f"{path}.type", f"unknown condition type {kind!r}; expected one of {sorted(CONDITION_KEYS)}")
            return
        for key in sorted(set(node) - CONDITION_KEYS[kind]):
            self.error(f"{path}.{key}", f"unknown key for a {kind} condition")
        getattr(self, f"cond_{kind}")(node, path)

    def _op(self, node: dict, path: str, allowed: set[str]) -> str | None:
        op = node.get("op")
        if op not in allowed:
            self.error(f"{path}.op", f"unknown operator {op!r}; expected one of {sorted(allowed)}")
            return None
        return op

    def _ref(self, bucket: dict[int, list[str]], value: Any, path: str, what: str) -> None:
        if not is_id(value):
            self.error(path, f"expected a {what} id (a positive integer)")
        else:
            bucket.setdefault(value, []).append(path)

    def _count(self, node: dict, path: str, *, minimum: int) -> None:
        count = node.get("count")
        if not is_int(count) or count < minimum:
            self.error(f"{path}.count", f"expected an integer >= {minimum}")

    def _days(self, node: dict, path: str, *, required: bool = False) -> None:
        if "days" not in node and not required:
            return
        days = node.get("days")
        if not is_int(days) or not 1 <= days <= 3660:
            self.error(f"{path}.days", "expected a whole number of days between 1 and 3660")

    # --- conditions ---

    def cond_tag(self, node: dict, path: str) -> None:
        op = self._op(node, path, TAG_OPS)
        if op is None:
            return
        if op == "has":
            if "tags" in node or "group" in node:
                self.error(path, "'has' takes one 'tag'; use has_any/has_all/has_none for lists or groups")
            self._ref(self.tags, node.get("tag"), f"{path}.tag", "tag")
            return
        if "tag" in node:
            self.error(f"{path}.tag", f"{op} takes 'tags' (a list) or 'group'")
        if ("tags" in node) == ("group" in node):
            self.error(path, f"{op} needs exactly one of 'tags' (a list of tag ids) or 'group' (a tag group id)")
            return
        if "group" in node:
            self._ref(self.groups, node["group"], f"{path}.group", "tag group")
            return
        tags = node["tags"]
        if not isinstance(tags, list) or not tags:
            self.error(f"{path}.tags", "expected a non-empty list of tag ids")
            return
        for index, tag in enumerate(tags):
            self._ref(self.tags, tag, f"{path}.tags[{index}]", "tag")

    def cond_field(self, node: dict, path: str) -> None:
        field = node.get("field")
        if not isinstance(field, str):
            self.error(f"{path}.field", "expected a field name or 'attributes.<key>'")
            return
        if field.startswith("attributes."):
            if not ATTRIBUTE_KEY.match(field.removeprefix("attributes.")):
                self.error(f"{path}.field", "an attribute key is 1-64 letters, digits, '_' or '-'")
                return
            ftype = "attribute"
        elif field in FIELD_TYPES:
            ftype = FIELD_TYPES[field]
        else:
            self.error(f"{path}.field", f"unknown field {field!r}; expected one of {sorted(FIELD_TYPES)} or attributes.<key>")
            return
        op = self._op(node, path, FIELD_OPS[ftype])
        if op is None:
            return
        value_path = f"{path}.value"
        value = node.get("value")
        if op == "exists":
            if "value" in node:
                self.error(value_path, "'exists' takes no value")
            return
        if "value" not in node:
            self.error(value_path, f"'{op}' needs a value")
            return
        scalar_ok = {"string": lambda v: isinstance(v, str), "int": is_int, "attribute": is_scalar}.get(ftype)
        if op == "eq":
            if not scalar_ok(value):
                self.error(value_path, f"expected a {'string' if ftype == 'string' else 'number' if ftype == 'int' else 'string, number or boolean'}")
        elif op in {"in", "not_in"}:
            if not isinstance(value, list) or not value or len(value) > 1000:
                self.error(value_path, "expected a non-empty list (at most 1000 values)")
            else:
                for index, item in enumerate(value):
                    if not scalar_ok(item):
                        self.error(f"{value_path}[{index}]", "expected a scalar of the field's type")
        elif op in {"gt", "lt"}:
            if not is_number(value):
                self.error(value_path, "expected a number")
        elif op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value)):
                self.error(value_path, "expected [low, high] (two numbers, inclusive)")
            elif value[0] > value[1]:
                self.error(value_path, "low is greater than high")
        elif op == "contains":
            if not isinstance(value, str) or not value:
                self.error(value_path, "expected a non-empty string")
        elif op in {"before", "after"}:
            if parse_moment(value) is None:
                self.error(value_path, "expected a date (YYYY-MM-DD) or an ISO datetime")
        elif op == "within_days" and (not is_int(value) or not 1 <= value <= 3660):
            self.error(value_path, "expected a whole number of days between 1 and 3660")

    def cond_channel(self, node: dict, path: str) -> None:
        op = self._op(node, path, CHANNEL_OPS)
        if op is None:
            return
        allowed = {"follows": {"account"}, "has_wecom": {"staff"}, "has_miniprogram": set(), "has_consent": {"template", "account"}}[op]
        for key in sorted({"account", "staff", "template"} & set(node) - allowed):
            self.error(f"{path}.{key}", f"'{op}' takes no {key}")
        if op == "follows" or (op == "has_consent" and "account" in node):
            self._ref(self.accounts, node.get("account"), f"{path}.account", "channel account")
        if op == "has_wecom" and "staff" in node and (not isinstance(node["staff"], str) or not node["staff"]):
            self.error(f"{path}.staff", "expected a WeCom staff userid (a non-empty string)")
        if op == "has_consent" and (not isinstance(node.get("template"), str) or not node.get("template")):
            self.error(f"{path}.template", "expected a subscribe-message template id (a non-empty string)")

    def cond_events(self, node: dict, path: str) -> None:
        event_type = node.get("event_type")
        if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type) or len(event_type) > 48:
            self.error(f"{path}.event_type", "expected a dotted event type such as 'mp.purchase'")
        op = self._op(node, path, COUNT_OPS)
        if op:
            self._count(node, path, minimum=1 if op == "at_least" else 0)
        self._days(node, path)
        if "properties" in node:
            props = node["properties"]
            if not isinstance(props, dict) or not props:
                self.error(f"{path}.properties", "expected a non-empty object of property values")
            else:
                for key, value in props.items():
                    if not ATTRIBUTE_KEY.match(str(key)):
                        self.error(f"{path}.properties.{key}", "a property key is 1-64 letters, digits, '_' or '-'")
                    elif not is_scalar(value):
                        self.error(f"{path}.properties.{key}", "expected a string, number or boolean")

    def cond_engagement(self, node: dict, path: str) -> None:
        op = self._op(node, path, ENGAGEMENT_OPS)
        value = node.get("value")
        value_path = f"{path}.value"
        if op in {"last_engaged_before", "last_engaged_after"} and parse_moment(value) is None:
            self.error(value_path, "expected a date (YYYY-MM-DD) or an ISO datetime")
        elif op == "last_engaged_within_days" and (not is_int(value) or not 1 <= value <= 3660):
            self.error(value_path, "expected a whole number of days between 1 and 3660")
        elif op == "score_between":
            if not (isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value)):
                self.error(value_path, "expected [low, high] (two numbers, inclusive)")
            elif value[0] > value[1]:
                self.error(value_path, "low is greater than high")

    def cond_pushes(self, node: dict, path: str) -> None:
        op = self._op(node, path, PUSH_OPS)
        if op is None:
            return
        if op == "ignored_last":
            self._count(node, path, minimum=1)
            if "days" in node:
                self.error(f"{path}.days", "'ignored_last' takes no days")
            return
        self._count(node, path, minimum=1 if op == "at_least" else 0)
        self._days(node, path)

    def cond_segment(self, node: dict, path: str) -> None:
        value = node.get("segment")
        if self.segment_id is not None and value == self.segment_id:
            self.error(f"{path}.segment", "a segment cannot contain itself")
            return
        self._ref(self.segments, value, f"{path}.segment", "segment")

    # --- database checks ---

    def check_references(self) -> None:
        for bucket, model, what in (
            (self.tags, Tag, "tag"),
            (self.groups, TagGroup, "tag group"),
            (self.accounts, ChannelAccount, "channel account"),
        ):
            if bucket:
                known = set(model.objects.filter(pk__in=list(bucket)).values_list("pk", flat=True))
                for pk in sorted(set(bucket) - known):
                    for path in bucket[pk]:
                        self.error(path, f"unknown {what} {pk}")
        if self.segments:
            known = set(Segment.objects.filter(pk__in=list(self.segments)).values_list("pk", flat=True))
            for pk in sorted(set(self.segments) - known):
                for path in self.segments[pk]:
                    self.error(path, f"unknown segment {pk}")
            cycle = find_cycle(self.segment_id, sorted(set(self.segments) & known))
            if cycle:
                first = cycle[0] if cycle[0] in self.segments else cycle[1]
                for path in self.segments.get(first, []):
                    self.error(path, "segment references form a cycle: " + " -> ".join(str(s) for s in cycle))


def rule_validate(rule: Any, *, segment_id: int | None = None) -> list[RuleError]:
    """Every problem of the rule, each with the JSON path of its node; empty when it is valid."""
    validator = _Validator(segment_id=segment_id)
    validator.node(rule, "$", 0)
    validator.check_references()
    return validator.errors


def rule_check(rule: Any, *, segment_id: int | None = None) -> None:
    """Raise one ApplicationError (400) listing every problem of the rule."""
    errors = rule_validate(rule, segment_id=segment_id)
    if errors:
        raise ApplicationError(
            code=CustomerError.SEGMENT_RULE_INVALID,
            detail={"errors": [e.as_dict() for e in errors]},
        )
