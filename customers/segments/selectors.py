"""Reads on segments: the customers a segment (or a draft rule) selects, previews, members."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from customers.models import Customer
from customers.segments.compiler import rule_compile
from customers.segments.members import (
    MemberIds,
    audience_base,
    member_count,
    queryset_member_ids,
    rule_member_ids,
)
from customers.segments.models import Segment, SegmentKind, SegmentSnapshot, SegmentStaticMember
from customers.segments.rules import rule_check
from customers.selectors import customer_list

PREVIEW_SAMPLE_SIZE = 20
# Planner memory for the big hash joins / hashed subplans of one segment query (PostgreSQL only).
SEGMENT_WORK_MEM = "64MB"


def rule_customer_queryset(rule: dict, *, now: datetime | None = None, segment_id: int | None = None) -> QuerySet[Customer]:
    """Customers matching a validated rule, as one query."""
    return audience_base().filter(rule_compile(rule, now=now, segment_id=segment_id))


def segment_customer_queryset(segment: Segment, *, now: datetime | None = None) -> QuerySet[Customer]:
    """Customers of a segment right now (dynamic: the rule evaluated; static: the listed members)."""
    if segment.kind == SegmentKind.STATIC:
        return audience_base().filter(pk__in=SegmentStaticMember.objects.filter(segment_id=segment.pk).values("customer_id"))
    return rule_customer_queryset(segment.rule or {"all": []}, now=now, segment_id=segment.pk)


def segment_member_ids(segment: Segment, *, now: datetime | None = None) -> MemberIds:
    """The ids of the segment's customers right now, in the cheapest shape for counting and copying."""
    if segment.kind == SegmentKind.STATIC:
        return queryset_member_ids(segment_customer_queryset(segment))
    return rule_member_ids(segment.rule or {"all": []}, now=now, segment_id=segment.pk)


@contextmanager
def segment_query_session():
    """A transaction with enough work_mem for the segment's hash joins (a no-op elsewhere)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # set_config(…, true) is SET LOCAL with the value as a parameter.
                cursor.execute("SELECT set_config('work_mem', %s, true)", [SEGMENT_WORK_MEM])
        yield


def _preview(queryset: QuerySet[Customer], members: MemberIds, sample_size: int) -> dict[str, Any]:
    started = time.perf_counter()
    with segment_query_session():
        count = member_count(members)
        sample = list(
            queryset.order_by("-pk").values("id", "display_name", "city", "last_engaged_at")[:sample_size]
        ) if sample_size else []
    return {"count": count, "sample": sample, "duration_ms": round((time.perf_counter() - started) * 1000)}


def rule_search_queryset(*, rule: dict) -> QuerySet[Customer]:
    """Validate a rule used as a customer search, then the matching customers."""
    rule_check(rule)
    return rule_customer_queryset(rule)


def customer_filter_queryset(*, filters: dict) -> QuerySet[Customer]:
    """The operator customer search (customers.selectors.customer_list: tag, tag_all, account,
    follow_state, search), for "add these customers to a static segment"."""
    return customer_list(filters=filters)


def rule_preview(*, rule: dict, segment_id: int | None = None, sample_size: int = PREVIEW_SAMPLE_SIZE) -> dict[str, Any]:
    """Validate a draft rule, then its count and a sample of matching customers (newest first)."""
    rule_check(rule, segment_id=segment_id)
    customers = rule_customer_queryset(rule, segment_id=segment_id)
    return _preview(customers, rule_member_ids(rule, segment_id=segment_id), sample_size)


def segment_preview(*, segment: Segment, sample_size: int = PREVIEW_SAMPLE_SIZE) -> dict[str, Any]:
    """Count and sample of a saved segment."""
    return _preview(segment_customer_queryset(segment), segment_member_ids(segment), sample_size)


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.all()


def segment_members(*, segment: Segment) -> QuerySet[Customer]:
    """Current members, in a stable order for pagination."""
    return segment_customer_queryset(segment).order_by("pk")


def snapshot_members(*, snapshot: SegmentSnapshot) -> QuerySet[Customer]:
    return Customer.objects.filter(pk__in=snapshot.members.values("customer_id")).order_by("pk")
