"""CampaignCounters remember the last quota deferral (until, reason, detail, count); cs_quota_used joins the reasons."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0010_campaign_counters'),
    ]

    operations = [
        migrations.AddField(
            model_name='campaigncounters',
            name='deferred_count',
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='campaigncounters',
            name='deferred_detail',
            field=models.CharField(blank=True, db_default='', default='', max_length=255),
        ),
        migrations.AddField(
            model_name='campaigncounters',
            name='deferred_reason',
            field=models.CharField(blank=True, db_default='', default='', max_length=32),
        ),
        migrations.AddField(
            model_name='campaigncounters',
            name='deferred_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='suppression',
            name='reason',
            field=models.CharField(choices=[('unfollowed', 'Not following'), ('no_identity', 'No identity on the account'), ('do_not_disturb', 'Do not disturb'), ('topic_opt_out', 'Opted out of the topic'), ('frequency_day', 'Daily cap reached'), ('frequency_week', '7-day cap reached'), ('min_gap', 'Too soon after the last push'), ('fatigue', 'Ignored recent pushes (cooling down)'), ('no_consent', 'No subscribe-message consent'), ('outside_cs_window', 'Outside the 48-hour window'), ('cs_quota_used', 'Customer-service messages of the window used up'), ('mass_monthly_limit', '4 mass messages this month'), ('account_quota', 'Account daily quota'), ('refuses_template', 'Blocked template messages'), ('preference_frequency', 'Preference centre frequency'), ('low_predicted_engagement', 'Below the targeting threshold'), ('wecom_no_owner', 'No owning staff member'), ('wecom_group_limit', 'WeCom per-customer group-message limit'), ('holdout', 'Held out')], max_length=32),
        ),
    ]
