"""The synthetic population generator and the bench command (tiny sizes)."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.dispatch import receiver

from customers.models import ChannelIdentity, Customer, CustomerTag, EngagementEvent, EngagementProfile
from devtools.population import population_generate, population_generated

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the generator uses PostgreSQL COPY"),
]


def test_generator_writes_the_population_shape_and_reuses_it():
    seen = []

    @receiver(population_generated)
    def hook(sender, **kwargs):
        seen.append(kwargs)

    try:
        info = population_generate(customers=300, log=lambda _: None)
        again = population_generate(customers=300, log=lambda _: None)
    finally:
        population_generated.disconnect(hook)
    assert not info.reused and again.reused
    assert Customer.objects.filter(source="synthetic").count() == 300
    identities = ChannelIdentity.objects.count()
    assert 300 * 1.15 < identities < 300 * 1.45
    assert 300 * 4 < CustomerTag.objects.count() < 300 * 6.5
    assert 300 * 8 < EngagementEvent.objects.exclude(event_type="push.sent").count() < 300 * 12
    assert 300 * 2 < EngagementEvent.objects.filter(event_type="push.sent", delivery_id__isnull=False).count() < 300 * 4
    assert len(seen) == 1 and seen[0]["customers"] == 300 and seen[0]["campaign_ids"]
    # A best hour is an hour of the day (it was drawn from the 168 hours of the week).
    hours = set(EngagementProfile.objects.values_list("best_hour", flat=True))
    assert hours <= set(range(24)) and len(hours) > 12
    # A new customer after the COPY gets a fresh id (the sequence was moved past the copied ids).
    assert Customer.objects.create().pk > info.last_customer_id


def test_generator_replaces_a_population_of_another_size():
    population_generate(customers=50, log=lambda _: None)
    population_generate(customers=80, log=lambda _: None)
    assert Customer.objects.filter(source="synthetic").count() == 80


def test_bench_command_prints_figures_and_agreeing_counts():
    out = io.StringIO()
    call_command("bench", customers=200, only="segments", stdout=out)
    text = out.getvalue()
    assert "devtools.benchmarks.segments" in text
    assert "median compiled preview" in text and "snapshot of" in text
    assert "COUNT MISMATCH" not in text
