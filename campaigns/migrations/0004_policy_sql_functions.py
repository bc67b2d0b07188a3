from django.db import migrations

from campaigns.policy import SQL_FUNCTIONS, SQL_FUNCTIONS_DROP


def install(apps, schema_editor):
    # Planning is PostgreSQL SQL; the embedded SQLite of `make run` skips the functions.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL_FUNCTIONS)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL_FUNCTIONS_DROP)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_campaign_engine")]

    operations = [migrations.RunPython(install, uninstall)]
