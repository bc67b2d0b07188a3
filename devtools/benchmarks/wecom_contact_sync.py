"""WeCom contact sync benchmark (issue 15's "done when"): a sandbox corp with up to 100,000 external
contacts, 20% of them shared by 3 staff members (140,000 pairs at 100,000), imported end to end by
the `wecom_contacts` sync job (externalcontact/batch/get_by_user: 100 staff members a call, 100 pairs
a page; pages applied as set-based writes), against two baselines measured in the same run: fetching
the same pages over HTTP without touching the database, and inserting the same customers,
identities and relationships with one raw INSERT … SELECT each. The goal: ≥ 2,000 contacts/s and
import ≤ 2 × (fetch only + raw insert).
"""

from __future__ import annotations

import os
import secrets
import time

from django.db import connection, transaction
from psycopg import sql

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer, CustomerTag, CustomerUnionId
from customers.wecom.models import WeComRelation, WeComStaff
from devtools.benchmarks.common import rolled_back, say
from messaging.channels.clients import wecom_client
from messaging.channels.models import SyncJob
from messaging.channels.sync import BATCH_LIMIT, BATCH_STAFF, sync_job_run
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer
from scrm.sqltools import render, table

MAX_CONTACTS = 100_000
STAFF = 20
SHARED_SHARE = 0.2  # of the contacts, each known to 3 staff members
TARGET_RATE = 2_000
TARGET_RATIO = 2.0


def _populate(control: SandboxControl, corp_id: str, n: int, prefix: str, unionid_prefix: str) -> tuple[list[str], int]:
    staff = [f"bench-staff-{i:02d}" for i in range(STAFF)]
    for member in staff:
        control.add_wecom_staff(corp_id, member, name=member)
    shared = int(n * SHARED_SHARE)
    single = n - shared
    for i, member in enumerate(staff):
        count = single // STAFF + (1 if i < single % STAFF else 0)
        if count:
            control.add_external_contacts(corp_id, member, count, external_prefix=prefix, unionid_prefix=unionid_prefix)
        count = shared // STAFF + (1 if i < shared % STAFF else 0)
        if count:
            others = [staff[(i + 1) % STAFF], staff[(i + 2) % STAFF]]
            control.add_external_contacts(
                corp_id, member, count, external_prefix=prefix, unionid_prefix=unionid_prefix, also_staff=others
            )
    return staff, single + 3 * shared


def _fetch_only(account, staff: list[str]) -> int:
    client = wecom_client(account)
    pairs = 0
    for start in range(0, len(staff), BATCH_STAFF):
        cursor = ""
        while True:
            page = client.post(
                "externalcontact/batch/get_by_user",
                data={"userid_list": staff[start : start + BATCH_STAFF], "cursor": cursor, "limit": BATCH_LIMIT},
            )
            pairs += len(page.get("external_contact_list") or [])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
    return pairs


# The baseline: the same customers, identities and relationships, one INSERT … SELECT each.
_RAW_CUSTOMERS = sql.SQL(
    "INSERT INTO {customer} (display_name, avatar_url, gender, city, province, country, language, timezone, "
    "phone, phone_hash, attributes, source, first_seen_at, created_at, updated_at) "
    "SELECT '', '', 0, '', '', '', 'zh_CN', '', '', '', '{{}}', '', now(), now(), now() FROM generate_series(1, %s)"
)
_RAW_IDENTITIES = sql.SQL(
    "INSERT INTO {identity} (customer_id, account_id, kind, external_id, unionid, follow_state, subscribe_scene, "
    "do_not_disturb, refuses_template, owner_staff_id, created_at, updated_at) "
    "SELECT c.id, %s, 'wecom_external', 'raw-' || c.id, '', 'following', '', false, false, 's', now(), now() "
    "FROM {customer} c ORDER BY c.id DESC LIMIT %s"
)
# Three pairs for each of the first `shared` identities, one for the others.
_RAW_RELATIONS = sql.SQL(
    "INSERT INTO {relation} (identity_id, staff_userid, state, half, remark, description, remark_mobiles, "
    "remark_corp_name, tags, add_way, channel_state, added_at, last_interaction_at, state_changed_at, created_at, updated_at) "
    "SELECT i.id, 's' || k, 'active', false, '', '', '[]', '', '[]', 0, '', now(), now(), now(), now(), now() "
    "FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {identity} WHERE account_id = %s) i "
    "CROSS JOIN generate_series(1, 3) k WHERE k = 1 OR i.rn <= %s"
)
_IMPORTED_CUSTOMERS = sql.SQL(
    "CREATE TEMP TABLE bench_wecom_customers ON COMMIT DROP AS SELECT customer_id FROM {identity} WHERE account_id = %s"
)
_DELETE_RELATIONS = sql.SQL("DELETE FROM {relation} r USING {identity} i WHERE r.identity_id = i.id AND i.account_id = %s")
_DELETE_TAGS = sql.SQL("DELETE FROM {customer_tag} WHERE customer_id IN (SELECT customer_id FROM bench_wecom_customers)")
_DELETE_IDENTITIES = sql.SQL("DELETE FROM {identity} WHERE account_id = %s")
_DELETE_UNIONIDS = sql.SQL("DELETE FROM {unionid} WHERE unionid LIKE %s")
_DELETE_CUSTOMERS = sql.SQL(
    "DELETE FROM {customer} c WHERE c.id IN (SELECT customer_id FROM bench_wecom_customers) "
    "AND NOT EXISTS (SELECT 1 FROM {identity} i WHERE i.customer_id = c.id)"
)


def _tables() -> dict[str, sql.Identifier]:
    return {
        "customer": table(Customer), "identity": table(ChannelIdentity), "unionid": table(CustomerUnionId),
        "relation": table(WeComRelation), "customer_tag": table(CustomerTag),
    }


def _raw_insert(account, n: int, shared: int) -> None:
    with rolled_back(), connection.cursor() as cursor:
        cursor.execute(render(_RAW_CUSTOMERS.format(**_tables())), [n])
        cursor.execute(render(_RAW_IDENTITIES.format(**_tables())), [account.pk, n])
        cursor.execute(render(_RAW_RELATIONS.format(**_tables())), [account.pk, shared])


def _cleanup(account, unionid_prefix: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(render(_IMPORTED_CUSTOMERS.format(**_tables())), [account.pk])
        cursor.execute(render(_DELETE_RELATIONS.format(**_tables())), [account.pk])
        cursor.execute(render(_DELETE_TAGS.format(**_tables())))
        cursor.execute(render(_DELETE_IDENTITIES.format(**_tables())), [account.pk])
        cursor.execute(render(_DELETE_UNIONIDS.format(**_tables())), [unionid_prefix + "%"])
        cursor.execute(render(_DELETE_CUSTOMERS.format(**_tables())))
    WeComStaff.objects.filter(account=account).delete()
    SyncJob.objects.filter(account=account).delete()
    account.delete()


def run(*, customers: int, stdout) -> None:
    # BENCH_WECOM_CONTACTS: a smaller corp for iterating (the goal is stated at 100,000).
    n = int(os.environ.get("BENCH_WECOM_CONTACTS") or (MAX_CONTACTS if customers >= 1000 else customers))
    server = SandboxServer("127.0.0.1", 0).start()
    tag = secrets.token_hex(4)
    unionid_prefix = f"bench-wc-{tag}-"
    account = ChannelAccount.objects.create(
        kind="wecom", name=f"bench wecom sync {tag}", app_id=f"wwbench{tag}", app_secret=secrets.token_hex(16),
        api_base_url=server.base_url, rate_limit_per_second=1000,
    )
    try:
        control = SandboxControl(server.base_url)
        control.register_app(kind="wecom", app_id=account.app_id, secret=account.app_secret, auto_report=False)
        started = time.perf_counter()
        staff, pairs = _populate(control, account.app_id, n, f"wm{tag}_", unionid_prefix)
        say(stdout, f"sandbox corp: {n:,} contacts, {int(n * SHARED_SHARE):,} shared by 3 of {STAFF} staff members, "
                    f"{pairs:,} pairs ({time.perf_counter() - started:.1f} s, not counted)")

        started = time.perf_counter()
        fetched = _fetch_only(account, staff)
        fetch_seconds = time.perf_counter() - started

        started = time.perf_counter()
        _raw_insert(account, n, int(n * SHARED_SHARE))
        insert_seconds = time.perf_counter() - started

        job = SyncJob.objects.create(account=account, kind="wecom_contacts")
        control_calls_before = len(control.requests(app_id=account.app_id))
        started = time.perf_counter()
        while True:
            result = sync_job_run(job_id=job.pk)
            if result.status in ("done", "failed"):
                break
        import_seconds = time.perf_counter() - started
        imported = ChannelIdentity.objects.filter(account=account).count()
        relations = WeComRelation.objects.filter(identity__account=account, state="active").count()
        http_calls = len(control.requests(app_id=account.app_id)) - control_calls_before

        baseline = fetch_seconds + insert_seconds
        rate = n / import_seconds
        ratio = import_seconds / baseline
        say(stdout, f"contacts: {n:,} (pairs fetched {fetched:,}; imported {imported:,} identities, {relations:,} "
                    f"relationships; job {result.status}, {http_calls:,} API calls)")
        say(stdout, f"fetch only (HTTP, no DB):       {fetch_seconds:8.2f} s")
        say(stdout, f"raw INSERT … SELECT (no HTTP):  {insert_seconds:8.2f} s")
        say(stdout, f"sync job import:                {import_seconds:8.2f} s  ({rate:,.0f} contacts/s; goal ≥ {TARGET_RATE:,})")
        say(stdout, f"ratio import / (fetch + raw insert): {ratio:.2f} (goal ≤ {TARGET_RATIO})")
        if imported != n or relations != pairs or result.status != "done":
            raise RuntimeError(f"import incomplete: {imported} of {n} identities, {relations} of {pairs} pairs, job {result.status}")
    finally:
        _cleanup(account, unionid_prefix)
        server.stop()
