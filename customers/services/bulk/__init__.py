"""The one bulk writer of customers and their channel identities: CSV import, follower / contact
sync and the synthetic population all upsert through `customers_upsert_bulk`.

On PostgreSQL rows are staged with COPY and applied set-based (`postgres.py`); the embedded SQLite
database gets the same outcome row by row (`embedded.py`). Idempotent on (account, kind,
external_id): repeating a call creates nothing new, and a concurrent writer that created an
identity first wins (the customer this call made for it is removed again).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from customers.services.bulk.embedded import upsert_row_by_row
from customers.services.bulk.postgres import upsert_set_based
from customers.services.bulk.rows import CustomerUpsert, IdentityUpsert, UpsertResult

__all__ = ["CustomerUpsert", "IdentityUpsert", "UpsertResult", "customers_upsert_bulk"]


@transaction.atomic
def customers_upsert_bulk(
    rows: Sequence[CustomerUpsert],
    *,
    overwrite: bool = False,
    refresh_follow: bool = False,
    link_unionids: bool = True,
) -> UpsertResult:
    """Create or update customers with their identities and unionids, set-based.

    overwrite: given values replace an existing customer's (a CSV file wins); otherwise an existing
      customer is left as it is (WeChat's data never overwrites).
    refresh_follow: an existing identity is marked following as of now (the platform lists it),
      unless an unfollow newer than this call is recorded.
    link_unionids: record unionid owners (CustomerUnionId) and merge customers who turn out to be
      one person, as identity resolution does; off for synthetic data with no owners.
    """
    if not rows:
        return UpsertResult(customer_ids=[], customers_created=0, identities_created=0)
    write = upsert_set_based if connection.vendor == "postgresql" else upsert_row_by_row
    return write(
        rows, overwrite=overwrite, refresh_follow=refresh_follow, link_unionids=link_unionids, now=timezone.now()
    )
