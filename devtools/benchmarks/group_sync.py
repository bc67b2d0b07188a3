"""WeCom customer-group sync benchmark: a sandbox corp with 500 groups × 200 members (the owner and
199 external members drawn from a shared pool, half of them known customers) read by `groups_sync`
(groupchat/list, groupchat/get per group, each applied as a snapshot: group upsert, member upsert,
customer links, leavers), against a baseline measured in the same run: fetching the same pages over
HTTP without touching the database, plus inserting the same groups and members with one raw
INSERT … SELECT each. Goal (issue 15): ≤ 60 s end to end.
"""

from __future__ import annotations

import secrets
import time

from django.db import connection, transaction
from psycopg import sql

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer
from customers.wecom.models import WeComGroupChat, WeComGroupMember
from devtools.benchmarks.common import rolled_back, say
from messaging.channels.clients import wecom_client
from messaging.channels.wecom_groups import LIST_LIMIT, groups_sync
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer
from scrm.sqltools import render, table

GROUPS = 500
MEMBERS = 200
OWNER = "bench_owner"


def _fetch_only(account) -> int:
    client = wecom_client(account)
    cursor, members = "", 0
    while True:
        page = client.post("externalcontact/groupchat/list", data={"status_filter": 0, "cursor": cursor, "limit": LIST_LIMIT})
        for row in page.get("group_chat_list") or []:
            detail = client.post("externalcontact/groupchat/get", data={"chat_id": row["chat_id"], "need_name": 0})
            members += len(detail["group_chat"]["member_list"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return members


def _tables() -> dict[str, sql.Identifier]:
    return {"group": table(WeComGroupChat), "member": table(WeComGroupMember), "identity": table(ChannelIdentity),
            "customer": table(Customer)}


_RAW_GROUPS = sql.SQL(
    "INSERT INTO {group} (account_id, chat_id, name, owner_userid, notice, status, member_count, created_at_wecom, synced_at) "
    "SELECT %s, 'raw-' || g, '群 ' || g, %s, '', 0, %s, now(), now() FROM generate_series(1, %s) g"
)
_RAW_MEMBERS = sql.SQL(
    "INSERT INTO {member} (group_id, member_id, member_type, unionid, customer_id, join_time, join_scene, left_at) "
    "SELECT g.id, 'raw-m-' || n, 2, '', NULL, now(), 1, NULL FROM {group} g, generate_series(1, %s) n WHERE g.account_id = %s"
)
# Half of the member pool are known customers: identities of the population's customers on this corp.
_KNOWN_MEMBERS = sql.SQL(
    "INSERT INTO {identity} (customer_id, account_id, kind, external_id, unionid, follow_state, subscribe_scene, "
    "do_not_disturb, refuses_template, owner_staff_id, created_at, updated_at) "
    "SELECT c.id, %s, 'wecom_external', %s || lpad((row_number() OVER (ORDER BY c.id) - 1)::text, 7, '0'), '', 'following', '', "
    "false, false, %s, now(), now() FROM (SELECT id FROM {customer} ORDER BY id LIMIT %s) c"
)


def _raw_insert(account, groups: int, members: int) -> None:
    with rolled_back(), connection.cursor() as cursor:
        cursor.execute(render(_RAW_GROUPS.format(**_tables())), [account.pk, OWNER, members, groups])
        cursor.execute(render(_RAW_MEMBERS.format(**_tables())), [members, account.pk])


def _cleanup(account) -> None:
    with transaction.atomic():
        WeComGroupChat.objects.filter(account=account).delete()
        ChannelIdentity.objects.filter(account=account).delete()
    account.delete()


def run(*, customers: int, stdout) -> None:
    server = SandboxServer("127.0.0.1", 0).start()
    tag = secrets.token_hex(4)
    prefix = f"wm{tag}"
    account = ChannelAccount.objects.create(
        kind="wecom", name=f"bench groups {tag}", app_id=f"wwbench{tag}", app_secret=secrets.token_hex(16), api_base_url=server.base_url,
    )
    try:
        control = SandboxControl(server.base_url, timeout=300)
        control.register_app(kind="wecom", app_id=account.app_id, secret=account.app_secret, auto_report=False)
        control.add_wecom_staff(account.app_id, OWNER)
        pool = GROUPS * (MEMBERS - 1) // 2
        control.add_group_chats(account.app_id, GROUPS, members=MEMBERS, owner=OWNER, pool=pool, external_prefix=prefix)
        known = min(pool // 2, customers)
        with connection.cursor() as cursor:
            cursor.execute(render(_KNOWN_MEMBERS.format(**_tables())), [account.pk, prefix, OWNER, known])
        say(stdout, f"group sync: {GROUPS} groups × {MEMBERS} members (pool of {pool:,} external contacts, {known:,} known customers)\n")

        started = time.perf_counter()
        fetched = _fetch_only(account)
        fetch_seconds = time.perf_counter() - started

        started = time.perf_counter()
        _raw_insert(account, GROUPS, MEMBERS)
        insert_seconds = time.perf_counter() - started

        calls_before = len(control.requests(app_id=account.app_id))
        started = time.perf_counter()
        applied = groups_sync(account)
        sync_seconds = time.perf_counter() - started
        http_calls = len(control.requests(app_id=account.app_id)) - calls_before

        stored = WeComGroupMember.objects.filter(group__account=account, left_at__isnull=True).count()
        linked = WeComGroupMember.objects.filter(group__account=account, customer__isnull=False).count()
        baseline = fetch_seconds + insert_seconds
        stdout.write(f"groups applied {applied:,}, members fetched {fetched:,}, stored {stored:,} ({linked:,} linked to customers), "
                     f"{http_calls:,} API calls")
        stdout.write(f"fetch only (HTTP, no DB):       {fetch_seconds:8.2f} s")
        stdout.write(f"raw INSERT … SELECT (no HTTP):  {insert_seconds:8.2f} s")
        stdout.write(f"groups_sync:                    {sync_seconds:8.2f} s  ({stored / sync_seconds:,.0f} members/s; goal ≤ 60 s)")
        stdout.write(f"ratio sync / (fetch + raw insert): {sync_seconds / baseline:.2f}")
        if applied != GROUPS or stored != fetched:
            raise RuntimeError(f"sync incomplete: {applied} groups, {stored} of {fetched} members")
    finally:
        _cleanup(account)
        server.stop()
