"""Writes of the engagement feature: folding new events into profiles, full recompute, behaviour
tags, and the retention rollup. The rules themselves are in customers.engagement.learning."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from accounts.models import ChannelAccount
from customers.engagement.learning import (
    BEHAVIOUR_TAG_THRESHOLD,
    PUSH_TYPE,
    DecayedState,
    LearnedEvent,
    event_topics,
    full_compute,
)
from customers.engagement.models import EngagementAppliedEvent, EngagementDailyRollup
from customers.models import Customer, CustomerTag, EngagementEvent, EngagementProfile, Tag, TagSource
from scrm.sqltools import render, table

logger = logging.getLogger(__name__)

# Events per analytics task: large enough to amortise the profile locks, small enough for one task.
APPLY_BATCH_SIZE = 500
# Raw events older than this are rolled up into daily counts and deleted (see engagement_events_rollup).
RETENTION_DAYS = settings.ENGAGEMENT_RETENTION_DAYS

_pending = threading.local()

# --- statements (named builders composed with psycopg.sql; values travel as %s parameters) --------

# The arrays _profiles_write unnests, in its parameters' order after `now`: (column alias, element type).
_PROFILE_ARRAYS = (
    ("cid", "bigint"), ("score", "float8"), ("ref", "timestamptz"), ("hours", "text"),
    ("best", "int"), ("aff", "text"), ("lp", "timestamptz"), ("lc", "timestamptz"), ("tp", "text"), ("tc", "text"),
    ("ph", "text"),
)
_PROFILE_SETS = (
    "score = v.score, score_updated_at = v.ref, hour_of_week = v.hours::jsonb, best_hour = v.best, "
    "topic_affinity = v.aff::jsonb, last_push_at = v.lp, last_click_at = v.lc, "
    "topic_pushes = v.tp::jsonb, topic_clicks = v.tc::jsonb, push_hours = v.ph::jsonb, updated_at = %s"
)


def _profiles_update_sql(*, with_streak: bool) -> sql.Composed:
    """UPDATE … FROM unnest(…) writing the learned fields (and the push streak when asked)."""
    arrays = [*_PROFILE_ARRAYS, *([("streak", "int")] if with_streak else [])]
    sets = _PROFILE_SETS + (", ignored_push_streak = v.streak" if with_streak else "")
    return sql.SQL("UPDATE {profile} p SET {sets} FROM unnest({arrays}) AS v({names}) WHERE p.customer_id = v.cid").format(
        profile=table(EngagementProfile),
        sets=sql.SQL(sets),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(element_type)) for _, element_type in arrays),
        names=sql.SQL(", ").join(sql.Identifier(name) for name, _ in arrays),
    )


_PROFILES_UPDATE = _profiles_update_sql(with_streak=False)
_PROFILES_UPDATE_WITH_STREAK = _profiles_update_sql(with_streak=True)

# Marks the events as applied; RETURNING names those not applied before (a retry applies nothing twice).
_APPLIED_MARK = sql.SQL(
    "INSERT INTO {applied} (event_id) SELECT id FROM {event} WHERE id = ANY(%s) ON CONFLICT DO NOTHING RETURNING event_id"
).format(applied=table(EngagementAppliedEvent), event=table(EngagementEvent))

# Params: the push event type, the customer ids.
_STREAKS_RECOUNT = sql.SQL(
    """
    UPDATE {profile} p SET ignored_push_streak = GREATEST(c.n - 1, 0)
    FROM (
        SELECT p2.customer_id, COUNT(e.id) AS n
        FROM {profile} p2
        LEFT JOIN {event} e
          ON e.customer_id = p2.customer_id AND e.event_type = %s
         AND (p2.last_click_at IS NULL OR e.occurred_at > p2.last_click_at)
        WHERE p2.customer_id = ANY(%s)
        GROUP BY p2.customer_id
    ) c
    WHERE p.customer_id = c.customer_id AND p.ignored_push_streak IS DISTINCT FROM GREATEST(c.n - 1, 0)
    """
).format(profile=table(EngagementProfile), event=table(EngagementEvent))

# One retention batch (PostgreSQL only). Params: the cutoff, the batch size.
_ROLLUP_BATCH = sql.SQL(
    """
    WITH doomed AS (
        SELECT id FROM {event} WHERE occurred_at < %s ORDER BY occurred_at LIMIT %s FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM {event} e USING doomed d WHERE e.id = d.id
        RETURNING e.id, e.customer_id, e.event_type, (e.occurred_at AT TIME ZONE 'UTC')::date AS day
    ), unmark AS (
        DELETE FROM {applied} a USING gone g WHERE a.event_id = g.id
    ), counted AS (
        INSERT INTO {rollup} (customer_id, event_type, day, count)
        SELECT customer_id, event_type, day, COUNT(*) FROM gone GROUP BY customer_id, event_type, day
        ON CONFLICT (customer_id, event_type, day) DO UPDATE SET count = {rollup}.count + EXCLUDED.count
    )
    SELECT COUNT(*) FROM gone
    """
).format(event=table(EngagementEvent), applied=table(EngagementAppliedEvent), rollup=table(EngagementDailyRollup))


# --- scheduling (the hook called by customers.services.event_record / events_record_bulk) ---------


def engagement_schedule(*, event_ids: Iterable[int]) -> None:
    """Have the analytics queue fold these events in after commit, many events per task."""
    ids = [int(i) for i in event_ids]
    if not ids:
        return
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        _enqueue(ids)
        return
    # One on_commit callback per transaction collects every event recorded in it. If the
    # transaction rolled back, Django dropped the callback: start a new buffer.
    state = getattr(_pending, "state", None)
    if state is None or not any(entry[1] is state[0] for entry in conn.run_on_commit):
        buffer: list[int] = []

        def flush() -> None:
            _pending.state = None
            _enqueue(buffer)

        state = _pending.state = (flush, buffer)
        transaction.on_commit(flush)
    state[1].extend(ids)


def _enqueue(ids: list[int]) -> None:
    """Hand the events to the analytics queue. Runs after the recording transaction committed: a
    broker that is down must not fail the caller (a callback row whose processing succeeded), so the
    error is logged and the events are left to `customers.engagement.sweep`."""
    from customers.engagement.tasks import engagement_events_apply_task  # the tasks module imports this one

    for start in range(0, len(ids), APPLY_BATCH_SIZE):
        try:
            engagement_events_apply_task.delay(event_ids=ids[start : start + APPLY_BATCH_SIZE])
        except Exception as exc:  # kombu/redis raise several types for a broker that is away
            logger.warning("engagement: %s events not handed to the broker (%s: %s); the sweep applies them",
                           len(ids) - start, type(exc).__name__, exc)
            return


# --- incremental update ----------------------------------------------------------------------


def _timezones(customer_ids: Iterable[int], account_ids: Iterable[int]) -> tuple[dict[int, str], dict[int, str]]:
    customer_tz = dict(Customer.objects.filter(pk__in=set(customer_ids)).exclude(timezone="").values_list("pk", "timezone"))
    account_tz = dict(ChannelAccount.objects.filter(pk__in=set(account_ids)).values_list("pk", "timezone"))
    return customer_tz, account_tz


def _learned(rows: list[dict]) -> dict[int, list[LearnedEvent]]:
    customer_tz, account_tz = _timezones((r["customer_id"] for r in rows), (r["account_id"] for r in rows if r["account_id"]))
    default_tz = settings.DEFAULT_CUSTOMER_TIMEZONE
    by_customer: dict[int, list[LearnedEvent]] = defaultdict(list)
    for r in rows:
        tz_name = customer_tz.get(r["customer_id"]) or account_tz.get(r["account_id"]) or default_tz
        by_customer[r["customer_id"]].append(
            LearnedEvent(event_type=r["event_type"], occurred_at=r["occurred_at"], tz_name=tz_name, topics=event_topics(r["properties"]))
        )
    return by_customer


_EVENT_FIELDS = ("id", "customer_id", "account_id", "event_type", "occurred_at", "properties")


def _lock_profiles(customer_ids: list[int]) -> dict[int, EngagementProfile]:
    EngagementProfile.objects.bulk_create([EngagementProfile(customer_id=c) for c in customer_ids], ignore_conflicts=True)
    # Lock in id order so concurrent tasks touching the same customers cannot deadlock.
    return {p.customer_id: p for p in EngagementProfile.objects.select_for_update().filter(customer_id__in=customer_ids).order_by("customer_id")}


def _store(profile: EngagementProfile, state: DecayedState) -> None:
    state.pruned()
    profile.score_updated_at = state.ref
    profile.score = state.score
    profile.hour_of_week = state.hours if any(state.hours) else []
    profile.best_hour = state.best_hour()
    profile.topic_affinity = state.affinity
    profile.last_push_at = state.last_push_at
    profile.last_click_at = state.last_response_at
    profile.topic_pushes = state.pushes
    profile.topic_clicks = state.clicks
    profile.push_hours = state.push_hours if any(state.push_hours) else []


def _profiles_write(profiles: list[EngagementProfile], *, now: datetime, with_streak: bool = False) -> None:
    """One UPDATE … FROM unnest(…) for all profiles (Django's bulk_update builds a CASE per row and field)."""
    if not profiles:
        return
    columns = [
        [p.customer_id for p in profiles],
        [p.score for p in profiles],
        [p.score_updated_at for p in profiles],
        [json.dumps(p.hour_of_week) for p in profiles],
        [p.best_hour for p in profiles],
        [json.dumps(p.topic_affinity) for p in profiles],
        [p.last_push_at for p in profiles],
        [p.last_click_at for p in profiles],
        [json.dumps(p.topic_pushes) for p in profiles],
        [json.dumps(p.topic_clicks) for p in profiles],
        [json.dumps(p.push_hours) for p in profiles],
    ]
    if with_streak:
        columns.append([p.ignored_push_streak for p in profiles])
    with connection.cursor() as cursor:
        cursor.execute(render(_PROFILES_UPDATE_WITH_STREAK if with_streak else _PROFILES_UPDATE), [now, *columns])


@transaction.atomic
def engagement_events_apply(*, event_ids: list[int]) -> int:
    """Fold events not yet applied into their customers' profiles; returns how many were applied."""
    if not event_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(render(_APPLIED_MARK), [list({int(i) for i in event_ids})])
        fresh = [row[0] for row in cursor.fetchall()]
    if not fresh:
        return 0
    rows = list(EngagementEvent.objects.filter(pk__in=fresh).order_by("occurred_at", "pk").values(*_EVENT_FIELDS))
    by_customer = _learned(rows)
    customer_ids = sorted(by_customer)
    profiles = _lock_profiles(customer_ids)
    now = timezone.now()
    changed_affinity: list[int] = []
    for customer_id in customer_ids:
        profile = profiles[customer_id]
        state = DecayedState.from_stored(
            ref=profile.score_updated_at,
            score=profile.score,
            hours=profile.hour_of_week,
            affinity=profile.topic_affinity,
            last_push_at=profile.last_push_at,
            last_response_at=profile.last_click_at,
            pushes=profile.topic_pushes,
            clicks=profile.topic_clicks,
            push_hours=profile.push_hours,
        )
        before = dict(state.affinity)
        for event in by_customer[customer_id]:
            state.apply(event)
        _store(profile, state)
        profile.updated_at = now
        if profile.topic_affinity != before:
            changed_affinity.append(customer_id)
    _profiles_write(list(profiles.values()), now=now)
    _streaks_recount(customer_ids)
    if changed_affinity:
        behaviour_tags_reconcile(profiles=[profiles[c] for c in changed_affinity])
    return len(fresh)


def _streaks_recount(customer_ids: list[int]) -> None:
    """Set-based: the streak from the pushes after each customer's latest response."""
    with connection.cursor() as cursor:
        cursor.execute(render(_STREAKS_RECOUNT), [PUSH_TYPE, customer_ids])


def behaviour_tags_reconcile(*, profiles: list[EngagementProfile]) -> None:
    """Make behaviour-sourced tags match each profile's topics above the threshold."""
    wanted: dict[int, set[int]] = {
        p.customer_id: {int(k) for k, v in (p.topic_affinity or {}).items() if v >= BEHAVIOUR_TAG_THRESHOLD} for p in profiles
    }
    all_topics = set().union(*wanted.values()) if wanted else set()
    existing_tags = set(Tag.objects.filter(pk__in=all_topics).values_list("pk", flat=True))
    current: dict[int, set[int]] = defaultdict(set)
    for customer_id, tag_id in CustomerTag.objects.filter(customer_id__in=list(wanted), source=TagSource.BEHAVIOUR).values_list(
        "customer_id", "tag_id"
    ):
        current[customer_id].add(tag_id)
    now = timezone.now()
    to_add = [
        CustomerTag(customer_id=c, tag_id=t, source=TagSource.BEHAVIOUR, assigned_at=now)
        for c, tags in wanted.items()
        for t in sorted(tags & existing_tags)
        if t not in current[c]
    ]
    if to_add:
        # A tag the operator already assigned stays theirs (conflict → keep the existing row).
        CustomerTag.objects.bulk_create(to_add, ignore_conflicts=True, batch_size=1000)
    stale = [(c, t) for c, tags in current.items() for t in tags if t not in wanted.get(c, set())]
    if stale:
        pairs = Q()
        for customer_id, tag_id in stale:
            pairs |= Q(customer_id=customer_id, tag_id=tag_id)
        CustomerTag.objects.filter(pairs, source=TagSource.BEHAVIOUR).delete()


# --- full recompute --------------------------------------------------------------------------


def engagement_profiles_recompute(*, customer_ids: Iterable[int] | None = None, chunk_size: int = 200) -> int:
    """Rebuild profiles from every stored event (the oracle for the incremental update); returns customers done."""
    if customer_ids is None:
        ids_iter: Iterable[int] = (
            EngagementEvent.objects.order_by("customer_id").values_list("customer_id", flat=True).distinct().iterator(chunk_size=2000)
        )
    else:
        ids_iter = sorted(set(customer_ids))
    done = 0
    chunk: list[int] = []
    for customer_id in ids_iter:
        chunk.append(customer_id)
        if len(chunk) >= chunk_size:
            done += _recompute_chunk(chunk)
            chunk = []
    if chunk:
        done += _recompute_chunk(chunk)
    return done


@transaction.atomic
def _recompute_chunk(customer_ids: list[int]) -> int:
    existing = set(Customer.objects.filter(pk__in=customer_ids).values_list("pk", flat=True))
    customer_ids = sorted(existing)
    profiles = _lock_profiles(customer_ids)
    rows = list(EngagementEvent.objects.filter(customer_id__in=customer_ids).order_by("occurred_at", "pk").values(*_EVENT_FIELDS))
    by_customer = _learned(rows)
    now = timezone.now()
    for customer_id in customer_ids:
        state, streak = full_compute(by_customer.get(customer_id, []))
        profile = profiles[customer_id]
        _store(profile, state)
        profile.ignored_push_streak = streak
        profile.updated_at = now
    _profiles_write(list(profiles.values()), now=now, with_streak=True)
    # Everything read here is now reflected: a pending task for these events must not add them again.
    EngagementAppliedEvent.objects.bulk_create(
        [EngagementAppliedEvent(event_id=r["id"]) for r in rows], ignore_conflicts=True, batch_size=2000
    )
    behaviour_tags_reconcile(profiles=list(profiles.values()))
    return len(customer_ids)


# --- retention -------------------------------------------------------------------------------


def engagement_events_rollup(*, older_than: datetime | None = None, batch_size: int = 20_000) -> int:
    """Roll raw events older than the retention window into daily counts and delete them; returns rows removed.

    Policy: raw events are kept RETENTION_DAYS (settings.ENGAGEMENT_RETENTION_DAYS, default 180)
    days. Older ones survive only as EngagementDailyRollup(customer, event_type, UTC day, count).
    Each batch is one statement (DELETE … RETURNING feeding INSERT … ON CONFLICT DO UPDATE), so a
    crash cannot count an event twice or lose it; learned profiles keep what they learned.
    """
    cutoff = older_than or timezone.now() - timedelta(days=RETENTION_DAYS)
    removed = 0
    if connection.vendor != "postgresql":
        # The embedded SQLite of `make run` has no DELETE … RETURNING in a CTE nor SKIP LOCKED.
        while batch := _rollup_batch_portable(cutoff=cutoff, batch_size=min(batch_size, 5000)):
            removed += batch
        logger.info("engagement rollup: %s raw events before %s rolled up", removed, cutoff.isoformat())
        return removed
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(render(_ROLLUP_BATCH), [cutoff, batch_size])
            batch = cursor.fetchone()[0]
        removed += batch
        if batch < batch_size:
            break
    logger.info("engagement rollup: %s raw events before %s rolled up", removed, cutoff.isoformat())
    return removed


@transaction.atomic
def _rollup_batch_portable(*, cutoff: datetime, batch_size: int) -> int:
    rows = list(
        EngagementEvent.objects.filter(occurred_at__lt=cutoff)
        .order_by("occurred_at")
        .values_list("id", "customer_id", "event_type", "occurred_at")[:batch_size]
    )
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    counts = Counter((customer_id, event_type, at.astimezone(UTC).date()) for _, customer_id, event_type, at in rows)
    EngagementAppliedEvent.objects.filter(event_id__in=ids).delete()
    EngagementEvent.objects.filter(pk__in=ids).delete()
    for (customer_id, event_type, day), count in counts.items():
        updated = EngagementDailyRollup.objects.filter(customer_id=customer_id, event_type=event_type, day=day).update(
            count=F("count") + count
        )
        if not updated:
            EngagementDailyRollup.objects.create(customer_id=customer_id, event_type=event_type, day=day, count=count)
    return len(rows)
