"""Stable, unbiased holdout assignment.

A customer is held out of a campaign when ``holdout_bucket(campaign_id, customer_id) <
holdout_percent * 100``. The bucket is the first 32 bits of MD5("<campaign_id>:<customer_id>")
modulo 10 000: the same pair always lands in the same bucket (re-planning a campaign holds out the
same people), buckets are uniform (MD5's output bits are), and different campaigns hold out
independent sets (the campaign id is hashed in). MD5 is used as a mixing function, not for
security; it exists in PostgreSQL, so ``holdout_bucket_sql`` computes the same bucket set-based.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def holdout_bucket(campaign_id: int, customer_id: int) -> int:
    digest = hashlib.md5(f"{int(campaign_id)}:{int(customer_id)}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def is_held_out(*, campaign_id: int, customer_id: int, holdout_percent: float) -> bool:
    return holdout_bucket(campaign_id, customer_id) < round(holdout_percent * BUCKETS / 100)


def holdout_bucket_sql(campaign_id_sql: str, customer_id_sql: str) -> str:
    """SQL expression of holdout_bucket for two SQL expressions (e.g. "%s", "m.customer_id").

    Uses mod() rather than the % operator so the SQL is safe inside parametrised queries.
    """
    return (
        f"mod(('x' || substr(md5(({campaign_id_sql})::bigint::text || ':' || ({customer_id_sql})::bigint::text), 1, 8))"
        f"::bit(32)::bigint, {BUCKETS})"
    )


def holdout_condition_sql(campaign_id_sql: str, customer_id_sql: str, holdout_percent: float) -> str:
    """SQL condition true for held-out customers."""
    return f"{holdout_bucket_sql(campaign_id_sql, customer_id_sql)} < {round(holdout_percent * BUCKETS / 100)}"
