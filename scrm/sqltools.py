"""Raw SQL is built with psycopg's `sql` composables (identifiers quoted, never spliced by hand) and
rendered once to the text Django's cursor runs; values always travel as parameters."""

from __future__ import annotations

from psycopg import sql


def render(query: sql.Composable) -> str:
    """The SQL text of a composed statement (identifiers and literals quoted by psycopg)."""
    return query.as_string(None)


def table(model) -> sql.Identifier:
    """The quoted table name of a model."""
    return sql.Identifier(model._meta.db_table)
