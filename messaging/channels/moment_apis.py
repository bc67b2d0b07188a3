"""Operator API for WeCom customer moments (thin views: validate, call a service, serialize)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.moment_models import WeComMoment
from messaging.channels.tasks import moment_poll_task
from messaging.channels.wecom_moments import moment_create
from scrm.pagination import DefaultPagination, paginated


class MomentOutput(serializers.ModelSerializer):
    class Meta:
        model = WeComMoment
        fields = ["id", "account", "text", "attachments", "sender_userids", "tag_ids", "state", "moment_id", "errcode",
                  "error", "invalid_senders", "invalid_tags", "publishers", "comments", "likes", "created_at",
                  "submitted_at", "last_polled_at"]


class MomentInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.WECOM))
    text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    attachments = serializers.ListField(
        child=serializers.DictField(), required=False, default=list, max_length=9,
        help_text='[{"msgtype": "image"|"video", "media_file": id} …] or [{"msgtype": "link", "title", "url", "media_file"?}]',
    )
    sender_userids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=100_000,
        help_text="Staff members who publish it; empty: every staff member in the app's visible range.",
    )
    tag_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=1000,
        help_text="Product tags mirrored as WeCom corp tags: only customers with one of them see it; empty: all.",
    )
    idempotency_key = serializers.CharField(max_length=64, required=False, allow_blank=False)


class MomentListApi(APIView):
    queryset = WeComMoment.objects.all()

    @extend_schema(operation_id="v1_wecom_moments_list", **paginated(MomentOutput, "WeComMoment"))
    def get(self, request):
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(WeComMoment.objects.order_by("-created_at"), request, view=self)
        return paginator.get_paginated_response(MomentOutput(page, many=True).data)

    @extend_schema(request=MomentInput, responses={202: MomentOutput})
    def post(self, request):
        data = MomentInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        moment = moment_create(
            account=values.pop("account"), user=request.user, ip=request.META.get("REMOTE_ADDR"), **values
        )
        return Response(MomentOutput(moment).data, status=status.HTTP_202_ACCEPTED)


class MomentDetailApi(APIView):
    queryset = WeComMoment.objects.all()

    @extend_schema(responses=MomentOutput)
    def get(self, request, pk: int):
        return Response(MomentOutput(get_object_or_404(WeComMoment, pk=pk)).data)


class MomentPollApi(APIView):
    queryset = WeComMoment.objects.all()

    @extend_schema(request=None, responses={202: MomentOutput})
    def post(self, request, pk: int):
        moment = get_object_or_404(WeComMoment, pk=pk)
        moment_poll_task.delay(moment.pk)
        return Response(MomentOutput(moment).data, status=status.HTTP_202_ACCEPTED)
