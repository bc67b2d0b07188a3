"""The SQL functions of a migrated database are exactly the ones the migrations' texts create: an edit of
a function outside a migration (or a migration edited after it ran) shows up here as drift."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

pytestmark = pytest.mark.django_db

SCRATCH = "sql_functions_check"
FUNCTIONS = """
    SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = %s AND p.proname LIKE 'scrm\\_%%'
"""


def migration_function_texts() -> list[str]:
    """`SQL_FUNCTIONS` of every campaigns migration, in the order the migrations apply."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = loader.graph.forwards_plan(loader.graph.leaf_nodes("campaigns")[0])
    modules = [importlib.import_module(f"{app}.migrations.{name}") for app, name in plan if app == "campaigns"]
    return [module.SQL_FUNCTIONS for module in modules if hasattr(module, "SQL_FUNCTIONS")]


def functions_in(cursor, schema: str) -> dict[str, str]:
    cursor.execute(FUNCTIONS, [schema])
    return {signature: definition.replace(f"{schema}.", "") for signature, definition in cursor.fetchall()}


def test_functions_of_the_migrated_database_equal_what_the_migrations_create():
    texts = migration_function_texts()
    assert texts, "no migration installs the contact policy's SQL functions"
    with connection.cursor() as cursor:
        installed = functions_in(cursor, "public")
        # The migrations' texts, run again into a schema of their own (rolled back with the test).
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
        cursor.execute(f"SET LOCAL search_path = {SCRATCH}, public")
        for text in texts:
            cursor.execute(text)
        cursor.execute("SET LOCAL search_path = public")
        expected = functions_in(cursor, SCRATCH)
    assert set(installed) == set(expected)
    for signature, definition in expected.items():
        assert installed[signature] == definition, f"{signature} differs from its migration"


def test_a_function_edited_outside_the_migrations_is_noticed():
    with connection.cursor() as cursor:
        cursor.execute("CREATE OR REPLACE FUNCTION scrm_time_in(t time, s time, e time) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT false $$")
    with pytest.raises(AssertionError, match="scrm_time_in"):
        test_functions_of_the_migrated_database_equal_what_the_migrations_create()
