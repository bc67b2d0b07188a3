"""State only: the account foreign keys now point at accounts.ChannelAccount (same table, same constraint)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("messaging", "0005_inbound_account_index_covered_by_unique_key"), ("campaigns", "0009_account_moves_to_accounts_app"), ("customers", "0007_account_moves_to_accounts_app")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundmessage",
                    name="account",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="inbound_messages", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="tagmirror",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="tag_mirrors", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="syncjob",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="sync_jobs", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="miniprogramsession",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="mp_sessions", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="autoreplyrule",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="auto_reply_rules", to="accounts.channelaccount"),
                ),
                migrations.AlterField(
                    model_name="channelcode",
                    name="account",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="channel_codes", to="accounts.channelaccount"),
                ),
                migrations.DeleteModel(name="ChannelAccount"),
            ],
        ),
    ]
