"""Customer-service inbox benchmark (issue 16): the inbox's reads with 100,000 conversations (the
conversations API page the inbox page polls, one conversation with its window, the console inbox page
and the conversations table) as server time of real requests (Django's test client, logged in), and
replies reaching the sandbox (an in-process SandboxServer) from the call to WeChat's answer, p50 /
p99 over BENCH_INBOX_REPLIES replies.

Goals: the inbox page and its reads ≤ 300 ms; a reply reaches the sandbox in ≤ 1 s p99.
The conversations are inserted set-based for the bench population's service-account identities and
removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ChannelAccount
from customers.models import ChannelIdentity, Customer
from devtools.benchmarks.common import say
from devtools.population import BENCH_APP_IDS
from messaging.inbox.models import Conversation, ConversationMessage
from messaging.inbox.services import Reply, conversation_reply
from messaging.sandbox.control import SandboxControl
from messaging.sandbox.server import SandboxServer
from scrm.sqltools import render, table

CONVERSATIONS = int(os.environ.get("BENCH_INBOX_CONVERSATIONS", "100000"))
REPLIES = int(os.environ.get("BENCH_INBOX_REPLIES", "200"))
RUNS = 5
BENCH_USER = "bench-inbox"

_FILL = """
    INSERT INTO {conversation} (account_id, customer_id, identity_id, state, source, opened_at, awaiting_since,
                                last_message_at, last_preview)
    SELECT i.account_id, i.customer_id, i.id, (ARRAY['open','waiting','resolved'])[1 + (i.id %% 3)], 'message',
           now() - (i.id %% 1000) * interval '1 minute', CASE WHEN i.id %% 3 = 0 THEN now() - (i.id %% 30) * interval '1 minute' END,
           now() - (i.id %% 1000) * interval '1 minute', '在吗？我的订单 ' || i.id
    FROM {identity} i WHERE i.account_id = %(account)s
    ORDER BY i.id LIMIT %(n)s
    ON CONFLICT DO NOTHING
"""


def _ms(times: list[float]) -> str:
    return f"min {min(times):6.1f}  median {statistics.median(times):6.1f}  max {max(times):6.1f} ms"


def _timed_get(client: Client, url: str) -> list[float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return times


def _reads(stdout, account_id: int) -> None:
    from psycopg import sql

    with connection.cursor() as cursor:
        cursor.execute(render(sql.SQL(_FILL).format(conversation=table(Conversation), identity=table(ChannelIdentity))),
                       {"account": account_id, "n": CONVERSATIONS})
    cursor_count = Conversation.objects.filter(account_id=account_id).count()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Conversation._meta.db_table}")
    say(stdout, f"conversations: {cursor_count:,}")
    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    some = Conversation.objects.filter(account_id=account_id).order_by("-last_message_at").first()
    for label, url in (
        ("API list (open, newest first)", "/api/v1/conversations/?state=open"),
        ("API list (all)", "/api/v1/conversations/"),
        ("API one conversation + window", f"/api/v1/conversations/{some.pk}/"),
        ("console inbox page", "/admin/messaging/conversation/inbox/"),
        ("console conversations table", "/admin/messaging/conversation/"),
    ):
        times = _timed_get(client, url)
        verdict = "ok" if statistics.median(times) <= 300 else "OVER 300 ms"
        say(stdout, f"{label:34} {_ms(times)}  [{verdict}]")


def _replies(stdout) -> None:
    server = SandboxServer("127.0.0.1", 0).start()
    tag = secrets.token_hex(4)
    account = ChannelAccount.objects.create(kind="oa", name=f"bench inbox {tag}", app_id=f"wxinbox{tag}", app_secret=secrets.token_hex(16),
                                            api_base_url=server.base_url, rate_limit_per_second=1_000_000)
    try:
        control = SandboxControl(server.base_url)
        control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
        openids = control.add_followers(account.app_id, REPLIES)
        now = timezone.now()
        conversations = []
        for openid in openids:
            control.set_interaction(account.app_id, openid)
            customer = Customer.objects.create(display_name="bench")
            identity = ChannelIdentity.objects.create(customer=customer, account=account, kind="oa_openid", external_id=openid,
                                                      follow_state="following", last_interaction_at=now, cs_window_kind="message")
            conversations.append(Conversation.objects.create(account=account, customer=customer, identity=identity, opened_at=now, last_message_at=now))
        times = []
        for n, conversation in enumerate(conversations):
            started = time.perf_counter()
            message = conversation_reply(conversation_id=conversation.pk, operator=None, reply=Reply(kind="text", text="您好"), idempotency_key=f"bench-{n}")
            times.append((time.perf_counter() - started) * 1000)
            if message.status != "sent":
                raise RuntimeError(f"reply {n} {message.status} {message.reason}")
        reached = len(control.sent_messages(app_id=account.app_id, api="custom"))
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        say(stdout, f"replies: {len(times)} reached the sandbox {reached}; p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms "
                    f"[{'ok' if p99 <= 1000 else 'OVER 1 s'}]")
    finally:
        ConversationMessage.objects.filter(conversation__account=account).delete()
        Conversation.objects.filter(account=account).delete()
        Customer.objects.filter(identities__account=account).delete()
        account.delete()
        server.stop()


def run(*, customers: int, stdout) -> None:
    account_id = ChannelAccount.objects.filter(kind="oa", app_id=BENCH_APP_IDS["oa"]).values_list("pk", flat=True).first()
    try:
        if account_id is None:
            say(stdout, "no bench service account: the reads are skipped")
        else:
            _reads(stdout, account_id)
        _replies(stdout)
    finally:
        if account_id is not None:
            ConversationMessage.objects.filter(conversation__account_id=account_id).delete()
            Conversation.objects.filter(account_id=account_id).delete()
