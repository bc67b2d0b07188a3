"""Operator API v1 for customers, tags and tag groups. Views validate, call one service or
selector, and serialize; reads are in customers.selectors, writes in customers.services."""

from __future__ import annotations

import io

from django.conf import settings
from django.db.models import ProtectedError
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from customers import selectors, serializers
from customers.errors import CustomerError
from customers.imports import customers_export_csv, customers_import_csv
from customers.models import Customer, Tag, TagGroup
from customers.services import customer_update, tags_assign_bulk, tags_unassign_bulk
from scrm.errors import ApplicationError, CommonError, Conflict
from scrm.pagination import BoundedCountPagination


def perms_required(*perms: str) -> type[BasePermission]:
    """A permission class for actions that are not plain CRUD on the view's model."""

    class HasPerms(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perms(perms))

    return HasPerms


class CSVParser(parsers.BaseParser):
    """A raw `text/csv` request body (the alternative to a multipart `file` field)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream else b""
        if limit and len(body) > limit:
            # A raw body is held in memory; a multipart upload spools to disk, so big files go that way.
            raise ApplicationError(
                _("The CSV body is larger than %(limit)s bytes; upload it as a multipart field 'file'.") % {"limit": limit},
                code=CustomerError.IMPORT_TOO_LARGE,
            )
        return {"file": io.BytesIO(body)}


CUSTOMER_FILTER_PARAMETERS = [
    OpenApiParameter("tag", OpenApiTypes.STR, description="Tag ids (comma separated or repeated): has any of them"),
    OpenApiParameter("tag_all", OpenApiTypes.STR, description="Tag ids: has all of them"),
    OpenApiParameter("account", OpenApiTypes.STR, description="Channel account ids: has an identity on one of them"),
    OpenApiParameter("follow_state", OpenApiTypes.STR, enum=["following", "unfollowed", "unknown"], description="With `account`: on that account"),
    OpenApiParameter("search", OpenApiTypes.STR, description="openid / external_userid / unionid / exact phone / customer id / name"),
]


@extend_schema_view(list=extend_schema(parameters=CUSTOMER_FILTER_PARAMETERS))
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Customer.objects.none()  # the model for permissions; rows come from selectors
    serializer_class = serializers.CustomerSerializer
    # `count` is exact up to 10,000 matches, then a bound (`count_exact` false): no COUNT(*) of a million rows.
    pagination_class = BoundedCountPagination
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        # Built once per request: DRF's model permissions ask for it too, and a search's exact lookups
        # run while it is built.
        if getattr(self, "_rows", None) is None:
            if self.action == "list":
                self._rows = selectors.customer_list_for_display(filters=selectors.customer_filters_parse(self.request.query_params))
            else:
                self._rows = selectors.customer_list_for_display()
        return self._rows

    def get_serializer_class(self):
        if self.action in ("retrieve", "partial_update"):
            return serializers.CustomerDetailSerializer
        return serializers.CustomerSerializer

    def get_permissions(self):
        if self.action in ("bulk_tag", "bulk_untag"):
            return [perms_required("customers.change_customer")()]
        if self.action == "import_csv":
            return [perms_required("customers.add_customer", "customers.change_customer")()]
        if self.action == "export_csv":
            return [perms_required("customers.view_customer")()]
        return super().get_permissions()

    @extend_schema(request=serializers.CustomerUpdateSerializer, responses=serializers.CustomerDetailSerializer)
    def partial_update(self, request, pk=None):
        customer = self.get_object()
        body = serializers.CustomerUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        customer_update(customer_id=customer.pk, data=body.validated_data)
        return Response(self.get_serializer(selectors.customer_get(customer_id=customer.pk)).data)

    def _bulk_selection(self, body: dict):
        if "customer_ids" in body:
            return body["customer_ids"], None
        filters = selectors.customer_filters_parse({k: v for k, v in body["filter"].items() if v not in ("", [], None)})
        queryset = selectors.customer_list(filters=filters)
        return queryset, queryset.count()

    @extend_schema(request=serializers.BulkTagSerializer, responses=serializers.BulkTagResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-tag")
    def bulk_tag(self, request):
        """Tag the customers given by id or by filter, in a few set-based statements."""
        body = serializers.BulkTagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customers, matched = self._bulk_selection(body.validated_data)
        changed = tags_assign_bulk(tag_ids=body.validated_data["tag_ids"], customers=customers, source=body.validated_data["source"])
        return Response({"matched": matched if matched is not None else len(set(customers)), "changed": changed})

    @extend_schema(request=serializers.BulkTagSerializer, responses=serializers.BulkTagResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-untag")
    def bulk_untag(self, request):
        """Remove tags from the customers given by id or by filter, in one DELETE."""
        body = serializers.BulkTagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customers, matched = self._bulk_selection(body.validated_data)
        changed = tags_unassign_bulk(tag_ids=body.validated_data["tag_ids"], customers=customers)
        return Response({"matched": matched if matched is not None else len(set(customers)), "changed": changed})

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}, "account": {"type": "integer"}}}, "text/csv": OpenApiTypes.STR},
        responses=serializers.ImportResultSerializer,
        description="Columns: account (id or app id), openid, unionid, phone, display_name, gender, city, province, "
        "country, language, avatar_url, timezone, tags (group/name;…), attr.<name>. Upsert by openid, then unionid, then phone.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[parsers.MultiPartParser, parsers.FormParser, CSVParser],
    )
    def import_csv(self, request):
        upload = request.data.get("file")
        if upload is None or isinstance(upload, str):
            raise ApplicationError(code=CustomerError.IMPORT_NO_FILE)
        account = request.data.get("account") or request.query_params.get("account")
        try:
            default_account_id = int(account) if account else None
        except ValueError as exc:
            raise ApplicationError(_("'account' must be an account id."), code=CommonError.INVALID) from exc
        result = customers_import_csv(stream=upload, default_account_id=default_account_id)
        return Response(result.as_dict(), status=status.HTTP_200_OK)

    @extend_schema(parameters=CUSTOMER_FILTER_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"], url_path="export")
    def export_csv(self, request):
        """Stream the filtered customers as CSV; rows are read from the database in chunks."""
        filters = selectors.customer_filters_parse(request.query_params)
        lines = customers_export_csv(filters=filters, unmask_phone=serializers.can_view_personal_data(request.user))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")  # the operator's clock
        response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
        return response


class TagGroupViewSet(viewsets.ModelViewSet):
    queryset = TagGroup.objects.none()
    serializer_class = serializers.TagGroupSerializer

    def get_queryset(self):
        return selectors.tag_group_list()

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict(code=CustomerError.TAG_GROUP_NOT_EMPTY) from exc


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("group", OpenApiTypes.INT)]))
class TagViewSet(viewsets.ModelViewSet):
    queryset = Tag.objects.none()
    serializer_class = serializers.TagSerializer

    def get_queryset(self):
        group = self.request.query_params.get("group")
        try:
            group_id = int(group) if group else None
        except ValueError as exc:
            raise ApplicationError(_("'group' must be a tag group id."), code=CustomerError.INVALID_FILTER) from exc
        return selectors.tag_list(group_id=group_id)
