"""The set-based path: rows COPYed into temporary staging tables, then applied with a few statements
(INSERT … SELECT … ON CONFLICT, UPDATE … FROM), each composed with psycopg's `sql`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from psycopg import sql

from customers.models import ChannelIdentity, Customer, CustomerUnionId, FollowState
from customers.services.bulk.rows import CUSTOMER_FIELDS, IDENTITY_COLUMNS, CustomerUpsert, UpsertResult, values_check
from customers.services.identity import identity_link_unionid
from scrm.sqltools import render

_CUSTOMER_COLUMNS = [f.column for f in CUSTOMER_FIELDS]
_STAGED_CUSTOMERS = sql.Identifier("customers_upsert_customer")
_STAGED_IDENTITIES = sql.Identifier("customers_upsert_identity")
_STAGED_UNIONIDS = sql.Identifier("customers_upsert_unionid")
_STAGED_REF_INDEXES = (
    (_STAGED_IDENTITIES, sql.Identifier("customers_upsert_identity_ref")),
    (_STAGED_UNIONIDS, sql.Identifier("customers_upsert_unionid_ref")),
)
_CUSTOMER = sql.Identifier(Customer._meta.db_table)
_IDENTITY = sql.Identifier(ChannelIdentity._meta.db_table)
_UNIONID = sql.Identifier(CustomerUnionId._meta.db_table)


def upsert_set_based(
    rows: Sequence[CustomerUpsert], *, overwrite: bool, refresh_follow: bool, link_unionids: bool, now: datetime
) -> UpsertResult:
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg 3 cursor, for COPY
        _stage(cursor, rows, now=now)
        created = _customers_resolve_and_create(cursor, link_unionids=link_unionids)
        if overwrite:
            cursor.execute(render(_customers_overwrite_sql()), {"now": now})
        identities_created = _identities_insert(cursor, refresh_follow=refresh_follow, now=now)
        created -= _orphans_remove(cursor)
        if link_unionids and _unionids_link(cursor, now=now):
            cursor.execute(
                render(
                    _REFS_FOLLOW_IDENTITIES.format(staged=_STAGED_CUSTOMERS, si=_STAGED_IDENTITIES, identity=_IDENTITY)
                )
            )
        cursor.execute(render(sql.SQL("SELECT id FROM {staged} ORDER BY ref").format(staged=_STAGED_CUSTOMERS)))
        customer_ids = [row[0] for row in cursor.fetchall()]
    return UpsertResult(customer_ids=customer_ids, customers_created=created, identities_created=identities_created)


# --- staging ------------------------------------------------------------------------------------


def _staging_tables(cursor) -> None:
    """Session-local staging tables, dropped at commit; emptied when a transaction upserts twice."""
    cursor.execute(
        render(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {staged} (ref integer PRIMARY KEY, id bigint, given_id boolean, "
                "created boolean NOT NULL DEFAULT false, given text[], {columns}) ON COMMIT DROP"
            ).format(staged=_STAGED_CUSTOMERS, columns=_column_definitions(CUSTOMER_FIELDS))
        )
    )
    identity_fields = [ChannelIdentity._meta.get_field(name) for name in IDENTITY_COLUMNS]
    cursor.execute(
        render(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {staged} (ref integer, {columns}) ON COMMIT DROP").format(
                staged=_STAGED_IDENTITIES, columns=_column_definitions(identity_fields)
            )
        )
    )
    cursor.execute(
        render(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {staged} (ref integer, unionid {type}) ON COMMIT DROP").format(
                staged=_STAGED_UNIONIDS, type=sql.SQL(CustomerUnionId._meta.get_field("unionid").db_type(connection))
            )
        )
    )
    # Statistics taken at staging cannot know which rows later become `created`: without these
    # indexes a misestimate turns the per-row lookups by ref into nested scans (quadratic).
    for staged, index in _STAGED_REF_INDEXES:
        cursor.execute(
            render(sql.SQL("CREATE INDEX IF NOT EXISTS {index} ON {staged} (ref)").format(index=index, staged=staged))
        )
    cursor.execute(
        render(sql.SQL("TRUNCATE {}, {}, {}").format(_STAGED_CUSTOMERS, _STAGED_IDENTITIES, _STAGED_UNIONIDS))
    )


def _column_definitions(fields: list[models.Field]) -> sql.Composed:
    # The model's own column types (a foreign key's is its target's), without its constraints.
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.column), sql.SQL(f.db_type(connection))) for f in fields
    )


def _stage(cursor, rows: Sequence[CustomerUpsert], *, now: datetime) -> None:
    _staging_tables(cursor)
    defaults = {f.attname: _default(f, now) for f in CUSTOMER_FIELDS}
    seen_identities: set[tuple[int, str, str]] = set()
    copy_customers = sql.SQL("COPY {} (ref, id, given_id, given, {}) FROM STDIN").format(
        _STAGED_CUSTOMERS, sql.SQL(", ").join(map(sql.Identifier, _CUSTOMER_COLUMNS))
    )
    with cursor.copy(render(copy_customers)) as copy:
        for ref, row in enumerate(rows):
            values_check(row)
            values = {**defaults, **row.values}
            prepared = [
                values[f.attname] if type(f) in _PLAIN_FIELDS else f.get_db_prep_save(values[f.attname], connection)
                for f in CUSTOMER_FIELDS
            ]
            copy.write_row([ref, row.customer_id, row.customer_id is not None, sorted(row.values), *prepared])
    with cursor.copy(
        render(
            sql.SQL("COPY {} (ref, {}) FROM STDIN").format(
                _STAGED_IDENTITIES, sql.SQL(", ").join(map(sql.Identifier, IDENTITY_COLUMNS))
            )
        )
    ) as copy:
        for ref, row in enumerate(rows):
            for identity in row.identities:
                key = (identity.account_id, identity.kind, identity.external_id)
                if not identity.external_id or key in seen_identities:
                    continue  # the first row naming an identity decides its customer
                seen_identities.add(key)
                copy.write_row([ref, *(getattr(identity, name) for name in IDENTITY_COLUMNS)])
    with cursor.copy(render(sql.SQL("COPY {} (ref, unionid) FROM STDIN").format(_STAGED_UNIONIDS))) as copy:
        for ref, row in enumerate(rows):
            for unionid in {*row.unionids, *(i.unionid for i in row.identities)} - {""}:
                copy.write_row([ref, unionid])
    cursor.execute(
        render(sql.SQL("ANALYZE {}, {}, {}").format(_STAGED_CUSTOMERS, _STAGED_IDENTITIES, _STAGED_UNIONIDS))
    )


# Field types whose Python values psycopg adapts as they are: preparing a million values through
# Field.get_db_prep_save costs more than the COPY. Exact types only (the encrypted phone field, a
# TextField subclass, must still go through its own preparation).
_PLAIN_FIELDS = (
    models.CharField,
    models.URLField,
    models.TextField,
    models.PositiveSmallIntegerField,
    models.DateTimeField,
)


def _default(model_field: models.Field, now: datetime) -> Any:
    if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
        return now
    return model_field.get_default()


# --- customers ----------------------------------------------------------------------------------

# A row without a customer id takes its identity's customer (Uses index: identity_unique_per_account).
_REFS_FROM_IDENTITIES = sql.SQL(
    """
    UPDATE {staged} s SET id = m.customer_id
    FROM (SELECT DISTINCT ON (si.ref) si.ref, i.customer_id FROM {si} si
          JOIN {identity} i ON i.account_id = si.account_id AND i.kind = si.kind AND i.external_id = si.external_id
          ORDER BY si.ref, i.id) m
    WHERE s.ref = m.ref AND s.id IS NULL
    """
)

# …else the owner of one of its unionids (Uses the primary key of the unionid table).
_REFS_FROM_UNIONIDS = sql.SQL(
    """
    UPDATE {staged} s SET id = m.customer_id
    FROM (SELECT DISTINCT ON (su.ref) su.ref, u.customer_id FROM {su} su JOIN {unionid} u ON u.unionid = su.unionid
          ORDER BY su.ref, u.customer_id) m
    WHERE s.ref = m.ref AND s.id IS NULL
    """
)

# …else a new customer, id from the table's sequence; a given id that is not stored yet is new too.
_REFS_NEW = sql.SQL(
    """
    UPDATE {staged} s SET created = true, id = COALESCE(s.id, nextval(pg_get_serial_sequence({table_name}, 'id')))
    WHERE s.id IS NULL OR NOT EXISTS (SELECT 1 FROM {customer} c WHERE c.id = s.id)
    """
)

_CUSTOMERS_INSERT = sql.SQL(
    "INSERT INTO {customer} (id, {columns}) SELECT id, {columns} FROM {staged} WHERE created ON CONFLICT (id) DO NOTHING"
)


def _customers_resolve_and_create(cursor, *, link_unionids: bool) -> int:
    names = {"staged": _STAGED_CUSTOMERS, "si": _STAGED_IDENTITIES, "su": _STAGED_UNIONIDS, "identity": _IDENTITY,
             "unionid": _UNIONID, "customer": _CUSTOMER}  # fmt: skip
    cursor.execute(render(_REFS_FROM_IDENTITIES.format(**names)))
    if link_unionids:
        cursor.execute(render(_REFS_FROM_UNIONIDS.format(**names)))
    cursor.execute(render(_REFS_NEW.format(**names, table_name=sql.Literal(Customer._meta.db_table))))
    columns = sql.SQL(", ").join(map(sql.Identifier, _CUSTOMER_COLUMNS))
    cursor.execute(render(_CUSTOMERS_INSERT.format(customer=_CUSTOMER, columns=columns, staged=_STAGED_CUSTOMERS)))
    return cursor.rowcount


def _customers_overwrite_sql() -> sql.Composed:
    """UPDATE existing customers with the values their rows give; attributes merged; untouched when
    nothing changes (updated_at stays)."""
    writable = [c for c in _CUSTOMER_COLUMNS if c not in ("created_at", "updated_at")]
    new_values = {c: _overwrite_value(c) for c in writable}
    # The encrypted phone differs at every write (a fresh IV): its hash tells whether it changed.
    compared = [c for c in writable if c != "phone"]
    return sql.SQL(
        "UPDATE {customer} c SET {sets}, updated_at = %(now)s FROM {staged} s "
        "WHERE c.id = s.id AND NOT s.created AND cardinality(s.given) > 0 AND ({old}) IS DISTINCT FROM ({new})"
    ).format(
        customer=_CUSTOMER,
        staged=_STAGED_CUSTOMERS,
        sets=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), v) for c, v in new_values.items()),
        old=sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in compared),
        new=sql.SQL(", ").join(new_values[c] for c in compared),
    )


def _overwrite_value(column: str) -> sql.Composed:
    given = sql.SQL("{name} = ANY(s.given)").format(name=sql.Literal(column))
    col = sql.Identifier(column)
    if column == "attributes":
        new = sql.SQL("c.{col} || s.{col}").format(col=col)
    elif column == "phone":
        given = sql.SQL("{given} AND s.phone_hash IS DISTINCT FROM c.phone_hash").format(given=given)
        new = sql.SQL("s.{col}").format(col=col)
    else:
        new = sql.SQL("s.{col}").format(col=col)
    return sql.SQL("CASE WHEN {given} THEN {new} ELSE c.{col} END").format(given=given, new=new, col=col)


# --- identities ---------------------------------------------------------------------------------

_IDENTITIES_INSERT = sql.SQL(
    """
    INSERT INTO {identity} (customer_id, {columns}, last_interaction_at, do_not_disturb, refuses_template, created_at, updated_at)
    SELECT s.id, {staged_columns}, NULL, false, false, %(now)s, %(now)s
    FROM {si} si JOIN {staged} s ON s.ref = si.ref
    ON CONFLICT (account_id, kind, external_id) {on_conflict}
    RETURNING (xmax = 0) AS inserted
    """
)

# The platform lists the identity as following now: fill what is missing, unless an unfollow
# recorded after this call started is newer (the callback that brought it wins).
_FOLLOW_REFRESH = sql.SQL(
    """
    DO UPDATE SET follow_state = {following},
        followed_at = COALESCE({identity}.followed_at, EXCLUDED.followed_at, %(now)s),
        subscribe_scene = CASE WHEN {identity}.subscribe_scene = '' THEN EXCLUDED.subscribe_scene ELSE {identity}.subscribe_scene END,
        owner_staff_id = CASE WHEN {identity}.owner_staff_id = '' THEN EXCLUDED.owner_staff_id ELSE {identity}.owner_staff_id END,
        updated_at = %(now)s
    WHERE NOT ({identity}.unfollowed_at IS NOT NULL AND {identity}.unfollowed_at > %(now)s)
      AND NOT ({identity}.follow_state = {following} AND {identity}.followed_at IS NOT NULL
               AND ({identity}.owner_staff_id <> '' OR EXCLUDED.owner_staff_id = ''))
    """
)


def _identities_insert(cursor, *, refresh_follow: bool, now: datetime) -> int:
    on_conflict = (
        _FOLLOW_REFRESH.format(identity=_IDENTITY, following=sql.Literal(str(FollowState.FOLLOWING)))
        if refresh_follow
        else sql.SQL("DO NOTHING")
    )
    cursor.execute(
        render(
            _IDENTITIES_INSERT.format(
                identity=_IDENTITY,
                columns=sql.SQL(", ").join(map(sql.Identifier, IDENTITY_COLUMNS)),
                staged_columns=sql.SQL(", ").join(sql.SQL("si.{}").format(sql.Identifier(c)) for c in IDENTITY_COLUMNS),
                si=_STAGED_IDENTITIES,
                staged=_STAGED_CUSTOMERS,
                on_conflict=on_conflict,
            )
        ),
        {"now": now},
    )
    return sum(1 for (inserted,) in cursor.fetchall() if inserted)


# A customer made for identities that a concurrent writer created first is unused: removed, and its
# row takes the identity's customer instead.
_ORPHANS_REMOVE = sql.SQL(
    """
    WITH orphans AS (
        DELETE FROM {customer} c USING {staged} s
        WHERE c.id = s.id AND s.created AND NOT s.given_id
          AND EXISTS (SELECT 1 FROM {si} si WHERE si.ref = s.ref)
          AND NOT EXISTS (SELECT 1 FROM {identity} i WHERE i.customer_id = c.id)
        RETURNING c.id
    )
    UPDATE {staged} s SET id = NULL, created = false FROM orphans o WHERE s.id = o.id
    """
)


def _orphans_remove(cursor) -> int:
    names = {"customer": _CUSTOMER, "staged": _STAGED_CUSTOMERS, "si": _STAGED_IDENTITIES, "identity": _IDENTITY}
    cursor.execute(render(_ORPHANS_REMOVE.format(**names)))
    removed = cursor.rowcount
    if removed:
        cursor.execute(render(_REFS_FROM_IDENTITIES.format(**names)))
    return removed


# --- unionids -----------------------------------------------------------------------------------

# The unionids of each row, against the customer that now holds the row (identity's or the row's).
_UNIONIDS_INSERT = sql.SQL(
    """
    INSERT INTO {unionid} (unionid, customer_id, created_at)
    SELECT DISTINCT ON (su.unionid) su.unionid, s.id, %(now)s FROM {su} su JOIN {staged} s ON s.ref = su.ref
    ORDER BY su.unionid, su.ref
    ON CONFLICT (unionid) DO NOTHING
    """
)

# An identity whose unionid its own customer owns: the unionid is simply recorded on it.
_IDENTITY_UNIONIDS_SET = sql.SQL(
    """
    UPDATE {identity} i SET unionid = si.unionid, updated_at = %(now)s
    FROM {si} si JOIN {unionid} u ON u.unionid = si.unionid
    WHERE si.unionid <> '' AND i.account_id = si.account_id AND i.kind = si.kind AND i.external_id = si.external_id
      AND i.unionid <> si.unionid AND u.customer_id = i.customer_id
    """
)

# Identities whose unionid another customer owns: one person known twice, merged one by one.
_IDENTITIES_TO_MERGE = sql.SQL(
    """
    SELECT i.id, si.unionid FROM {si} si
    JOIN {identity} i ON i.account_id = si.account_id AND i.kind = si.kind AND i.external_id = si.external_id
    JOIN {unionid} u ON u.unionid = si.unionid
    WHERE si.unionid <> '' AND u.customer_id <> i.customer_id
    ORDER BY i.id
    """
)

# After merges, each row names the customer that survived (its identity's, else its unionid's owner).
_REFS_FOLLOW_IDENTITIES = sql.SQL(
    """
    UPDATE {staged} s SET id = i.customer_id
    FROM {si} si JOIN {identity} i ON i.account_id = si.account_id AND i.kind = si.kind AND i.external_id = si.external_id
    WHERE si.ref = s.ref AND s.id <> i.customer_id
    """
)


def _unionids_link(cursor, *, now: datetime) -> bool:
    """Record unionid owners and link identities; True when customers were merged."""
    names = {
        "unionid": _UNIONID,
        "su": _STAGED_UNIONIDS,
        "staged": _STAGED_CUSTOMERS,
        "identity": _IDENTITY,
        "si": _STAGED_IDENTITIES,
    }
    cursor.execute(render(_UNIONIDS_INSERT.format(**names)), {"now": now})
    cursor.execute(render(_IDENTITY_UNIONIDS_SET.format(**names)), {"now": now})
    cursor.execute(render(_IDENTITIES_TO_MERGE.format(**names)))
    to_merge = cursor.fetchall()
    for identity_id, unionid in to_merge:
        identity_link_unionid(identity=ChannelIdentity.objects.get(pk=identity_id), unionid=unionid)
    return bool(to_merge)
