"""CampaignCounters: the funnel counts kept as facts are recorded (campaigns.counters), backfilled here
from the deliveries and suppressions already stored (one grouped pass over each table)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Max, Min, Q

MUTE_ERROR_CODES = ("user_block", "43101")


def backfill(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Delivery = apps.get_model("campaigns", "Delivery")
    Suppression = apps.get_model("campaigns", "Suppression")
    CampaignCounters = apps.get_model("campaigns", "CampaignCounters")
    rows = {pk: CampaignCounters(campaign_id=pk, suppressed_by_reason={}) for pk in Campaign.objects.values_list("pk", flat=True)}
    if not rows:
        return
    for row in (
        Delivery.objects.values("campaign_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            failed=Count("pk", filter=Q(state="failed")),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            mutes=Count("pk", filter=Q(error_code__in=MUTE_ERROR_CODES)),
            first_sent_at=Min("sent_at"),
            last_sent_at=Max("sent_at"),
        )
        .order_by()
    ):
        counters = rows[row["campaign_id"]]
        for field in ("sent", "delivered", "failed", "clicked", "mutes", "first_sent_at", "last_sent_at"):
            setattr(counters, field, row[field])
    for campaign_id, reason, n in Suppression.objects.values_list("campaign_id", "reason").annotate(n=Count("pk")).order_by():
        rows[campaign_id].suppressed_by_reason[reason] = n
    CampaignCounters.objects.bulk_create(rows.values(), batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0009_account_moves_to_accounts_app")]

    operations = [
        migrations.CreateModel(
            name="CampaignCounters",
            fields=[
                ("campaign", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="counters", serialize=False, to="campaigns.campaign")),
                ("sent", models.BigIntegerField(default=0)),
                ("delivered", models.BigIntegerField(default=0)),
                ("failed", models.BigIntegerField(default=0)),
                ("clicked", models.BigIntegerField(default=0)),
                ("mutes", models.BigIntegerField(default=0)),
                ("first_sent_at", models.DateTimeField(blank=True, null=True)),
                ("last_sent_at", models.DateTimeField(blank=True, null=True)),
                ("suppressed_by_reason", models.JSONField(blank=True, default=dict)),
                ("refreshed_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
