import functools

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class DefaultPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


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
