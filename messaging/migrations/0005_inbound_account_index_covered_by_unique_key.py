"""InboundMessage.account loses its own index: the unique (account_id, dedupe_key) index already
serves every lookup and cascade by account, and each callback INSERT maintained both.

Only the index is dropped (AlterField alone would also drop and re-add the foreign key, re-validating
every stored row under a lock that holds up incoming callbacks).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "messaging_inboundmessage_account_id_4de5f823"


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_miniprogramsession"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundmessage",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="inbound_messages",
                        to="messaging.channelaccount",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON messaging_inboundmessage (account_id)",
                ),
            ],
        ),
    ]
