"""The (customer, occurred_at) event index gains the event type: a report asking whether a customer acted
in a window (lift's engagement, conversions) probes the index only, instead of reading every event of
the customer in the window from the heap (docs/fast-reads.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_channelaccount_table_and_content_type'),
        ('customers', '0010_customer_name_trigram'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='engagementevent',
            name='customers_e_custome_474328_idx',
        ),
        migrations.AddIndex(
            model_name='engagementevent',
            index=models.Index(fields=['customer', 'occurred_at', 'event_type'], name='event_customer_time_type_idx'),
        ),
    ]
