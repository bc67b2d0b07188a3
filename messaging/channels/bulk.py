"""Fast multi-row INSERT for imports: one `INSERT … SELECT FROM unnest(arrays)` per table on
PostgreSQL (the ORM's bulk_create spends most of its time building SQL in Python at 10,000 rows),
the ORM's bulk_create elsewhere (the embedded SQLite mode)."""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from django.utils import timezone

BATCH = 10_000
# Field types whose Python values psycopg adapts as they are: preparing 10,000 values through
# Field.get_db_prep_save costs more than the INSERT. Exact types only (an encrypted TextField
# subclass must still go through its own preparation).
_PLAIN_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
    models.BooleanField,
    models.BigAutoField,
    models.AutoField,
    models.ForeignKey,
    models.DateTimeField,
)


def _prepare(field: models.Field, values: list[Any]) -> list[Any]:
    if type(field) in _PLAIN_FIELDS:
        return values
    return [field.get_db_prep_save(value, connection) for value in values]


def _column_value(field: models.Field, now) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


def bulk_insert(model: type[models.Model], rows: list[dict[str, Any]], *, ignore_conflicts: bool = False) -> None:
    """Insert `rows` (dicts of attname → value, all with the same keys); other columns get their
    field defaults. With ignore_conflicts, rows that violate a unique constraint are skipped."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**row) for row in rows], batch_size=2000, ignore_conflicts=ignore_conflicts
        )
        return
    given = set(rows[0])
    now = timezone.now()
    columns, selects, arrays, constants = [], [], [], []
    for field in model._meta.concrete_fields:
        if field.attname in given:
            columns.append(field.column)
            selects.append(f"u.c{len(arrays)}")
            arrays.append(field)
        elif not field.primary_key:
            columns.append(field.column)
            selects.append(f"%s::{field.db_type(connection)}")
            constants.append(field.get_db_prep_save(_column_value(field, now), connection))
    unnest = ", ".join(f"%s::{field.db_type(connection)}[]" for field in arrays)
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) AS u({aliases})"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            values = [_prepare(field, [row[field.attname] for row in chunk]) for field in arrays]
            # The SELECT list (constants) precedes FROM unnest (arrays) in the statement.
            cursor.execute(sql, [*constants, *values])


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys from the table's sequence (PostgreSQL)."""
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]
