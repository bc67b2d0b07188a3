"""Campaign benchmark (`make bench`).

1. Planning a marketing campaign to the whole synthetic population with every policy check (snapshot,
   suppressions per reason, deliveries) vs a raw `INSERT … SELECT` of the same audience with only the
   frequency-cap filter. Both run in transactions that are rolled back, so the population is reusable.
2. Template dispatch to a sandbox (a separate process, open mode) with the rate limit lifted, from
   planned to sent-and-recorded, vs a raw loop of the same wechatpy calls in the same number of
   processes (one) with no database work; and the worker's resident memory before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery
from campaigns.planning import campaign_plan_audience
from customers.segments.services import segment_create, segment_snapshot_create
from devtools.population import population_generate, vacuum_analyze
from accounts.models import ChannelAccount

HISTORY_CAMPAIGN_PREFIX = "bench-history"
DISPATCH_MESSAGES = int(os.environ.get("BENCH_DISPATCH_MESSAGES", "2000"))


class _Rollback(Exception):
    pass


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _history(account_id: int) -> int:
    """Delivery history for the frequency caps, from the population's push.sent events of the last 8 days."""
    if Delivery.objects.filter(campaign__name__startswith=HISTORY_CAMPAIGN_PREFIX).exists():
        return Delivery.objects.filter(campaign__name__startswith=HISTORY_CAMPAIGN_PREFIX).count()
    days = []
    for day in range(8):
        days.append(
            Campaign.objects.create(
                name=f"{HISTORY_CAMPAIGN_PREFIX}-{day}", account_id=account_id, message_type="mass", state=CampaignState.COMPLETED
            ).pk
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (campaign_id, customer_id, identity_id, account_id, state, is_marketing, batch_key, attempts, msgid,
                 error_code, error_message, sent_at, created_at, updated_at)
            SELECT (%(days)s::bigint[])[1 + floor(extract(epoch FROM now() - e.occurred_at) / 86400)::int],
                   e.customer_id, NULL, %(account)s, 'sent', true, '', 1, '', '', '', e.occurred_at, now(), now()
            FROM customers_engagementevent e
            WHERE e.event_type = 'push.sent' AND e.occurred_at > now() - interval '8 days'
            ON CONFLICT (campaign_id, customer_id) DO NOTHING
            """,
            {"days": days, "account": account_id},
        )
        count = cursor.rowcount
    return count


def _say(stdout, text: str) -> None:
    stdout.write(text)
    getattr(stdout, "flush", lambda: None)()


def _bench_planning(*, stdout, account: ChannelAccount, segment) -> None:
    campaign = Campaign.objects.create(
        name="bench-plan", account=account, message_type="mass", priority_class="marketing", content={"text": "Bench"},
        segment_id=segment.pk, holdout_percent=5, policy_overrides={"quiet_start": None, "quiet_end": None},
    )
    timings: dict[str, float] = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            snapshot = segment_snapshot_create(segment=segment)
            timings["snapshot"] = time.perf_counter() - started
            result = campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
            timings["plan"] = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                f"""
                INSERT INTO {Delivery._meta.db_table}
                    (campaign_id, customer_id, identity_id, account_id, state, send_after, is_marketing, batch_key,
                     attempts, msgid, error_code, error_message, created_at, updated_at)
                SELECT %(campaign)s, c.id, i.id, %(account)s, 'planned', now(), true, '', 0, '', '', '', now(), now()
                FROM customers_customer c
                JOIN customers_channelidentity i ON i.customer_id = c.id AND i.account_id = %(account)s AND i.follow_state = 'following'
                WHERE c.erased_at IS NULL
                  AND (SELECT count(*) FROM {Delivery._meta.db_table} d WHERE d.customer_id = c.id AND d.is_marketing
                       AND d.sent_at > now() - interval '7 days') < 3
                ON CONFLICT (campaign_id, customer_id) DO NOTHING
                """,
                {"campaign": campaign.pk, "account": account.pk},
            )
            raw_rows = cursor.rowcount
            timings["raw"] = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    campaign.delete()
    suppressed = ", ".join(f"{k} {v:,}" for k, v in sorted(result.suppressed.items(), key=lambda kv: -kv[1]))
    _say(
        stdout,
        f"planning: audience {result.audience:,}, planned {result.planned:,} in {timings['plan']:.2f} s "
        f"(snapshot {timings['snapshot']:.2f} s); suppressed: {suppressed}"
    )
    _say(
        stdout,
        f"raw INSERT … SELECT with the 7-day cap: {raw_rows:,} rows in {timings['raw']:.2f} s; "
        f"ratio planning/raw = {timings['plan'] / max(timings['raw'], 1e-6):.2f} (goal ≤ 2.0, and ≤ 30 s at 1M)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_sandbox() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "wechat_sandbox", "--host", "127.0.0.1", "--port", str(port), "--open"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("sandbox did not start")


def _bench_dispatch(*, stdout, n: int) -> None:
    from customers.models import ChannelIdentity, EngagementEvent
    from messaging.channels.clients import wechat_client

    proc, base = _start_sandbox()
    try:
        account = ChannelAccount.objects.create(
            kind="oa", name="bench dispatch", app_id=f"wxbenchdisp{int(time.time()) % 10**6:06d}", app_secret="bench-secret",
            api_base_url=base, rate_limit_per_second=1_000_000, daily_quota=10**9,
        )
        source = ChannelIdentity.objects.filter(kind="oa_openid", follow_state="following").order_by("id")[:n]
        rows = list(source.values_list("customer_id", "external_id"))
        identities = ChannelIdentity.objects.bulk_create(
            [ChannelIdentity(customer_id=cid, account=account, kind="oa_openid", external_id=f"{ext}-d", follow_state="following")
             for cid, ext in rows]
        )
        campaign = Campaign.objects.create(
            name="bench-dispatch", account=account, message_type="template", priority_class="transactional", state=CampaignState.SENDING,
            policy_overrides={"quiet_start": None, "quiet_end": None},
            content={"template_id": "TPL-bench", "template_keys": ["first"], "fields": {"first": "Hi {{ customer.display_name }}"}},
        )
        Delivery.objects.bulk_create(
            [Delivery(campaign=campaign, customer_id=i.customer_id, identity=i, account=account, state="planned",
                      send_after=timezone.now() - timedelta(seconds=1), is_marketing=False) for i in identities],
            batch_size=5000,
        )
        rss_before = _rss_mb()
        started = time.perf_counter()
        while True:
            result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=600)
            if result.requeue_in is None or time.perf_counter() - started > 300:
                break
            time.sleep(min(result.requeue_in, 5))
        elapsed = time.perf_counter() - started
        rss_after = _rss_mb()
        sent = Delivery.objects.filter(campaign=campaign, state="sent").count()
        client = wechat_client(account)
        openids = [i.external_id for i in identities]
        raw_started = time.perf_counter()
        for index, openid in enumerate(openids):
            client.post("message/template/send", data={
                "touser": openid, "template_id": "TPL-bench", "client_msg_id": f"raw-{index}",
                "data": {"first": {"value": "Hi"}},
            })
        raw_elapsed = time.perf_counter() - raw_started
        rate, raw_rate = sent / elapsed, len(openids) / raw_elapsed
        _say(
            stdout,
            f"dispatch: {sent:,}/{len(identities):,} template messages sent and recorded in {elapsed:.2f} s = {rate:,.0f}/s "
            f"(1 process; goal ≥ 500/s); raw wechatpy loop {raw_rate:,.0f}/s; ratio {rate / raw_rate:.2f} (goal ≥ 0.5)"
        )
        _say(stdout, f"worker RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after dispatch ({rss_after - rss_before:+.1f} MB)")
        # The push.sent events dispatch recorded would otherwise pile up in the reusable population.
        EngagementEvent.objects.filter(campaign_id=campaign.pk).delete()
        Delivery.objects.filter(campaign=campaign).delete()
        campaign.delete()
        ChannelIdentity.objects.filter(account=account).delete()
        account.delete()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(*, customers: int, stdout) -> None:
    info = population_generate(customers=customers, log=stdout.write)
    account = ChannelAccount.objects.get(pk=info.accounts["oa"])
    history = _history(account.pk)
    _say(stdout, f"delivery history for the caps: {history:,} rows")
    # A first run has just written the history.
    vacuum_analyze(Delivery._meta.db_table)
    segment = segment_create(name=f"bench-campaign-all-{int(time.time())}", rule={"all": []})
    try:
        _bench_planning(stdout=stdout, account=account, segment=segment)
    finally:
        segment.delete()
    _bench_dispatch(stdout=stdout, n=min(DISPATCH_MESSAGES, customers))
