"""Writes on customers' tags: set-based assignment and removal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Customer, CustomerTag, Tag, TagGroup, TagSource


def tags_assign_bulk(
    *, tag_ids: Iterable[int], customers: QuerySet[Customer] | Iterable[int], source: str = TagSource.MANUAL
) -> int:
    """Assign tags to many customers with one INSERT … SELECT per tag; returns rows added."""
    customer_sql, customer_params = _customer_id_subquery(customers)
    now = timezone.now()
    added = 0
    table = CustomerTag._meta.db_table
    with connection.cursor() as cursor:
        for tag_id in tag_ids:
            cursor.execute(
                f"INSERT INTO {table} (customer_id, tag_id, source, assigned_at) "
                # "WHERE TRUE" lets SQLite parse ON CONFLICT after INSERT … SELECT.
                f"SELECT c.id, %s, %s, %s FROM ({customer_sql}) AS c WHERE TRUE "
                f"ON CONFLICT (customer_id, tag_id) DO NOTHING",
                [tag_id, source, now, *customer_params],
            )
            added += max(cursor.rowcount, 0)
    return added


def tags_unassign_bulk(*, tag_ids: Iterable[int], customers: QuerySet[Customer] | Iterable[int]) -> int:
    """Remove tags from many customers with one DELETE; returns rows removed."""
    if isinstance(customers, QuerySet):
        selection = CustomerTag.objects.filter(customer__in=customers.values("id"))
    else:
        selection = CustomerTag.objects.filter(customer_id__in=list(customers))
    deleted, _ = selection.filter(tag_id__in=list(tag_ids)).delete()
    return deleted


def _customer_id_subquery(customers: QuerySet[Customer] | Iterable[int]) -> tuple[str, list[Any]]:
    if isinstance(customers, QuerySet):
        query = customers.order_by().values("id").query
        sql, params = query.sql_with_params()
        return sql, list(params)
    ids = [int(pk) for pk in customers]
    table = Customer._meta.db_table
    if not ids:
        return f"SELECT id FROM {table} WHERE 1 = 0", []
    return f"SELECT id FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids


def tag_ensure(*, group_name: str, name: str) -> Tag:
    """The tag `name` in the group `group_name`, both created when missing (safe under concurrency)."""
    group, _ = TagGroup.objects.get_or_create(name=group_name[:64])
    tag, _ = Tag.objects.get_or_create(group=group, name=name[:64])
    return tag


def tag_links_add_bulk(*, links: Iterable[tuple[int, int]], source: str) -> None:
    """Assign (customer id, tag id) pairs set-based; pairs already assigned stay as they are."""
    rows = [CustomerTag(customer_id=customer_id, tag_id=tag_id, source=source) for customer_id, tag_id in set(links)]
    CustomerTag.objects.bulk_create(rows, batch_size=_LINK_BATCH, ignore_conflicts=True)


_LINK_BATCH = 2000
