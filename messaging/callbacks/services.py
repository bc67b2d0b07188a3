"""Writes of the inbound loop: store a callback (outbox row), process it, sweep stragglers."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
from django.db import (
    DEFAULT_DB_ALIAS,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from messaging.callbacks.enqueue import BrokerUnavailable, publish_inbound, publish_inbound_soon_many
from messaging.callbacks.groupcommit import GroupCommit
from messaging.callbacks.models import InboundMessage, InboundState
from messaging.callbacks.parsing import create_time, dedupe_key
from messaging.callbacks.processing import process_fields
from messaging.channels.welcome import is_welcome_event, welcome_enqueue
from scrm.sqltools import render, table

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# A row in `processing` longer than this is assumed abandoned (worker killed); > the task time limit.
PROCESSING_STALE_SECONDS = 660
# A `received` row not picked up after this long is handed to the broker again.
RECEIVED_STALE_SECONDS = 60
MAX_ATTEMPTS = 5

_INSERT = sql.SQL(
    "INSERT INTO {inbound} "
    "(account_id, dedupe_key, msg_type, event, from_user, raw_payload, parsed, created_time, state, attempts, "
    "last_error, received_at, last_enqueued_at) VALUES {values} "
    "ON CONFLICT (account_id, dedupe_key) DO NOTHING RETURNING id, account_id, dedupe_key"
)
# One row's values; PostgreSQL's `parsed` column is jsonb, SQLite's is text.
_INSERT_ROW_JSONB = sql.SQL("(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, 'received', 0, '', %s, %s)")
_INSERT_ROW_TEXT = sql.SQL("(%s, %s, %s, %s, %s, %s, %s, %s, 'received', 0, '', %s, %s)")


@functools.cache
def _insert_sql(rows: int, vendor: str) -> str:
    """The INSERT of `rows` callbacks (rendered once per size and database)."""
    row = _INSERT_ROW_JSONB if vendor == "postgresql" else _INSERT_ROW_TEXT
    values = sql.SQL(", ").join([row] * rows)
    return render(_INSERT.format(inbound=table(InboundMessage), values=values))


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def inbound_store(*, account_id: int, fields: dict[str, Any], raw: str) -> int | None:
    """Store a callback once per (account, dedupe key) and enqueue its processing after commit.

    Returns the new row's id, or None for a retry of a callback already stored (its first copy was
    enqueued then, and the sweeper covers it if that enqueue was lost).
    """
    now = timezone.now()
    key = dedupe_key(fields)
    params = [
        account_id,
        key,
        _text(fields.get("MsgType"), 32),
        _text(fields.get("Event"), 64),
        _text(fields.get("FromUserName"), 128),
        raw,
        json.dumps(fields, ensure_ascii=False),
        create_time(fields),
        now,
        now,
    ]
    if _group_commit_applies(connections[DEFAULT_DB_ALIAS]):
        # Committed (with the other requests' rows of its batch) when this returns; the batch's
        # leader hands the new ids to the publisher.
        inbound_id = _group_commit.submit(key=(account_id, key), row=params)
        if inbound_id is not None and is_welcome_event(fields):
            welcome_enqueue(inbound_id=inbound_id)
        return inbound_id
    inbound_id = _insert_once(lambda: _execute_insert(params))
    if inbound_id is not None:
        transaction.on_commit(lambda: _enqueue_many_soon([inbound_id]))
        if is_welcome_event(fields):
            # The welcome code works for 20 s: its own queue, not behind the callbacks backlog.
            transaction.on_commit(lambda: welcome_enqueue(inbound_id=inbound_id))
    return inbound_id


def _group_commit_applies(db: BaseDatabaseWrapper) -> bool:
    """Group commit needs PostgreSQL and a caller in autocommit: inside an atomic block (a caller's
    transaction, pytest-django's test transaction) the row must commit with that transaction."""
    if db.vendor != "postgresql" or db.in_atomic_block:
        return False
    # A closed connection reopens in the configured mode.
    return db.autocommit if db.connection is not None else db.settings_dict["AUTOCOMMIT"]


# Attempts of the callback INSERT on a fresh connection each, when the server drops the connection
# under it (a failover, an administrator or a pooler ending backends): WeChat gets `success` rather
# than a 500 as long as one attempt gets through.
INSERT_ATTEMPTS = 3


def _insert_once(execute: Callable[[], _T], db: BaseDatabaseWrapper | None = None) -> _T:
    """Run the INSERT in one round trip, also on a connection the server has dropped.

    With CONN_HEALTH_CHECKS, Django spends a `SELECT 1` round trip on a reused connection before the
    first query of every request; under load that doubles the database round trips of a callback.
    Instead the INSERT runs at once and, if the connection turns out to be dead (a reused one gone
    stale, or one ended mid-statement), runs again on a fresh one, up to INSERT_ATTEMPTS times. That
    is safe because the INSERT is idempotent (ON CONFLICT DO NOTHING): had an attempt committed before
    the connection broke, the retry stores nothing and returns None (not enqueued now; the row stays
    `received` and the sweeper hands it over). Inside a transaction there is nothing to retry on.
    """
    db = db or connections[DEFAULT_DB_ALIAS]
    for attempt in range(1, INSERT_ATTEMPTS + 1):
        reused = db.connection is not None and not db.in_atomic_block
        if reused:
            db.health_check_done = True
        try:
            return execute()
        except (InterfaceError, OperationalError):
            if db.in_atomic_block or attempt == INSERT_ATTEMPTS:
                raise
            logger.info("database connection was closed (attempt %s); storing the callback on a new one", attempt)
            db.close()
    raise AssertionError("unreachable")


def _execute_insert(params: list[Any]) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(1, connection.vendor), params)
        row = cursor.fetchone()
    return row[0] if row else None


def _insert_batch(rows: list[list[Any]]) -> dict[tuple[int, str], int | Exception]:
    """The group commit's flush: one multi-row INSERT, committed on return (autocommit).

    Runs on the leader thread's connection; {(account id, dedupe key): id} of the rows it stored.
    Should the batch break a constraint or hold bad data (a row for an account deleted while its
    callbacks were in flight), each row is stored on its own, so that only the rows at fault fail
    ({key: the error}); the others are stored and answered as usual.
    """
    db = connections[DEFAULT_DB_ALIAS]
    try:
        return _insert_rows(db, rows)
    except (IntegrityError, DataError):
        if len(rows) == 1:
            raise
    outcomes: dict[tuple[int, str], int | Exception] = {}
    for row in rows:
        try:
            outcomes.update(_insert_rows(db, [row]))
        except (IntegrityError, DataError) as exc:
            outcomes[(row[0], row[1])] = exc
    return outcomes


def _insert_rows(db: BaseDatabaseWrapper, rows: list[list[Any]]) -> dict[tuple[int, str], int]:
    statement = _insert_sql(len(rows), db.vendor)
    params = [value for row in rows for value in row]

    def execute() -> list[tuple[int, int, str]]:
        db.ensure_connection()
        # psycopg's own cursor binds the parameters server-side: Django's cursor would quote the raw
        # XML and JSON into the statement text in Python and PostgreSQL would parse it back.
        with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    return {(account_id, key): inbound_id for inbound_id, account_id, key in _insert_once(execute, db)}


def _enqueue_many_soon(inbound_ids: list[int]) -> None:
    from messaging.callbacks.tasks import inbound_process_task  # the tasks module imports this one

    if not publish_inbound_soon_many(inbound_process_task, inbound_ids):
        for inbound_id in inbound_ids:
            inbound_enqueue(inbound_id=inbound_id)


_group_commit = GroupCommit(_insert_batch, after_commit=_enqueue_many_soon)


def inbound_enqueue(*, inbound_id: int) -> bool:
    """Hand a stored row to the `callbacks` queue; a broker failure is logged, not raised.

    The row is already durable, so WeChat still gets `success` and the sweeper enqueues it later.
    """
    from messaging.callbacks.tasks import inbound_process_task  # the tasks module imports this one

    try:
        publish_inbound(inbound_process_task, inbound_id)
    except BrokerUnavailable as exc:
        logger.warning("inbound %s stored but not enqueued (%s); the sweeper will hand it over", inbound_id, exc)
        return False
    return True


def passive_text_reply(*, fields: dict[str, Any], text: str) -> str:
    """A passive text reply to the user who wrote `fields` (plaintext XML)."""

    def cdata(value: str) -> str:
        return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    return (
        f"<xml><ToUserName>{cdata(_text(fields.get('FromUserName'), 128))}</ToUserName>"
        f"<FromUserName>{cdata(_text(fields.get('ToUserName'), 128))}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content></xml>"
    )


def _row_processed(inbound_id: int) -> bool:
    return InboundMessage.objects.filter(pk=inbound_id, state=InboundState.PROCESSED).exists()


def inbound_process(*, inbound_id: int) -> bool:
    """Apply one stored callback to the customers it concerns; True when this call processed it.

    Claimed with a conditional UPDATE (received → processing), then every effect and the final
    `processed` state commit in one transaction: a second run, or a run after a crash, changes
    nothing twice. The WeCom welcome message has its own lane (messaging/channels/welcome.py).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=PROCESSING_STALE_SECONDS)
    claimed = (
        InboundMessage.objects.filter(pk=inbound_id)
        .filter(Q(state=InboundState.RECEIVED) | Q(state=InboundState.PROCESSING, processing_started_at__lt=stale))
        .update(state=InboundState.PROCESSING, attempts=F("attempts") + 1, processing_started_at=now)
    )
    if not claimed:
        return False
    committed = False
    try:
        with transaction.atomic():
            # Lock the message only: a bare select_for_update() would lock the joined account row FOR
            # UPDATE too, which blocks every deferred foreign-key check on that account (KEY SHARE) —
            # a deadlock with dispatch recording delivery reports while this upserts the same
            # per-account counters (found by make e2e).
            row = InboundMessage.objects.select_for_update(of=("self",)).select_related("account").get(pk=inbound_id)
            if row.state != InboundState.PROCESSING:
                return False
            process_fields(account=row.account, fields=row.parsed, inbound=row)
            row.state = InboundState.PROCESSED
            row.processed_at = timezone.now()
            row.last_error = ""
            row.save(update_fields=["state", "processed_at", "last_error"])
            committed = True  # from here on only the commit and its on_commit hooks remain
    except Exception as exc:
        if committed and not transaction.get_connection().in_atomic_block and _row_processed(inbound_id):
            # The row's own processing committed; what failed is an after-commit hook (a task handed to
            # a broker that is down). Its work is swept (e.g. customers.engagement's sweep): the row
            # stays processed.
            logger.warning("inbound %s processed; an after-commit hook failed: %s: %s", inbound_id, type(exc).__name__, exc)
            return True
        row = InboundMessage.objects.only("attempts").get(pk=inbound_id)
        final = row.attempts >= MAX_ATTEMPTS
        InboundMessage.objects.filter(pk=inbound_id, state=InboundState.PROCESSING).update(
            state=InboundState.FAILED if final else InboundState.RECEIVED,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.warning("inbound %s processing failed (attempt %s%s)", inbound_id, row.attempts, ", giving up" if final else "")
        if final:
            return False
        raise
    return True


def inbound_sweep(*, received_older_than: int = RECEIVED_STALE_SECONDS, limit: int = 5000) -> int:
    """Re-enqueue rows whose processing never ran (broker down, worker killed); returns how many."""
    now = timezone.now()
    due = Q(state=InboundState.RECEIVED, last_enqueued_at__lte=now - timedelta(seconds=received_older_than)) | Q(
        state=InboundState.PROCESSING, processing_started_at__lt=now - timedelta(seconds=PROCESSING_STALE_SECONDS)
    )
    ids = list(InboundMessage.objects.filter(due).order_by("received_at").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    InboundMessage.objects.filter(pk__in=ids).update(last_enqueued_at=now)
    enqueued = 0
    for inbound_id in ids:
        if not inbound_enqueue(inbound_id=inbound_id):
            break
        enqueued += 1
    if enqueued:
        logger.info("sweeper re-enqueued %s inbound messages", enqueued)
    return enqueued


def inbound_requeue_failed(*, ids: list[int]) -> int:
    """Give failed rows a fresh set of attempts (an operator fixed the cause) and enqueue them."""
    requeued = list(
        InboundMessage.objects.filter(pk__in=ids, state=InboundState.FAILED).values_list("pk", flat=True)
    )
    InboundMessage.objects.filter(pk__in=requeued, state=InboundState.FAILED).update(
        state=InboundState.RECEIVED, attempts=0, last_enqueued_at=timezone.now()
    )
    for inbound_id in requeued:
        transaction.on_commit(lambda inbound_id=inbound_id: inbound_enqueue(inbound_id=inbound_id))
    return len(requeued)
