"""The table takes accounts' name, and the content type follows the model so operators keep their
account permissions and the admin log keeps its links."""

from django.db import migrations


def content_type_to_accounts(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="messaging", model="channelaccount"
    ).update(app_label="accounts")


def content_type_to_messaging(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="accounts", model="channelaccount"
    ).update(app_label="messaging")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("messaging", "0006_account_moves_to_accounts_app"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.AlterModelTable(name="channelaccount", table=None),
        migrations.RunPython(content_type_to_accounts, content_type_to_messaging),
    ]
