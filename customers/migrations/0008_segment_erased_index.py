"""An index of the erased customers, for audiences that start from another table's rows.

A one-condition segment (has tag X; at least k events in N days) is counted from that table's rows
(customers/segments/compiler.py): "not erased" is then an anti-join against this index, which holds
only the few erased customers, instead of a walk over every live customer.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_account_moves_to_accounts_app")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS segidx_customer_erased ON customers_customer (id) WHERE erased_at IS NOT NULL",
            "DROP INDEX IF EXISTS segidx_customer_erased",
        )
    ]
