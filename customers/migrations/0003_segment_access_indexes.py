"""Indexes for the access path of each segment condition (customers/segments/compiler.py).

Written as SQL so they stay out of the shared models' Meta (owned by the foundation); each statement
is idempotent. Already covered by the foundation: CustomerTag (tag, customer), EngagementEvent
(event_type, occurred_at, customer), ConsentCredit (template_id, customer), Customer.last_engaged_at,
EngagementProfile.score / ignored_push_streak.
"""

from django.db import migrations

COMMON = [
    # Every audience excludes erased customers: this lets a tag-driven plan check "not erased" with an
    # index-only probe instead of reading the customers heap.
    ("segidx_customer_live", "customers_customer (id) WHERE erased_at IS NULL"),
    # follows account X: index-only scan of (account, state) -> customer.
    ("segidx_identity_acct_state_cust", "customers_channelidentity (account_id, follow_state, customer_id)"),
    # has WeCom (optionally with staff Y) / has mini-program: by identity kind.
    ("segidx_identity_kind_staff_cust", "customers_channelidentity (kind, owner_staff_id, customer_id)"),
    ("segidx_customer_city", "customers_customer (city)"),
    ("segidx_customer_province", "customers_customer (province)"),
    ("segidx_customer_first_seen", "customers_customer (first_seen_at)"),
]


def forwards(apps, schema_editor):
    for name, target in COMMON:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    if schema_editor.connection.vendor == "postgresql":
        # Attribute eq / in compile to jsonb containment (@>) and exists to has-key (?): the default
        # jsonb_ops GIN operator class serves both (jsonb_path_ops would not serve ?).
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS segidx_customer_attributes ON customers_customer USING gin (attributes)"
        )


def backwards(apps, schema_editor):
    for name, _ in [*COMMON, ("segidx_customer_attributes", "")]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_segments")]
    operations = [migrations.RunPython(forwards, backwards)]
