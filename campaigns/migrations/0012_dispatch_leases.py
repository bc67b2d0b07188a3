"""Dispatch recovery (campaigns/dispatch/liveness.py): a claimed delivery's lease, and a campaign's
pump generation and last sign of a live pump. Nullable columns and a constant default: no table rewrite."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0011_quota_deferral"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="pump_alive_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="pump alive until"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="pump_generation",
            field=models.PositiveIntegerField(default=0, verbose_name="pump generation"),
        ),
        migrations.AddField(
            model_name="delivery",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="lease until"),
        ),
    ]
