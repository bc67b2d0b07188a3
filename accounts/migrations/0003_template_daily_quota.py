"""WeChat's daily quota of template messages per account (default 100,000)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_channelaccount_table_and_content_type'),
    ]

    operations = [
        migrations.AddField(
            model_name='channelaccount',
            name='template_daily_quota',
            field=models.PositiveIntegerField(db_default=100000, default=100000, help_text="WeChat's daily quota of template messages for this account (100,000 unless WeChat raised it). Sends beyond it wait for the next quota day (midnight Beijing time).", verbose_name="template messages per day (WeChat's quota)"),
        ),
    ]
