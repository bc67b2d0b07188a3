"""Operator API for segments: CRUD, validate, preview, snapshot, members, static lists."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.errors import CustomerError
from customers.segments import selectors, services
from customers.segments.models import Segment, SegmentSnapshot
from customers.segments.rules import rule_validate
from customers.segments.serializers import (
    CountHistoryOutputSerializer,
    MemberOutputSerializer,
    PreviewOutputSerializer,
    RuleInputSerializer,
    SegmentCreateSerializer,
    SegmentOutputSerializer,
    SegmentUpdateSerializer,
    SnapshotOutputSerializer,
    StaticAddSerializer,
    StaticRemoveSerializer,
    StaticUploadSerializer,
)
from scrm.errors import error_body
from scrm.pagination import DefaultPagination, paginated
from scrm.permissions import OperatorModelPermissions


class ReadOnlyPostPermissions(OperatorModelPermissions):
    """POST that only reads (validate, preview) needs the view permission."""

    perms_map = {**OperatorModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class ChangePostPermissions(OperatorModelPermissions):
    """POST that edits an existing segment (its static list) needs the change permission."""

    perms_map = {**OperatorModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class _SegmentView(APIView):
    queryset = Segment.objects.all()

    def get_segment(self, pk: int) -> Segment:
        return get_object_or_404(Segment, pk=pk)


def _paginate(view: APIView, request: Request, queryset, serializer_class) -> Response:
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class SegmentListApi(_SegmentView):
    @extend_schema(operation_id="v1_segments_list", **paginated(SegmentOutputSerializer, "Segment"))
    def get(self, request: Request) -> Response:
        return _paginate(self, request, selectors.segment_list(), SegmentOutputSerializer)

    @extend_schema(request=SegmentCreateSerializer, responses={201: SegmentOutputSerializer})
    def post(self, request: Request) -> Response:
        data = SegmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_create(**data.validated_data, created_by=request.user)
        return Response(SegmentOutputSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailApi(_SegmentView):
    @extend_schema(responses=SegmentOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SegmentOutputSerializer(self.get_segment(pk)).data)

    @extend_schema(request=SegmentUpdateSerializer, responses=SegmentOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        data = SegmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_update(segment=self.get_segment(pk), **data.validated_data)
        return Response(SegmentOutputSerializer(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.segment_delete(segment=self.get_segment(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentValidateApi(_SegmentView):
    permission_classes = [ReadOnlyPostPermissions]

    @extend_schema(request=RuleInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        errors = rule_validate(data.validated_data["rule"], segment_id=data.validated_data.get("segment_id"))
        if errors:
            return Response(
                error_body(code=CustomerError.SEGMENT_RULE_INVALID, detail={"errors": [e.as_dict() for e in errors]}),
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"valid": True, "errors": []})


class SegmentRulePreviewApi(_SegmentView):
    permission_classes = [ReadOnlyPostPermissions]

    @extend_schema(request=RuleInputSerializer, responses=PreviewOutputSerializer)
    def post(self, request: Request) -> Response:
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = selectors.rule_preview(
            rule=data.validated_data["rule"],
            segment_id=data.validated_data.get("segment_id"),
            sample_size=data.validated_data["sample_size"],
        )
        return Response(PreviewOutputSerializer(result).data)


class SegmentPreviewApi(_SegmentView):
    @extend_schema(responses=PreviewOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(PreviewOutputSerializer(selectors.segment_preview(segment=self.get_segment(pk))).data)


class SegmentMembersApi(_SegmentView):
    @extend_schema(**paginated(MemberOutputSerializer, "SegmentMember"))
    def get(self, request: Request, pk: int) -> Response:
        members = selectors.segment_members(segment=self.get_segment(pk))
        return _paginate(self, request, members, MemberOutputSerializer)


class SegmentSnapshotApi(_SegmentView):
    @extend_schema(**paginated(SnapshotOutputSerializer, "SegmentSnapshot"))
    def get(self, request: Request, pk: int) -> Response:
        return _paginate(self, request, self.get_segment(pk).snapshots.all(), SnapshotOutputSerializer)

    @extend_schema(request=None, responses={201: SnapshotOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        snapshot = services.segment_snapshot_create(segment=self.get_segment(pk))
        return Response(SnapshotOutputSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotMembersApi(_SegmentView):
    @extend_schema(**paginated(MemberOutputSerializer, "SegmentMember"))
    def get(self, request: Request, pk: int) -> Response:
        snapshot = get_object_or_404(SegmentSnapshot, pk=pk)
        return _paginate(self, request, selectors.snapshot_members(snapshot=snapshot), MemberOutputSerializer)


class SegmentHistoryApi(_SegmentView):
    @extend_schema(**paginated(CountHistoryOutputSerializer, "SegmentCountHistory"))
    def get(self, request: Request, pk: int) -> Response:
        return _paginate(self, request, self.get_segment(pk).count_history.all(), CountHistoryOutputSerializer)


class SegmentStaticMembersApi(_SegmentView):
    """Add (by ids or a search rule) or remove members of a static segment (changes the segment)."""

    permission_classes = [ChangePostPermissions]

    @extend_schema(request=StaticAddSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        segment = self.get_segment(pk)
        data = StaticAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "rule" in data.validated_data:
            customers = selectors.rule_search_queryset(rule=data.validated_data["rule"])
        elif "filters" in data.validated_data:
            customers = selectors.customer_filter_queryset(filters=data.validated_data["filters"])
        else:
            customers = data.validated_data["customer_ids"]
        added = services.segment_static_add(segment=segment, customers=customers)
        return Response({"added": added})

    @extend_schema(request=StaticRemoveSerializer, responses=OpenApiTypes.OBJECT)
    def delete(self, request: Request, pk: int) -> Response:
        data = StaticRemoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        removed = services.segment_static_remove(segment=self.get_segment(pk), customer_ids=data.validated_data["customer_ids"])
        return Response({"removed": removed})


class SegmentStaticUploadApi(_SegmentView):
    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [ChangePostPermissions]

    @extend_schema(request=StaticUploadSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        segment = self.get_segment(pk)
        data = StaticUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.segment_static_upload(
            segment=segment, content=data.validated_data["file"].read(), id_kind=data.validated_data["id_kind"]
        )
        return Response(report)
