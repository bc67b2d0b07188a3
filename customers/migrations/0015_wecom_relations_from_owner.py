"""Data: today's single owner of each WeCom external contact becomes its first relationship.

An identity that follows gets an active pair with its owner; one that unfollowed gets the pair
ended by whoever the last `wecom.del_contact` event names (`removed_by`), else by the customer.
Identities without an owner get no pair (the next event or contact sync creates them). Set-based:
one INSERT … SELECT; a second run inserts nothing (ON CONFLICT on the pair)."""

from django.db import migrations

_SELECT = """
INSERT INTO customers_wecomrelation (
    identity_id, staff_userid, state, half, remark, description, remark_mobiles, remark_corp_name, tags,
    add_way, channel_state, added_at, removed_at, last_interaction_at, state_changed_at, created_at, updated_at)
SELECT i.id, i.owner_staff_id,
       CASE WHEN i.follow_state = 'unfollowed' THEN
            CASE WHEN (SELECT {removed_by} FROM customers_engagementevent e
                        WHERE e.customer_id = i.customer_id AND e.account_id = i.account_id
                          AND e.event_type = 'wecom.del_contact'
                        ORDER BY e.occurred_at DESC LIMIT 1) = 'staff'
                 THEN 'deleted_by_staff' ELSE 'deleted_by_customer' END
            ELSE 'active' END,
       {false}, '', '', {empty}, '', {empty}, 0, i.subscribe_scene, i.followed_at,
       CASE WHEN i.follow_state = 'unfollowed' THEN i.unfollowed_at END,
       COALESCE(i.last_interaction_at, i.followed_at),
       COALESCE(i.unfollowed_at, i.followed_at, i.created_at), {now}, {now}
  FROM customers_channelidentity i
 WHERE i.kind = 'wecom_external' AND i.owner_staff_id <> ''
ON CONFLICT (identity_id, staff_userid) DO NOTHING
"""


def relations_from_owner(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statement = _SELECT.format(
            removed_by="e.properties ->> 'removed_by'", false="FALSE", empty="'[]'::jsonb", now="now()"
        )
    else:
        statement = _SELECT.format(
            removed_by="json_extract(e.properties, '$.removed_by')", false="0", empty="'[]'", now="CURRENT_TIMESTAMP"
        )
    schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0014_wecom_relations'),
    ]

    operations = [
        migrations.RunPython(relations_from_owner, migrations.RunPython.noop),
    ]
