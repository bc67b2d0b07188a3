"""Operator API for channel codes and sync jobs (thin views: validate, call a service, serialize)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ChannelAccount
from messaging.channels import selectors, services, wecom_media
from messaging.channels.models import ChannelCode, MediaFile, MediaKind, SyncJob, SyncJobKind
from messaging.errors import MessagingError
from scrm.api_fields import IdField
from scrm.errors import ApplicationError
from scrm.pagination import DefaultPagination, paginated


class ChannelCodeOutput(serializers.ModelSerializer):
    tag_ids = serializers.SerializerMethodField()

    class Meta:
        model = ChannelCode
        fields = [
            "id",
            "account",
            "kind",
            "name",
            "scene",
            "tag_ids",
            "welcome_text",
            "welcome_attachments",
            "ticket",
            "url",
            "config_id",
            "staff_userids",
            "is_active",
            "created_at",
        ]

    def get_tag_ids(self, obj: ChannelCode) -> list[int]:
        return [t.pk for t in obj.tags.all()]


class ChannelCodeInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.all())
    name = serializers.CharField(max_length=128)
    scene = serializers.CharField(max_length=64)
    tag_ids = serializers.ListField(child=IdField(), required=False, default=list)
    welcome_text = serializers.CharField(required=False, allow_blank=True, default="")
    # Checked by the service against WeCom's rules (wecom_media.attachments_validate).
    welcome_attachments = serializers.ListField(child=serializers.DictField(), required=False, default=list, max_length=20)
    staff_userids = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)


class ChannelCodeListApi(APIView):
    queryset = ChannelCode.objects.all()

    @extend_schema(operation_id="v1_channel_codes_list", **paginated(ChannelCodeOutput, "ChannelCode"))
    def get(self, request):
        account_id = request.query_params.get("account")
        qs = selectors.channel_code_list(account_id=int(account_id) if account_id and account_id.isdigit() else None)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ChannelCodeOutput(page, many=True).data)

    @extend_schema(request=ChannelCodeInput, responses={201: ChannelCodeOutput})
    def post(self, request):
        data = ChannelCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        code = services.channel_code_create(**data.validated_data)
        return Response(ChannelCodeOutput(code).data, status=status.HTTP_201_CREATED)


class ChannelCodeDetailApi(APIView):
    queryset = ChannelCode.objects.all()

    @extend_schema(responses=ChannelCodeOutput)
    def get(self, request, pk: int):
        code = get_object_or_404(selectors.channel_code_list(), pk=pk)
        return Response(ChannelCodeOutput(code).data)


class SyncJobOutput(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = SyncJob
        fields = [
            "id",
            "account",
            "kind",
            "state",
            "params",
            "total",
            "processed",
            "created_count",
            "pages_done",
            "progress",
            "attempts",
            "last_error",
            "report",
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        ]

    def get_progress(self, obj: SyncJob) -> float | None:
        if obj.state == "done":
            return 1.0
        if not obj.total:
            return None
        return round(min(obj.processed / obj.total, 1.0), 4)


class SyncJobInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.all())
    kind = serializers.ChoiceField(choices=SyncJobKind.choices)
    tag_ids = serializers.ListField(child=IdField(), required=False, default=list)


class SyncJobListApi(APIView):
    queryset = SyncJob.objects.all()

    @extend_schema(operation_id="v1_sync_jobs_list", **paginated(SyncJobOutput, "SyncJob"))
    def get(self, request):
        account_id = request.query_params.get("account")
        qs = selectors.sync_job_list(account_id=int(account_id) if account_id and account_id.isdigit() else None)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(SyncJobOutput(page, many=True).data)

    @extend_schema(request=SyncJobInput, responses={202: SyncJobOutput})
    def post(self, request):
        data = SyncJobInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = (
            {"tag_ids": data.validated_data["tag_ids"]} if data.validated_data["kind"] == SyncJobKind.TAGS_PUSH else {}
        )
        job = services.sync_job_start(
            account=data.validated_data["account"], kind=data.validated_data["kind"], params=params, user=request.user
        )
        return Response(SyncJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class SyncJobDetailApi(APIView):
    queryset = SyncJob.objects.all()

    @extend_schema(responses=SyncJobOutput)
    def get(self, request, pk: int):
        return Response(SyncJobOutput(get_object_or_404(selectors.sync_job_list(), pk=pk)).data)


class MediaFileOutput(serializers.ModelSerializer):
    class Meta:
        model = MediaFile
        fields = ["id", "name", "kind", "content_type", "size", "sha256", "created_at"]


class MediaFileInput(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=MediaKind.choices, required=False, default="")


class MediaFileListApi(APIView):
    """Files to send as WeCom attachments (welcome messages, group messages, moments)."""

    queryset = MediaFile.objects.all()
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="v1_media_files_list", **paginated(MediaFileOutput, "MediaFile"))
    def get(self, request):
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(selectors.media_file_list(), request, view=self)
        return paginator.get_paginated_response(MediaFileOutput(page, many=True).data)

    @extend_schema(request={"multipart/form-data": MediaFileInput}, responses={201: MediaFileOutput})
    def post(self, request):
        data = MediaFileInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > wecom_media.MAX_BYTES[MediaKind.FILE]:
            raise ApplicationError(code=MessagingError.MEDIA_INVALID, detail={"size": upload.size})
        media = wecom_media.media_file_create(
            name=upload.name, content=upload.read(), content_type=upload.content_type or "", kind=data.validated_data["kind"]
        )
        return Response(MediaFileOutput(media).data, status=status.HTTP_201_CREATED)
