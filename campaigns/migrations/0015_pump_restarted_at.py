"""Dispatch recovery: when the campaign's current pump generation was enqueued, kept apart from its
sign of life (campaigns/dispatch/liveness.py). A nullable column: no table rewrite."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0014_variant_tests"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="pump_restarted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="pump generation started at"),
        ),
    ]
