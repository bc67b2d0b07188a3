"""Pagination for the API and the admin changelists. Big tables (a million customers, tens of millions
of events) are never counted in full on a page view: counts are bounded (`COUNT(*)` over at most
COUNT_LIMIT + 1 rows, shown as "10,000+") and the unfiltered list uses the planner's row estimate
(`pg_class.reltuples`, kept by autovacuum / ANALYZE, shown as "about …")."""

from __future__ import annotations

import functools

from django.contrib.admin import ShowFacets
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

COUNT_LIMIT = 10_000


class DefaultPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def table_row_estimate(model) -> int:
    """The planner's estimate of a table's rows (PostgreSQL), or -1 when there is none."""
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class BoundedCountPaginator(Paginator):
    """A paginator whose count stops at COUNT_LIMIT (filtered lists) or is the table estimate (unfiltered).

    `count_kind` says which: "exact", "bounded" (at least `count`) or "estimated" (about `count`).
    A filtered list is read once: the ids of its first COUNT_LIMIT + 1 rows in the list's order give
    both the count and the page, whose rows are then fetched by primary key — a search is not run twice
    (once to count, once for the page)."""

    template_name = "scrm/bounded_pagination.html"
    count_limit = COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        self.count_kind = "exact"
        self._ids = None
        items = self.object_list
        if not isinstance(items, QuerySet):
            return super().count
        if not items.query.where and not items.query.distinct:
            estimate = table_row_estimate(items.model)
            if estimate > self.count_limit:
                self.count_kind = "estimated"
                return estimate
        self._ids = list(items.values_list("pk", flat=True)[: self.count_limit + 1])
        if len(self._ids) > self.count_limit:
            self.count_kind = "bounded"
            return self.count_limit
        return len(self._ids)

    def page(self, number):
        number = self.validate_number(number)
        if self._ids is None:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        # The page's rows by primary key, in the list's own order (and with its prefetches).
        return self._get_page(self.object_list.filter(pk__in=self._ids[bottom:top]), number, self)

    @property
    def count_exact(self) -> bool:
        self.count  # noqa: B018 - sets count_kind
        return self.count_kind == "exact"


class BoundedCountPagination(DefaultPagination):
    """API pages over big tables: `count` is exact up to COUNT_LIMIT, then COUNT_LIMIT (at least that
    many) or the table's row estimate; `count_exact` says whether it is exact."""

    django_paginator_class = BoundedCountPaginator

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "count_exact": self.page.paginator.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_exact"] = {
            "type": "boolean",
            "description": f"false when `count` is a bound (at least {COUNT_LIMIT:,} rows match) or the table's row estimate",
        }
        return response


PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description=f"Items per page (at most {DefaultPagination.max_page_size})."),
]


@functools.cache
def _page_serializer(serializer_class: type[serializers.Serializer], base: str):
    # One class per page type: two operations listing the same items share the schema component.
    return inline_serializer(
        name=f"Paginated{base}List",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


def paginated(serializer_class: type[serializers.Serializer], name: str = "") -> dict:
    """extend_schema arguments for an APIView that answers one DefaultPagination page of
    serializer_class: the page object (count, next, previous, results) and its query parameters."""
    base = name or serializer_class.__name__.removesuffix("Serializer").removesuffix("Output")
    return {"responses": _page_serializer(serializer_class, base), "parameters": PAGE_PARAMETERS}


class BoundedCountAdminMixin:
    """For a ModelAdmin over a big table: bounded / estimated counts, and a short filtered list shown
    from the ids its count already read (the admin would otherwise run the search again for it)."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    # Facet counts are a full count per filter choice: what the bounded count exists to avoid.
    show_facets = ShowFacets.NEVER

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        ids = getattr(changelist.paginator, "_ids", None)
        if ids is not None and not changelist.multi_page:
            changelist.result_list = changelist.queryset.filter(pk__in=ids)
        return changelist
