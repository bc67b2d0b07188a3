"""Campaign dispatch benchmark: template messages to a sandbox (a separate process, open mode) with
the rate limit lifted, from planned to sent-and-recorded, vs a raw loop of the same wechatpy calls in
the same number of processes (one) with no database work; and the worker's resident memory before and
after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import ChannelAccount
from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery
from customers.models import ChannelIdentity, EngagementEvent
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from devtools.benchmarks.common import free_port, say
from devtools.population import population_generate
from messaging.channels.clients import wechat_client
from messaging.channels.hosts import sandbox_started

DISPATCH_MESSAGES = int(os.environ.get("BENCH_DISPATCH_MESSAGES", "2000"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _start_sandbox() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "wechat_sandbox", "--host", "127.0.0.1", "--port", str(port), "--open"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                sandbox_started(base)  # our own sandbox process: its accounts may be sent to it
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("sandbox did not start")


def _bench_dispatch(*, stdout, n: int) -> None:
    proc, base = _start_sandbox()
    try:
        account = ChannelAccount.objects.create(
            kind="oa", name="bench dispatch", app_id=f"wxbenchdisp{int(time.time()) % 10**6:06d}", app_secret="bench-secret",
            api_base_url=base, rate_limit_per_second=1_000_000, daily_quota=10**9,
        )
        source = ChannelIdentity.objects.filter(kind="oa_openid", follow_state="following").order_by("id")[:n]
        rows = list(source.values_list("customer_id", "external_id"))
        customers_upsert_bulk(
            [
                CustomerUpsert(
                    customer_id=cid,
                    identities=[
                        IdentityUpsert(account_id=account.pk, kind="oa_openid", external_id=f"{ext}-d", follow_state="following")
                    ],
                )
                for cid, ext in rows
            ],
            link_unionids=False,
        )
        identities = list(ChannelIdentity.objects.filter(account=account).order_by("id"))
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
        say(
            stdout,
            f"dispatch: {sent:,}/{len(identities):,} template messages sent and recorded in {elapsed:.2f} s = {rate:,.0f}/s "
            f"(1 process; goal ≥ 500/s); raw wechatpy loop {raw_rate:,.0f}/s; ratio {rate / raw_rate:.2f} (goal ≥ 0.5)"
        )
        say(stdout, f"worker RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after dispatch ({rss_after - rss_before:+.1f} MB)")
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
    population_generate(customers=customers, log=stdout.write)
    _bench_dispatch(stdout=stdout, n=min(DISPATCH_MESSAGES, customers))
