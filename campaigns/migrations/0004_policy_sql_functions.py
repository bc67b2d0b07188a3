"""The contact policy's time functions (PostgreSQL), frozen here as they were installed.

Migrations import no app code: this text is what every database got from 0004. A change to a function
is a new migration with the new `CREATE OR REPLACE FUNCTION` text (tests/campaigns/test_sql_functions.py
compares the functions of the migrated test database with the texts of the migrations).
"""

from django.db import migrations

SQL_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION scrm_time_in(t time, s time, e time) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN s IS NULL OR e IS NULL OR s = e THEN false
        WHEN s < e THEN t >= s AND t < e
        ELSE t >= s OR t < e
    END
$$;

CREATE OR REPLACE FUNCTION scrm_defer_out_of(l timestamp, s time, e time) RETURNS timestamp
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN NOT scrm_time_in(l::time, s, e) THEN l
        WHEN s < e OR l::time < e THEN date_trunc('day', l) + e
        ELSE date_trunc('day', l) + interval '1 day' + e
    END
$$;

CREATE OR REPLACE FUNCTION scrm_send_slot(l timestamp, ws time, we time, qs time, qe time) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    cur timestamp := l;
    nxt timestamp;
BEGIN
    -- Window and quiet hours can push each other; three rounds settle any sane combination.
    FOR i IN 1..3 LOOP
        nxt := cur;
        IF ws IS NOT NULL AND we IS NOT NULL AND ws <> we THEN
            nxt := scrm_defer_out_of(nxt, we, ws);
        END IF;
        nxt := scrm_defer_out_of(nxt, qs, qe);
        EXIT WHEN nxt = cur;
        cur := nxt;
    END LOOP;
    RETURN cur;
END
$$;

CREATE OR REPLACE FUNCTION scrm_next_hour(l timestamp, h integer) RETURNS timestamp
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN h IS NULL THEN l
        WHEN date_trunc('day', l) + make_interval(hours => h) >= date_trunc('hour', l)
            THEN greatest(l, date_trunc('day', l) + make_interval(hours => h))
        ELSE date_trunc('day', l) + interval '1 day' + make_interval(hours => h)
    END
$$;
"""

SQL_FUNCTIONS_DROP = """
DROP FUNCTION IF EXISTS scrm_next_hour(timestamp, integer);
DROP FUNCTION IF EXISTS scrm_send_slot(timestamp, time, time, time, time);
DROP FUNCTION IF EXISTS scrm_defer_out_of(timestamp, time, time);
DROP FUNCTION IF EXISTS scrm_time_in(time, time, time);
"""


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
