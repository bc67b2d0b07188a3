"""Benchmark of the engagement write path (`python manage.py bench --only engagement`).

For up to SAMPLE_CUSTOMERS fresh customers (the write path's cost is per event, so a sample of the
population measures it; building a million Python objects would only measure Python) it records one push and, for a third of them, a topic click, then folds
them into profiles; figures are compared with a raw `bulk_create` of the same events (the floor).
Everything runs in a transaction that is rolled back.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from customers.engagement.services import APPLY_BATCH_SIZE, engagement_events_apply, engagement_profiles_recompute
from customers.models import EngagementEvent
from customers.services import events_record_bulk
from customers.services.bulk import CustomerUpsert, customers_upsert_bulk
from devtools.benchmarks.common import rolled_back

SAMPLE_CUSTOMERS = 50_000


def run(*, customers: int, stdout) -> None:
    with rolled_back():
        _run(min(customers, SAMPLE_CUSTOMERS), stdout)


def _events(ids: list[int], now) -> list[dict]:
    events = [{"customer_id": c, "event_type": "push.sent", "occurred_at": now} for c in ids]
    events += [
        {"customer_id": c, "event_type": "link.click", "occurred_at": now + timedelta(minutes=5), "properties": {"topics": [1, 2]}}
        for c in ids[::3]
    ]
    return events


def _run(n: int, stdout) -> None:
    now = timezone.now()
    ids = customers_upsert_bulk([CustomerUpsert(values={"display_name": f"bench {i}"}) for i in range(n)]).customer_ids
    events = _events(ids, now)

    with rolled_back():
        started = time.perf_counter()
        EngagementEvent.objects.bulk_create([EngagementEvent(**e) for e in events], batch_size=5000)
        raw = time.perf_counter() - started

    started = time.perf_counter()
    new_ids = events_record_bulk(events)
    bulk = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, len(new_ids), APPLY_BATCH_SIZE):
        engagement_events_apply(event_ids=new_ids[start : start + APPLY_BATCH_SIZE])
    apply = time.perf_counter() - started

    started = time.perf_counter()
    engagement_profiles_recompute(customer_ids=ids)
    full = time.perf_counter() - started

    m = len(events)
    stdout.write(f"engagement: {m} events for {n} customers\n")
    stdout.write(f"  raw bulk_create (baseline)   {raw:8.2f}s  {m / raw:10.0f} events/s\n")
    stdout.write(f"  events_record_bulk           {bulk:8.2f}s  {m / bulk:10.0f} events/s  ×{bulk / raw:.2f} of baseline\n")
    stdout.write(f"  incremental apply (analytics){apply:8.2f}s  {m / apply:10.0f} events/s  ×{apply / raw:.2f} of baseline\n")
    stdout.write(f"  full recompute               {full:8.2f}s  {n / full:10.0f} customers/s\n")
