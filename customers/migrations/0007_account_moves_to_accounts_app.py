"""State only: the account foreign keys now point at accounts.ChannelAccount (same table, same constraint)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("customers", "0006_privacyrequest")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="channelidentity",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="identities", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="consentcredit",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="engagementevent",
                    name="account",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="accounts.channelaccount"),
                ),
            ],
        ),
    ]
