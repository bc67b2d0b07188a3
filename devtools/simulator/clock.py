"""The fast-forwarded clock: Python's ``timezone.now`` and PostgreSQL's ``now()`` family read the
simulated time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from psycopg import sql

from scrm.sqltools import render

SIM_SCHEMA = "scrm_sim"


class SimClock:
    """Simulated time for Python (timezone.now) and PostgreSQL (now(), clock_timestamp())."""

    def __init__(self, start: datetime):
        self.now_value = start.astimezone(ZoneInfo("UTC"))

    def now(self) -> datetime:
        return self.now_value

    def set(self, at: datetime) -> None:
        self.now_value = at.astimezone(ZoneInfo("UTC"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('scrm_sim.now', %s, false)", [self.now_value.isoformat()])


_CREATE_SCHEMA = sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}")
_CREATE_CLOCK_FUNCTION = sql.SQL(
    "CREATE OR REPLACE FUNCTION {schema}.{name}() RETURNS timestamptz LANGUAGE sql STABLE "
    "AS $$ SELECT current_setting('scrm_sim.now')::timestamptz $$"
)
CLOCK_FUNCTIONS = ("now", "clock_timestamp", "statement_timestamp", "transaction_timestamp")


def install_db_clock() -> str:
    """Shadow PostgreSQL's clock functions for this session; returns the search_path to restore."""
    schema = sql.Identifier(SIM_SCHEMA)
    with connection.cursor() as cursor:
        # Simulations started together (--parallel) would replace the same functions at once, which
        # PostgreSQL refuses ("tuple concurrently updated"): one at a time, under an advisory lock.
        with transaction.atomic():
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('scrm_sim_clock'))")
            cursor.execute(render(_CREATE_SCHEMA.format(schema=schema)))
            for name in CLOCK_FUNCTIONS:
                cursor.execute(render(_CREATE_CLOCK_FUNCTION.format(schema=schema, name=sql.Identifier(name))))
        cursor.execute("SHOW search_path")
        previous = cursor.fetchone()[0]
        # pg_catalog named explicitly after our schema: our now() shadows the built-in one.
        _set_search_path(f"{SIM_SCHEMA}, pg_catalog, {previous}")
    return previous


def restore_search_path(previous: str) -> None:
    _set_search_path(previous)


def _set_search_path(value: str) -> None:
    # A setting's value travels as a parameter (set_config), never spliced into SET.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('search_path', %s, false)", [value])
