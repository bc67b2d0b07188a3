import random

import pytest
from django.db import connection

from customers.engagement.holdout import BUCKETS, holdout_bucket, holdout_bucket_sql, is_held_out


def test_holdout_assignment_is_the_same_in_every_process_and_release():
    # Pinned values (MD5 of "<campaign>:<customer>"): a re-plan, another worker process or a new
    # release holds out exactly the customers it held out before.
    assert [holdout_bucket(7, c) for c in range(1, 9)] == [2950, 4357, 9001, 9308, 6529, 4437, 2172, 2893]
    assert holdout_bucket(123456, 987654321) == 3595


def test_holdout_share_is_unbiased_and_independent_between_campaigns():
    customers = range(1, 40_001)
    held_a = {c for c in customers if is_held_out(campaign_id=11, customer_id=c, holdout_percent=10)}
    held_b = {c for c in customers if is_held_out(campaign_id=12, customer_id=c, holdout_percent=10)}
    # 10 % of 40 000 = 4000, binomial sd = 60: allow 4 sd.
    assert abs(len(held_a) - 4000) < 240
    assert abs(len(held_b) - 4000) < 240
    # Independent campaigns: overlap ≈ 1 % of customers (400, sd ≈ 20).
    assert abs(len(held_a & held_b) - 400) < 80
    # No bias by id parity or id range (what a naive "id % 10" or sequential split would have).
    even = sum(1 for c in held_a if c % 2 == 0)
    assert abs(even - len(held_a) / 2) < 4 * (len(held_a) ** 0.5) / 2
    low = sum(1 for c in held_a if c <= 20_000)
    assert abs(low - len(held_a) / 2) < 4 * (len(held_a) ** 0.5) / 2


def test_buckets_are_uniform():
    counts = [0] * 10
    for c in range(50_000):
        counts[holdout_bucket(3, c) * 10 // BUCKETS] += 1
    chi2 = sum((n - 5000) ** 2 / 5000 for n in counts)
    assert chi2 < 27.9  # p = 0.001 for 9 degrees of freedom


@pytest.mark.django_db
def test_sql_bucket_equals_python_bucket():
    pairs = [(random.randint(1, 10**6), random.randint(1, 10**9)) for _ in range(200)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {holdout_bucket_sql('c', 'u')} FROM unnest(%s::bigint[], %s::bigint[]) AS t(c, u)",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
        sql_buckets = [row[0] for row in cursor.fetchall()]
    assert sql_buckets == [holdout_bucket(c, u) for c, u in pairs]
