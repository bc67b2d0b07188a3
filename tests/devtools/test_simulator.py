import random
from datetime import UTC, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from campaigns.models import Campaign
from customers.models import Customer, EngagementEvent
from devtools.simulator import (
    Person,
    SimClock,
    SimParams,
    build_audience,
    click_probability,
    install_db_clock,
    next_session,
    notice_probability,
    restore_search_path,
)


def test_audience_is_deterministic_for_a_seed_and_follows_the_parameters():
    params = SimParams(customers=200, topics=5, seed=3, reading_hours="9:1,20:3")
    a, b = build_audience(params), build_audience(params)
    assert a == b
    assert all(1 <= len(p.interests) <= 2 and p.interests <= set(range(5)) for p in a)
    assert {p.reading_hour for p in a} == {9, 20}
    assert sum(p.reading_hour == 20 for p in a) > sum(p.reading_hour == 9 for p in a)
    assert all(params.patience_min <= p.patience <= params.patience_max for p in a)


def test_a_push_is_seen_at_the_next_reading_session_and_buried_pushes_fade():
    params = SimParams(session_rate=1.0)
    person = Person(index=0, interests=frozenset({1}), reading_hour=20, reading_minute=30, patience=5)
    sent = datetime(2030, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    session = next_session(person, sent, random.Random(1), params).astimezone(ZoneInfo("Asia/Shanghai"))
    assert session.date() == sent.date() and 20 <= session.hour <= 21
    assert notice_probability(0, params) == 1.0
    assert notice_probability(10, params) < notice_probability(2, params)
    assert click_probability(person, 1, params) > click_probability(person, 2, params)


@pytest.mark.django_db
def test_simulated_clock_drives_database_now():
    previous = install_db_clock()
    try:
        SimClock(datetime(2031, 1, 2, 3, 4, tzinfo=UTC)).set(datetime(2031, 1, 2, 3, 4, tzinfo=UTC))
        with connection.cursor() as cursor:
            cursor.execute("SELECT now(), clock_timestamp()")
            assert cursor.fetchone() == (datetime(2031, 1, 2, 3, 4, tzinfo=UTC),) * 2
    finally:
        restore_search_path(previous)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp() < '2031-01-01'")
        assert cursor.fetchone()[0]


@pytest.mark.django_db
def test_simulate_audience_runs_both_arms_through_dispatch_and_leaves_no_trace(sandbox):
    out = StringIO()
    before = (Customer.objects.count(), Campaign.objects.count(), EngagementEvent.objects.count())

    call_command("simulate_audience", customers=40, weeks=1, warmup_days=10, seed=5, patience_min=4, sandbox_url=sandbox.base_url, stdout=out)

    text = out.getvalue()
    blast = next(line for line in text.splitlines() if line.startswith("blast "))
    steered = next(line for line in text.splitlines() if line.startswith("steered "))
    blast_pushes, blast_clicks = (int(x) for x in blast.split()[1:3])
    steered_pushes = int(steered.split()[1])
    assert blast_pushes == 40 * 3  # every campaign to the whole segment (before any unfollow)
    assert 0 < steered_pushes < blast_pushes
    assert blast_clicks > 0
    assert "goal" in text
    # The pushes really went through the sandbox.
    assert len(sandbox.control.sent_messages(api="template")) == blast_pushes + steered_pushes
    # Everything ran in one rolled-back transaction.
    assert (Customer.objects.count(), Campaign.objects.count(), EngagementEvent.objects.count()) == before
