"""Each delivery's variant, by a stable hash of (campaign, customer): the same customer always gets
the same variant of a campaign (a re-plan or a retry changes nothing), and the hash is independent
of the holdout's.

u = the first 32 bits of md5("<campaign>:v:<customer>") / 2^32, uniform in [0, 1).
- split: variant = floor(u · n); everyone is in the test.
- cells: bucket = floor(u · 10,000); bucket < n · cell% · 100 → a test cell, variant = bucket ÷
  (cell% · 100); the others are the rest, held (send_after far ahead, no variant) until the
  decision gives them the winner.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg import sql

from campaigns.models import Campaign, Delivery
from campaigns.variants.models import VariantTest, VariantTestMode, VariantTestState
from scrm.sqltools import render, table

# The rest of a cells-mode test waits for the decision with this send_after.
HELD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
BUCKETS = 10_000

# Params: campaign, salt, n, cells (bool), cell_buckets, held_until.
ASSIGN = sql.SQL(
    """
    WITH hashed AS (
        SELECT id, ('x' || substr(md5(%(salt)s || customer_id::text), 1, 8))::bit(32)::bigint AS h
        FROM {delivery} WHERE campaign_id = %(campaign)s AND state = 'planned'
    ), placed AS (
        SELECT id,
               CASE WHEN NOT %(cells)s THEN (h * %(n)s) >> 32
                    WHEN (h * {buckets}) >> 32 < %(n)s * %(cell_buckets)s THEN ((h * {buckets}) >> 32) / %(cell_buckets)s
               END AS variant
        FROM hashed
    )
    UPDATE {delivery} d
    SET variant = p.variant, variant_test_cell = p.variant IS NOT NULL,
        send_after = CASE WHEN p.variant IS NULL THEN %(held_until)s ELSE d.send_after END
    FROM placed p WHERE d.id = p.id
    """
).format(delivery=table(Delivery), buckets=sql.Literal(BUCKETS))


def _salt(campaign: Campaign) -> str:
    # Recurring runs share their template's assignment, like the holdout.
    return f"{campaign.parent_id or campaign.pk}:v:"


def variant_of(*, campaign: Campaign, customer_id: int, test: VariantTest) -> int | None:
    """The variant the SQL assigns to one customer (None: the rest of a cells test)."""
    # md5 as PostgreSQL computes it in ASSIGN: a stable spread, not a secret.
    h = int(hashlib.md5((_salt(campaign) + str(customer_id)).encode(), usedforsecurity=False).hexdigest()[:8], 16)
    if test.mode == VariantTestMode.SPLIT:
        return (h * test.variant_count) >> 32
    bucket = (h * BUCKETS) >> 32
    cell = test.cell_percent * BUCKETS // 100
    return bucket // cell if bucket < test.variant_count * cell else None


def variant_test_settings(content: dict[str, Any]) -> dict[str, Any]:
    """The test's settings from the campaign's content (`variant_test`), with the defaults."""
    given = content.get("variant_test") or {}
    return {
        "mode": given.get("mode") or VariantTestMode.SPLIT,
        "variant_count": len(content.get("variants") or []),
        "cell_percent": int(given.get("cell_percent") or 10),
        "wait_minutes": int(given.get("wait_minutes") or 24 * 60),
        "min_sample": int(given.get("min_sample") if given.get("min_sample") is not None else 100),
        "threshold": float(given.get("threshold") or 0.95),
    }


def variant_test_prepare(*, campaign: Campaign) -> VariantTest | None:
    """The campaign's VariantTest row as its content describes it (written when it is planned)."""
    content = campaign.content or {}
    if not content.get("variants"):
        VariantTest.objects.filter(campaign=campaign, state=VariantTestState.TESTING).delete()
        return None
    settings = variant_test_settings(content)
    decide_at = timezone.now() + timedelta(minutes=settings["wait_minutes"])
    test, _created = VariantTest.objects.update_or_create(campaign=campaign, defaults={**settings, "decide_at": decide_at})
    return test


def variants_assign(*, campaign: Campaign) -> None:
    """Give the campaign's planned deliveries their variants (inside the planning transaction)."""
    test = variant_test_prepare(campaign=campaign)
    if test is None or test.state != VariantTestState.TESTING:
        return
    with connection.cursor() as cursor:
        cursor.execute(render(ASSIGN), {
            "campaign": campaign.pk, "salt": _salt(campaign), "n": test.variant_count,
            "cells": test.mode == VariantTestMode.CELLS, "cell_buckets": test.cell_percent * BUCKETS // 100,
            "held_until": HELD_UNTIL,
        })
