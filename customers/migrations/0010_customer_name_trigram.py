"""A trigram index for the operator's name search (customers.search): `UPPER(display_name) LIKE
UPPER('%…%')` — what Django's `icontains` emits on PostgreSQL — is then an index scan instead of a walk
over every customer. PostgreSQL only: the embedded SQLite keeps a plain LIKE over its small tables.

The expression must stay exactly Django's (`UPPER("display_name"::text)`) for the planner to match it.
"""

from django.db import migrations

_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_name_trgm ON customers_customer USING gin ((UPPER(display_name::text)) gin_trgm_ops)",
]
_DROP = ["DROP INDEX IF EXISTS customer_name_trgm"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_account_daily_count")]
    operations = [migrations.RunPython(_run(_CREATE), _run(_DROP), elidable=False)]
