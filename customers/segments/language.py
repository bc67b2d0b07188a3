"""The rule language's vocabulary: condition types and their keys, the customer fields a rule may
read and the operators of each, and the operand checks shared by validation and the compiler."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

MAX_DEPTH = 12
MAX_NODES = 200

# Customer columns a "field" condition may read, with their operand type.
FIELD_TYPES: dict[str, str] = {
    "display_name": "string",
    "city": "string",
    "province": "string",
    "country": "string",
    "language": "string",
    "source": "string",
    "timezone": "string",
    "gender": "int",
    "first_seen_at": "datetime",
    "last_engaged_at": "datetime",
    "created_at": "datetime",
}
# Operators per operand type; attributes.<key> accepts all (typed by the value given).
FIELD_OPS: dict[str, set[str]] = {
    "string": {"eq", "in", "not_in", "contains", "exists"},
    "int": {"eq", "in", "not_in", "gt", "lt", "between"},
    "datetime": {"before", "after", "within_days", "exists"},
    "attribute": {"eq", "in", "not_in", "gt", "lt", "between", "contains", "exists", "before", "after", "within_days"},
}
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
TAG_OPS = {"has", "has_any", "has_all", "has_none"}
CHANNEL_OPS = {"follows", "has_wecom", "has_miniprogram", "has_consent"}
COUNT_OPS = {"at_least", "at_most"}
ENGAGEMENT_OPS = {"last_engaged_before", "last_engaged_after", "last_engaged_within_days", "score_between"}
PUSH_OPS = {"at_least", "at_most", "ignored_last"}
CONDITION_KEYS: dict[str, set[str]] = {
    "tag": {"type", "op", "tag", "tags", "group"},
    "field": {"type", "field", "op", "value"},
    "channel": {"type", "op", "account", "staff", "template"},
    "events": {"type", "event_type", "op", "count", "days", "properties"},
    "engagement": {"type", "op", "value"},
    "pushes": {"type", "op", "count", "days"},
    "segment": {"type", "segment"},
}


def parse_moment(value: Any) -> datetime | date | None:
    """A date ("2026-01-31") or an ISO datetime; None when it is neither."""
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is not None:
        return parsed
    try:
        return parse_date(value)
    except ValueError:
        return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_id(value: Any) -> bool:
    return is_int(value) and value > 0


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or is_number(value)
