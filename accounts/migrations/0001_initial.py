"""ChannelAccount moves here from messaging; the table keeps its name until 0002, so no row moves."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("messaging", "0005_inbound_account_index_covered_by_unique_key")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ChannelAccount",
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('oa', 'Service account'), ('wecom', 'WeCom corp app'), ('miniprogram', 'Mini-program')], max_length=12, verbose_name='kind')),
                        ('name', models.CharField(max_length=128, verbose_name='name')),
                        ('app_id', models.CharField(max_length=64, verbose_name='app id / corp id')),
                        ('agent_id', models.CharField(blank=True, max_length=32, verbose_name='agent id')),
                        ('app_secret', models.TextField(blank=True, default='', verbose_name='app secret')),
                        ('token', models.TextField(blank=True, default='', verbose_name='callback token')),
                        ('encoding_aes_key', models.TextField(blank=True, default='', verbose_name='EncodingAESKey')),
                        ('previous_encoding_aes_key', models.TextField(blank=True, default='', verbose_name='previous EncodingAESKey')),
                        ('encrypt_mode', models.CharField(choices=[('plain', 'Plaintext'), ('compatible', 'Compatible (plaintext or AES)'), ('safe', 'Safe mode (AES)')], default='safe', max_length=12, verbose_name='message encryption')),
                        ('api_base_url', models.URLField(blank=True, help_text="Empty means WeChat's real servers.", max_length=255, verbose_name='API base URL')),
                        ('timezone', models.CharField(default='Asia/Shanghai', max_length=64, verbose_name='time zone')),
                        ('rate_limit_per_second', models.PositiveIntegerField(default=50, verbose_name='send rate limit per second')),
                        ('daily_quota', models.PositiveIntegerField(default=100000, verbose_name='daily send quota')),
                        ('is_active', models.BooleanField(default=True, verbose_name='active')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),

                    ],
                    options={
                        "verbose_name": "channel account",
                        "verbose_name_plural": "channel accounts",
                        "db_table": "messaging_channelaccount",
                        "constraints": [models.UniqueConstraint(fields=("kind", "app_id"), name="account_unique_app_id")],
                    },
                ),
            ],
        ),
    ]
