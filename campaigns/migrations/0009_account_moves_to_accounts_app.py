"""State only: the account foreign keys now point at accounts.ChannelAccount (same table, same constraint)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("campaigns", "0008_suppression_drop_reason_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="campaign",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="campaigns", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.channelaccount"),
                ),
            ],
        ),
    ]
