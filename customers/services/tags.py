"""Writes on customers' tags: set-based assignment and removal."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg import sql

from customers.models import Customer, CustomerTag, Tag, TagGroup, TagSource
from scrm.sqltools import render, table

# One tag to a selection of customer ids (Django's SQL of a queryset), keeping existing assignments.
# "WHERE TRUE" lets SQLite parse ON CONFLICT after INSERT … SELECT.
_TAG_ASSIGN = sql.SQL(
    "INSERT INTO {customer_tag} (customer_id, tag_id, source, assigned_at) "
    "SELECT c.id, %s, %s, %s FROM ({selection}) AS c WHERE TRUE "
    "ON CONFLICT (customer_id, tag_id) DO NOTHING"
)


def tags_assign_bulk(
    *, tag_ids: Iterable[int], customers: QuerySet[Customer] | Iterable[int], source: str = TagSource.MANUAL
) -> int:
    """Assign tags to many customers with one INSERT … SELECT per tag; returns rows added."""
    if not isinstance(customers, QuerySet):
        customers = Customer.objects.filter(pk__in=[int(pk) for pk in customers])
    try:
        selection_sql, params = customers.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:  # e.g. an empty list of ids: nothing to assign
        return 0
    statement = render(_TAG_ASSIGN.format(customer_tag=table(CustomerTag), selection=sql.SQL(selection_sql)))
    now = timezone.now()
    added = 0
    with connection.cursor() as cursor:
        for tag_id in tag_ids:
            cursor.execute(statement, [tag_id, source, now, *params])
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


@transaction.atomic
def tag_members_replace(*, tag_id: int, customers: QuerySet[Customer], source: str = TagSource.RULE) -> tuple[int, int]:
    """Make `customers` exactly the holders of the tag (one INSERT … SELECT, one DELETE); returns
    (added, removed). For tags that mirror a selection, such as a segment behind a conditional menu."""
    added = tags_assign_bulk(tag_ids=[tag_id], customers=customers, source=source)
    removed, _ = CustomerTag.objects.filter(tag_id=tag_id).exclude(customer__in=customers.order_by().values("id")).delete()
    return added, removed


def tag_ensure(*, group_name: str, name: str) -> Tag:
    """The tag `name` in the group `group_name`, both created when missing (safe under concurrency)."""
    group, _ = TagGroup.objects.get_or_create(name=group_name[:64])
    tag, _ = Tag.objects.get_or_create(group=group, name=name[:64])
    return tag


def tag_rename(*, tag_id: int, name: str) -> bool:
    """Rename a tag (e.g. its mirrored WeCom corp tag was renamed); False when its group already
    has a tag of that name (the tag keeps its name rather than merging two tags silently)."""
    tag = Tag.objects.get(pk=tag_id)
    name = name[:64]
    if not name or tag.name == name or Tag.objects.filter(group_id=tag.group_id, name=name).exists():
        return False
    Tag.objects.filter(pk=tag_id).update(name=name)
    return True


def tag_links_add_bulk(*, links: Iterable[tuple[int, int]], source: str) -> None:
    """Assign (customer id, tag id) pairs set-based; pairs already assigned stay as they are."""
    rows = [CustomerTag(customer_id=customer_id, tag_id=tag_id, source=source) for customer_id, tag_id in set(links)]
    CustomerTag.objects.bulk_create(rows, batch_size=_LINK_BATCH, ignore_conflicts=True)


_LINK_BATCH = 2000
