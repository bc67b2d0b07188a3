"""Reads on customers: the operator's customer list with its filters, tags, export rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext
from psycopg import sql

from customers.errors import CustomerError
from customers.models import ChannelIdentity, Customer, CustomerTag, EngagementEvent, FollowState, Tag, TagGroup
from customers.search import customer_search_q
from scrm.errors import ApplicationError
from scrm.sqltools import render, table

CUSTOMER_FILTER_KEYS = ("tag", "tag_all", "account", "follow_state", "search")


def _int_list(name: str, value: Any) -> list[int]:
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    try:
        return [int(item) for item in items if str(item).strip() != ""]
    except (TypeError, ValueError) as exc:
        raise ApplicationError(
            gettext("'%(name)s' must be a list of integer ids.") % {"name": name}, code=CustomerError.INVALID_FILTER, detail={name: value}
        ) from exc


def customer_filters_parse(params: Any) -> dict[str, Any]:
    """Normalise filters from query params (a QueryDict) or a JSON object into plain values."""
    getlist = params.getlist if hasattr(params, "getlist") else (lambda key: params.get(key))
    filters: dict[str, Any] = {}
    for key in ("tag", "tag_all", "account"):
        raw = getlist(key)
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], str):
            raw = raw[0]
        ids = _int_list(key, raw)
        if ids:
            filters[key] = ids
    follow_state = params.get("follow_state") or ""
    if follow_state:
        if follow_state not in FollowState.values:
            raise ApplicationError(
                gettext("Unknown follow_state."), code=CustomerError.INVALID_FILTER, detail={"follow_state": follow_state, "allowed": FollowState.values}
            )
        filters["follow_state"] = follow_state
    search = (params.get("search") or "").strip()
    if search:
        filters["search"] = search
    unknown = set(params.keys()) - {*CUSTOMER_FILTER_KEYS, "page", "page_size", "format", "ordering"}
    if unknown and not hasattr(params, "getlist"):
        raise ApplicationError(gettext("Unknown filter keys."), code=CustomerError.INVALID_FILTER, detail=sorted(unknown))
    return filters


def customer_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Customer]:
    """Customers matching the filters (tag any-of / all-of, account, follow state, text search)."""
    filters = filters or {}
    qs = Customer.objects.filter(erased_at__isnull=True)
    if filters.get("tag"):
        qs = qs.filter(Exists(CustomerTag.objects.filter(customer_id=OuterRef("pk"), tag_id__in=filters["tag"])))
    for tag_id in filters.get("tag_all", []):
        qs = qs.filter(Exists(CustomerTag.objects.filter(customer_id=OuterRef("pk"), tag_id=tag_id)))
    if filters.get("account") or filters.get("follow_state"):
        identities = ChannelIdentity.objects.filter(customer_id=OuterRef("pk"))
        if filters.get("account"):
            identities = identities.filter(account_id__in=filters["account"])
        if filters.get("follow_state"):
            identities = identities.filter(follow_state=filters["follow_state"])
        qs = qs.filter(Exists(identities))
    if filters.get("search"):
        qs = qs.filter(customer_search_q(filters["search"]))
    return qs.order_by("-id")


def customer_list_for_display(*, filters: dict[str, Any] | None = None) -> QuerySet[Customer]:
    return customer_list(filters=filters).prefetch_related(
        Prefetch("identities", queryset=ChannelIdentity.objects.order_by("id")),
        Prefetch("tag_links", queryset=CustomerTag.objects.select_related("tag__group").order_by("tag_id")),
    )


def customer_get(*, customer_id: int) -> Customer:
    return customer_list_for_display().get(pk=customer_id)


def tag_group_list() -> QuerySet[TagGroup]:
    return TagGroup.objects.annotate(tag_count=Count("tags")).order_by("name")


def tag_list(*, group_id: int | None = None) -> QuerySet[Tag]:
    qs = Tag.objects.select_related("group").annotate(customer_count=Count("customer_links"))
    if group_id:
        qs = qs.filter(group_id=group_id)
    return qs.order_by("group__name", "name")


EXPORT_COLUMNS = [
    "id",
    "display_name",
    "gender",
    "city",
    "province",
    "country",
    "language",
    "phone",
    "openids",
    "unionid",
    "tags",
    "attributes",
    "first_seen_at",
    "last_engaged_at",
]
_EXPORT_FIELDS = ["id", "display_name", "gender", "city", "province", "country", "language", "phone", "attributes", "first_seen_at", "last_engaged_at"]


def customer_export_rows(*, filters: dict[str, Any] | None = None, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """Export rows (plain dicts) for the filtered customers, streamed from the database in chunks.

    Plain values, not model instances: at 100,000 rows per export, instantiating customers,
    identities and tag links (and prefetching per chunk) costs more than the SQL itself.
    """
    account_model = ChannelIdentity._meta.get_field("account").related_model
    app_ids = dict(account_model.objects.values_list("pk", "app_id"))
    tag_names = {pk: f"{group}/{name}" for pk, name, group in Tag.objects.values_list("pk", "name", "group__name")}
    rows = customer_list(filters=filters).values(*_EXPORT_FIELDS).iterator(chunk_size=chunk_size)
    for chunk in _batched(rows, chunk_size):
        ids = [row["id"] for row in chunk]
        identities: dict[int, list[tuple[int, str, str]]] = {}
        for customer_id, account_id, external_id, unionid in (
            ChannelIdentity.objects.filter(customer_id__in=ids).order_by("id").values_list("customer_id", "account_id", "external_id", "unionid")
        ):
            identities.setdefault(customer_id, []).append((account_id, external_id, unionid))
        tags: dict[int, list[str]] = {}
        for customer_id, tag_id in CustomerTag.objects.filter(customer_id__in=ids).order_by("tag_id").values_list("customer_id", "tag_id"):
            tags.setdefault(customer_id, []).append(tag_names.get(tag_id, str(tag_id)))
        for row in chunk:
            own = identities.get(row["id"], [])
            row["openids"] = ";".join(f"{app_ids.get(account_id, account_id)}:{external_id}" for account_id, external_id, _ in own)
            row["unionid"] = next((unionid for _, _, unionid in own if unionid), "")
            row["tags"] = ";".join(tags.get(row["id"], []))
            yield row


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def identities_of_external_ids(*, account, external_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """external id → (identity id, customer id) of the account's identities among `external_ids`."""
    rows = ChannelIdentity.objects.filter(account=account, kind=account.identity_kind, external_id__in=list(external_ids))
    return {external_id: (pk, customer_id) for external_id, pk, customer_id in rows.values_list("external_id", "pk", "customer_id")}


# The distinct event types as a loose index scan: one probe of the (event_type, occurred_at, customer)
# index per type instead of a DISTINCT over every event (tens of millions at 1M customers).
_EVENT_TYPES_LOOSE_SCAN = sql.SQL(
    """
    WITH RECURSIVE t(v) AS (
        (SELECT event_type FROM {event} ORDER BY event_type LIMIT 1)
        UNION ALL
        SELECT (SELECT event_type FROM {event} WHERE event_type > t.v ORDER BY event_type LIMIT 1) FROM t WHERE t.v IS NOT NULL
    )
    SELECT v FROM t WHERE v IS NOT NULL
    """
)


def event_type_list() -> list[str]:
    """Every event type stored, sorted (for filters); index probes only on PostgreSQL."""
    if connection.vendor != "postgresql":
        return list(EngagementEvent.objects.order_by("event_type").values_list("event_type", flat=True).distinct())
    with connection.cursor() as cursor:
        cursor.execute(render(_EVENT_TYPES_LOOSE_SCAN.format(event=table(EngagementEvent))))
        return [row[0] for row in cursor.fetchall()]
