"""Campaign planning benchmark: a marketing campaign planned to the whole synthetic population with
every policy check (snapshot, suppressions per reason, deliveries) vs a raw `INSERT … SELECT` of the
same audience with only the frequency-cap filter. Both run in transactions that are rolled back, so
the population is reusable.
"""

from __future__ import annotations

import time

from django.db import connection
from psycopg import sql

from accounts.models import ChannelAccount
from campaigns.models import Campaign, CampaignState, Delivery
from campaigns.planning import campaign_plan_audience
from customers.segments.services import segment_create, segment_snapshot_create
from devtools.benchmarks.common import rolled_back, say
from devtools.population import population_generate, vacuum_analyze
from scrm.sqltools import render, table

HISTORY_CAMPAIGN_PREFIX = "bench-history"

# One synthetic campaign per day of the last 8, each sent to that day's population push.sent events.
_HISTORY_INSERT = sql.SQL(
    """
    INSERT INTO {delivery}
        (campaign_id, customer_id, identity_id, account_id, state, is_marketing, batch_key, attempts, msgid,
         error_code, error_message, sent_at, created_at, updated_at)
    SELECT (%(days)s::bigint[])[1 + floor(extract(epoch FROM now() - e.occurred_at) / 86400)::int],
           e.customer_id, NULL, %(account)s, 'sent', true, '', 1, '', '', '', e.occurred_at, now(), now()
    FROM customers_engagementevent e
    WHERE e.event_type = 'push.sent' AND e.occurred_at > now() - interval '8 days'
    ON CONFLICT (campaign_id, customer_id) DO NOTHING
    """
)

# The baseline: the same audience with only the 7-day frequency cap.
_RAW_PLAN_INSERT = sql.SQL(
    """
    INSERT INTO {delivery}
        (campaign_id, customer_id, identity_id, account_id, state, send_after, is_marketing, batch_key,
         attempts, msgid, error_code, error_message, created_at, updated_at)
    SELECT %(campaign)s, c.id, i.id, %(account)s, 'planned', now(), true, '', 0, '', '', '', now(), now()
    FROM customers_customer c
    JOIN customers_channelidentity i ON i.customer_id = c.id AND i.account_id = %(account)s AND i.follow_state = 'following'
    WHERE c.erased_at IS NULL
      AND (SELECT count(*) FROM {delivery} d WHERE d.customer_id = c.id AND d.is_marketing
           AND d.sent_at > now() - interval '7 days') < 3
    ON CONFLICT (campaign_id, customer_id) DO NOTHING
    """
)


def delivery_history_ensure(account_id: int) -> int:
    """Delivery history for the frequency caps, from the population's push.sent events of the last 8 days
    (written once; later runs reuse it). Returns its row count."""
    existing = Delivery.objects.filter(campaign__name__startswith=HISTORY_CAMPAIGN_PREFIX)
    if existing.exists():
        return existing.count()
    days = [
        Campaign.objects.create(
            name=f"{HISTORY_CAMPAIGN_PREFIX}-{day}", account_id=account_id, message_type="mass", state=CampaignState.COMPLETED
        ).pk
        for day in range(8)
    ]
    with connection.cursor() as cursor:
        cursor.execute(render(_HISTORY_INSERT.format(delivery=table(Delivery))), {"days": days, "account": account_id})
        return cursor.rowcount


def _bench_planning(*, stdout, account: ChannelAccount, segment) -> None:
    campaign = Campaign.objects.create(
        name="bench-plan", account=account, message_type="mass", priority_class="marketing", content={"text": "Bench"},
        segment_id=segment.pk, holdout_percent=5, policy_overrides={"quiet_start": None, "quiet_end": None},
    )
    timings: dict[str, float] = {}
    with rolled_back():
        started = time.perf_counter()
        snapshot = segment_snapshot_create(segment=segment)
        timings["snapshot"] = time.perf_counter() - started
        result = campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
        timings["plan"] = time.perf_counter() - started
    with rolled_back(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            render(_RAW_PLAN_INSERT.format(delivery=table(Delivery))), {"campaign": campaign.pk, "account": account.pk}
        )
        raw_rows = cursor.rowcount
        timings["raw"] = time.perf_counter() - started
    campaign.delete()
    suppressed = ", ".join(f"{k} {v:,}" for k, v in sorted(result.suppressed.items(), key=lambda kv: -kv[1]))
    say(
        stdout,
        f"planning: audience {result.audience:,}, planned {result.planned:,} in {timings['plan']:.2f} s "
        f"(snapshot {timings['snapshot']:.2f} s); suppressed: {suppressed}"
    )
    say(
        stdout,
        f"raw INSERT … SELECT with the 7-day cap: {raw_rows:,} rows in {timings['raw']:.2f} s; "
        f"ratio planning/raw = {timings['plan'] / max(timings['raw'], 1e-6):.2f} (goal ≤ 2.0, and ≤ 30 s at 1M)"
    )


def run(*, customers: int, stdout) -> None:
    info = population_generate(customers=customers, log=stdout.write)
    account = ChannelAccount.objects.get(pk=info.accounts["oa"])
    history = delivery_history_ensure(account.pk)
    say(stdout, f"delivery history for the caps: {history:,} rows")
    # A first run has just written the history.
    vacuum_analyze(Delivery._meta.db_table)
    segment = segment_create(name=f"bench-campaign-all-{int(time.time())}", rule={"all": []})
    try:
        _bench_planning(stdout=stdout, account=account, segment=segment)
    finally:
        segment.delete()
