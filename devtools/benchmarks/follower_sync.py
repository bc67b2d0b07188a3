"""Follower import benchmark: a sandbox service account with up to 100,000 followers imported by
the sync job (user/get pages, batchget 100 at a time, set-based inserts), against two baselines:
fetching the same pages over HTTP without touching the database, and inserting the same number of
customers + identities with one raw INSERT … SELECT each. The ratio compares the import with the
sum of the two: the import cannot beat fetching plus inserting, and it also reads back what it
inserted, links unionids and commits page by page with its cursor (measured 3.5–4.7 on the shared
2-core development machine, ~2,000 followers/s).
"""

from __future__ import annotations

import secrets
import time

from django.db import connection, transaction
from psycopg import sql

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer, CustomerUnionId
from devtools.benchmarks.common import rolled_back
from messaging.channels.clients import build_client
from messaging.channels.models import SyncJob
from messaging.channels.sync import USER_INFO_BATCH, sync_job_run
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer
from scrm.sqltools import render, table

MAX_FOLLOWERS = 100_000


def _fetch_only(account) -> int:
    client = build_client(account)
    next_openid, fetched = None, 0
    while True:
        page = client.user.get_followers(next_openid)
        openids = (page.get("data") or {}).get("openid") or []
        if not openids:
            return fetched
        for start in range(0, len(openids), USER_INFO_BATCH):
            fetched += len(client.user.get_batch(openids[start : start + USER_INFO_BATCH]))
        next_openid = page.get("next_openid")


# The baseline: the same number of customers + identities inserted with one statement each.
_RAW_CUSTOMERS_INSERT = sql.SQL(
    "INSERT INTO {customer} (display_name, avatar_url, gender, city, province, country, language, timezone, "
    "phone, phone_hash, attributes, source, first_seen_at, created_at, updated_at) "
    "SELECT '', '', 0, '', '', '', 'zh_CN', '', '', '', '{{}}', '', now(), now(), now() FROM generate_series(1, %s)"
)
_RAW_IDENTITIES_INSERT = sql.SQL(
    "INSERT INTO {identity} (customer_id, account_id, kind, external_id, unionid, follow_state, subscribe_scene, "
    "do_not_disturb, refuses_template, owner_staff_id, created_at, updated_at) "
    "SELECT c.id, %s, 'oa_openid', 'raw-' || c.id, '', 'following', '', false, false, '', now(), now() "
    "FROM {customer} c ORDER BY c.id DESC LIMIT %s"
)
# Cleanup of what the sync job imported (the benchmark's own account, unionids and customers).
_IMPORTED_CUSTOMERS = sql.SQL(
    "CREATE TEMP TABLE bench_sync_customers ON COMMIT DROP AS SELECT customer_id FROM {identity} WHERE account_id = %s"
)
_DELETE_IDENTITIES = sql.SQL("DELETE FROM {identity} WHERE account_id = %s")
_DELETE_UNIONIDS = sql.SQL("DELETE FROM {unionid} WHERE unionid LIKE %s")
_DELETE_CUSTOMERS = sql.SQL(
    "DELETE FROM {customer} c WHERE c.id IN (SELECT customer_id FROM bench_sync_customers) "
    "AND NOT EXISTS (SELECT 1 FROM {identity} i WHERE i.customer_id = c.id)"
)


def _tables() -> dict[str, sql.Identifier]:
    return {"customer": table(Customer), "identity": table(ChannelIdentity), "unionid": table(CustomerUnionId)}


def _raw_insert(account, n: int) -> None:
    with rolled_back(), connection.cursor() as cursor:
        cursor.execute(render(_RAW_CUSTOMERS_INSERT.format(**_tables())), [n])
        cursor.execute(render(_RAW_IDENTITIES_INSERT.format(**_tables())), [account.pk, n])


def _cleanup(account, unionid_prefix: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(render(_IMPORTED_CUSTOMERS.format(**_tables())), [account.pk])
        cursor.execute(render(_DELETE_IDENTITIES.format(**_tables())), [account.pk])
        cursor.execute(render(_DELETE_UNIONIDS.format(**_tables())), [unionid_prefix + "%"])
        cursor.execute(render(_DELETE_CUSTOMERS.format(**_tables())))
    SyncJob.objects.filter(account=account).delete()
    account.delete()


def run(*, customers: int, stdout) -> None:
    n = min(customers, MAX_FOLLOWERS)
    server = SandboxServer("127.0.0.1", 0).start()
    tag = secrets.token_hex(4)
    unionid_prefix = f"bench-{tag}-"
    account = ChannelAccount.objects.create(
        kind="oa",
        name=f"bench sync {tag}",
        app_id=f"wxbench{tag}",
        app_secret=secrets.token_hex(16),
        api_base_url=server.base_url,
    )
    try:
        control = SandboxControl(server.base_url)
        control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
        control.add_followers(account.app_id, n, unionid_prefix=unionid_prefix)

        started = time.perf_counter()
        fetched = _fetch_only(account)
        fetch_seconds = time.perf_counter() - started

        started = time.perf_counter()
        _raw_insert(account, n)
        insert_seconds = time.perf_counter() - started

        job = SyncJob.objects.create(account=account, kind="oa_followers")
        started = time.perf_counter()
        while True:
            result = sync_job_run(job_id=job.pk)
            if result.status in ("done", "failed"):
                break
        import_seconds = time.perf_counter() - started
        imported = ChannelIdentity.objects.filter(account=account).count()
        http_calls = len(control.requests(app_id=account.app_id))

        baseline = fetch_seconds + insert_seconds
        stdout.write(
            f"followers: {n:,} (fetched {fetched:,}, imported {imported:,}, job {result.status}, {http_calls:,} API calls)"
        )
        stdout.write(f"fetch only (HTTP, no DB):       {fetch_seconds:8.2f} s")
        stdout.write(f"raw INSERT … SELECT (no HTTP):  {insert_seconds:8.2f} s")
        stdout.write(
            f"sync job import:                {import_seconds:8.2f} s  ({n / import_seconds:,.0f} followers/s)"
        )
        stdout.write(f"ratio import / (fetch + raw insert): {import_seconds / baseline:.2f}")
        if imported != n or result.status != "done":
            raise RuntimeError(f"import incomplete: {imported} of {n}, job {result.status}")
    finally:
        _cleanup(account, unionid_prefix)
        server.stop()
