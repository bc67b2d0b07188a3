"""Writes on segments: create/update, static membership, snapshots, count refresh."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from psycopg import sql

from customers.errors import CustomerError
from customers.models import ChannelIdentity, Customer, CustomerUnionId
from customers.segments.members import member_count
from customers.segments.models import (
    Segment,
    SegmentCountHistory,
    SegmentKind,
    SegmentSnapshot,
    SegmentSnapshotMember,
    SegmentStaticMember,
)
from customers.segments.references import segment_references
from customers.segments.rules import rule_check
from customers.segments.selectors import segment_member_ids, segment_query_session
from customers.services import normalize_phone
from scrm.errors import ApplicationError, Conflict
from scrm.fields import lookup_hash
from scrm.sqltools import render, table

logger = logging.getLogger(__name__)

UPLOAD_ID_KINDS = ("openid", "unionid", "phone")
UPLOAD_MAX_ROWS = 500_000
UNMATCHED_REPORT_LIMIT = 1000
_MATCH_CHUNK = 2000


def _check_kind_and_rule(*, kind: str, rule: Any, segment_id: int | None) -> dict:
    if kind not in SegmentKind.values:
        raise ApplicationError(
            gettext("Unknown segment kind '%(kind)s'.") % {"kind": kind}, code=CustomerError.SEGMENT_KIND_INVALID, detail={"kind": kind}
        )
    if kind == SegmentKind.STATIC:
        if rule not in (None, {}):
            raise ApplicationError(gettext("A static segment has no rule."), code=CustomerError.SEGMENT_RULE_INVALID, detail={"errors": [{"path": "$", "message": "a static segment has no rule"}]})
        return {}
    rule_check(rule, segment_id=segment_id)
    return rule


@transaction.atomic
def segment_create(*, name: str, kind: str = SegmentKind.DYNAMIC, rule: Any = None, description: str = "", created_by=None) -> Segment:
    """Create a segment after validating its rule."""
    rule = _check_kind_and_rule(kind=kind, rule=rule if rule is not None else ({} if kind == SegmentKind.STATIC else None), segment_id=None)
    if Segment.objects.filter(name=name).exists():
        raise Conflict(gettext("A segment named '%(name)s' exists.") % {"name": name}, code=CustomerError.SEGMENT_NAME_TAKEN)
    return Segment.objects.create(name=name, kind=kind, rule=rule, description=description, created_by=created_by)


@transaction.atomic
def segment_update(*, segment: Segment, name: str | None = None, rule: Any = None, description: str | None = None) -> Segment:
    """Change a segment's name, description or rule (validated, including cycles through it)."""
    fields = ["updated_at"]
    if rule is not None:
        segment.rule = _check_kind_and_rule(kind=segment.kind, rule=rule, segment_id=segment.pk)
        fields.append("rule")
    if name is not None and name != segment.name:
        if Segment.objects.filter(name=name).exclude(pk=segment.pk).exists():
            raise Conflict(gettext("A segment named '%(name)s' exists.") % {"name": name}, code=CustomerError.SEGMENT_NAME_TAKEN)
        segment.name = name
        fields.append("name")
    if description is not None:
        segment.description = description
        fields.append("description")
    segment.save(update_fields=fields)
    return segment


def _referencing_segments(segment_id: int) -> list[int]:
    return [pk for pk, rule in Segment.objects.exclude(pk=segment_id).values_list("pk", "rule") if segment_id in segment_references(rule)]


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a segment no other segment refers to and no snapshot keeps."""
    users = _referencing_segments(segment.pk)
    if users:
        raise Conflict(code=CustomerError.SEGMENT_IN_USE, detail={"segments": users})
    try:
        segment.delete()
    except ProtectedError as exc:
        raise Conflict(code=CustomerError.SEGMENT_HAS_SNAPSHOTS) from exc


# --- static membership -------------------------------------------------------------------------


def _require_static(segment: Segment) -> None:
    if segment.kind != SegmentKind.STATIC:
        raise ApplicationError(code=CustomerError.SEGMENT_NOT_STATIC)


# A selection of customer ids (Django's SQL of a queryset) into a static member list, skipping those
# already in it. "WHERE TRUE": SQLite cannot parse INSERT … SELECT … ON CONFLICT without a WHERE.
_STATIC_MEMBERS_ADD = sql.SQL(
    "INSERT INTO {member} (segment_id, customer_id, added_at) "
    "SELECT %s, src.id, %s FROM ({selection}) src WHERE TRUE "
    "ON CONFLICT (segment_id, customer_id) DO NOTHING"
)


def _static_members_add(segment_id: int, selection: QuerySet[Customer]) -> int:
    try:
        selection_sql, params = selection.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:  # e.g. an empty list of ids: nothing to add
        return 0
    statement = _STATIC_MEMBERS_ADD.format(member=table(SegmentStaticMember), selection=sql.SQL(selection_sql))
    with connection.cursor() as cursor:
        cursor.execute(render(statement), [segment_id, timezone.now(), *params])
        return max(cursor.rowcount, 0)


@transaction.atomic
def segment_static_add(*, segment: Segment, customers: QuerySet[Customer] | Iterable[int]) -> int:
    """Add customers (a search queryset or ids) to a static segment in one statement; returns how many were new."""
    _require_static(segment)
    if not isinstance(customers, QuerySet):
        customers = Customer.objects.filter(pk__in=[int(pk) for pk in customers])
    added = _static_members_add(segment.pk, customers)
    Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
    return added


@transaction.atomic
def segment_static_remove(*, segment: Segment, customer_ids: Iterable[int]) -> int:
    """Remove customers from a static segment."""
    _require_static(segment)
    deleted, _ = SegmentStaticMember.objects.filter(segment=segment, customer_id__in=list(customer_ids)).delete()
    return deleted


def _match_chunk(id_kind: str, values: list[str]) -> dict[str, int]:
    if id_kind == "openid":
        rows = ChannelIdentity.objects.filter(external_id__in=values).values_list("external_id", "customer_id")
        return dict(rows)
    if id_kind == "unionid":
        found = dict(CustomerUnionId.objects.filter(unionid__in=values).values_list("unionid", "customer_id"))
        missing = [v for v in values if v not in found]
        if missing:
            found.update(ChannelIdentity.objects.filter(unionid__in=missing).values_list("unionid", "customer_id"))
        return found
    hashes = {lookup_hash(normalize_phone(v)): v for v in values if normalize_phone(v)}
    rows = Customer.objects.filter(phone_hash__in=list(hashes), erased_at__isnull=True).values_list("phone_hash", "pk")
    return {hashes[h]: pk for h, pk in rows}


def _read_upload_values(content: str | bytes) -> list[tuple[int, str]]:
    if isinstance(content, bytes):
        content = content.decode("utf-8-sig", errors="replace")
    rows: list[tuple[int, str]] = []
    try:
        for line_no, row in enumerate(csv.reader(io.StringIO(content)), start=1):
            value = row[0].strip() if row else ""
            if not value or (line_no == 1 and value.lower() in {*UPLOAD_ID_KINDS, "id", "value"}):
                continue
            rows.append((line_no, value))
            if len(rows) > UPLOAD_MAX_ROWS:
                raise ApplicationError(
                    gettext("The file has more than %(limit)s rows.") % {"limit": UPLOAD_MAX_ROWS},
                    code=CustomerError.SEGMENT_UPLOAD_TOO_LARGE,
                )
    except csv.Error as exc:  # e.g. a binary file (NUL bytes)
        raise ApplicationError(code=CustomerError.CSV_UNREADABLE, detail={"error": str(exc)}) from exc
    return rows


@transaction.atomic
def segment_static_upload(*, segment: Segment, content: str | bytes, id_kind: str) -> dict[str, Any]:
    """Add the customers listed in a CSV (first column: openid, unionid or phone); report unmatched rows."""
    _require_static(segment)
    if id_kind not in UPLOAD_ID_KINDS:
        raise ApplicationError(
            gettext("id_kind must be one of %(kinds)s.") % {"kinds": ", ".join(UPLOAD_ID_KINDS)},
            code=CustomerError.SEGMENT_UPLOAD_ID_KIND,
            detail={"id_kind": id_kind},
        )
    rows = _read_upload_values(content)
    matched: dict[str, int] = {}
    distinct = list(dict.fromkeys(value for _, value in rows))
    for start in range(0, len(distinct), _MATCH_CHUNK):
        matched.update(_match_chunk(id_kind, distinct[start : start + _MATCH_CHUNK]))
    unmatched = [{"line": line, "value": value} for line, value in rows if value not in matched]
    customer_ids = sorted(set(matched.values()))
    added = 0
    for start in range(0, len(customer_ids), 10_000):
        added += segment_static_add(segment=segment, customers=customer_ids[start : start + 10_000])
    return {
        "rows": len(rows),
        "matched_rows": len(rows) - len(unmatched),
        "customers": len(customer_ids),
        "added": added,
        "unmatched_count": len(unmatched),
        "unmatched": unmatched[:UNMATCHED_REPORT_LIMIT],
    }


# --- snapshots and counts ----------------------------------------------------------------------


_SNAPSHOT_INSERT = sql.SQL(
    "INSERT INTO {member} (snapshot_id, customer_id) SELECT %s, members.customer_id FROM ({members}) AS members"
)


@transaction.atomic
def segment_snapshot_create(*, segment: Segment) -> SegmentSnapshot:
    """Freeze the segment's current members with one INSERT … SELECT into SegmentSnapshotMember."""
    started = time.perf_counter()
    snapshot = SegmentSnapshot.objects.create(segment=segment, rule=segment.rule, kind=segment.kind)
    members = segment_member_ids(segment)
    with segment_query_session(), connection.cursor() as cursor:
        cursor.execute(
            render(_SNAPSHOT_INSERT.format(member=table(SegmentSnapshotMember), members=sql.SQL(members.sql))),
            [snapshot.pk, *members.params],
        )
        count = max(cursor.rowcount, 0)
    snapshot.member_count = count
    snapshot.save(update_fields=["member_count"])
    now = timezone.now()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, counted_at=now)
    logger.info("segment %s snapshot %s: %s members in %.2fs", segment.pk, snapshot.pk, count, time.perf_counter() - started)
    return snapshot


@transaction.atomic
def segment_count_refresh(*, segment: Segment) -> SegmentCountHistory:
    """Count the segment now, store it on the segment and in its size history."""
    started = time.perf_counter()
    with segment_query_session():
        count = member_count(segment_member_ids(segment))
    now = timezone.now()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, counted_at=now)
    segment.member_count, segment.counted_at = count, now
    return SegmentCountHistory.objects.create(
        segment=segment, member_count=count, counted_at=now, duration_ms=round((time.perf_counter() - started) * 1000)
    )
