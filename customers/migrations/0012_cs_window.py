"""The customer-service window per identity: the kind of the last interaction and the messages sent in it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_event_index_with_type'),
    ]

    operations = [
        migrations.AddField(
            model_name='channelidentity',
            name='cs_window_kind',
            field=models.CharField(blank=True, db_default='', default='', max_length=8, verbose_name='customer-service window kind'),
        ),
        migrations.AddField(
            model_name='channelidentity',
            name='cs_window_sends',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, verbose_name='customer-service messages sent in the window'),
        ),
    ]
