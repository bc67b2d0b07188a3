"""Operator API for WeCom hand-overs of customers (thin views: validate, call a service, serialize)."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccountKind, ChannelAccount
from messaging.channels.handover import handover_create, unassigned_list
from messaging.channels.models import HandoverItemState, WeComHandover
from messaging.channels.tasks import handover_poll_task
from scrm.pagination import DefaultPagination, paginated


def _handovers():
    counts = {state: Count("items", filter=Q(items__state=state)) for state in HandoverItemState.values}
    return WeComHandover.objects.annotate(**{f"n_{k}": v for k, v in counts.items()}).order_by("-created_at")


class HandoverOutput(serializers.ModelSerializer):
    items = serializers.SerializerMethodField(help_text="Customers by state: " + ", ".join(HandoverItemState.values))

    class Meta:
        model = WeComHandover
        fields = ["id", "account", "kind", "handover_userid", "takeover_userid", "transfer_message", "items",
                  "created_at", "last_polled_at", "finished_at"]

    def get_items(self, obj) -> dict[str, int]:
        return {state: int(getattr(obj, f"n_{state}", 0) or 0) for state in HandoverItemState.values}


class HandoverInput(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.WECOM))
    handover_userid = serializers.CharField(max_length=64)
    takeover_userid = serializers.CharField(max_length=64)
    external_userids = serializers.ListField(
        child=serializers.CharField(max_length=128), required=False, allow_empty=False, max_length=100_000,
        help_text="The customers to hand over; omitted: every active customer of the handover staff member.",
    )
    transfer_message = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class HandoverListApi(APIView):
    queryset = WeComHandover.objects.all()

    @extend_schema(operation_id="v1_wecom_handovers_list", **paginated(HandoverOutput, "WeComHandover"))
    def get(self, request):
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(_handovers(), request, view=self)
        return paginator.get_paginated_response(HandoverOutput(page, many=True).data)

    @extend_schema(request=HandoverInput, responses={202: HandoverOutput})
    def post(self, request):
        data = HandoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        handover = handover_create(
            account=data.validated_data["account"],
            handover_userid=data.validated_data["handover_userid"],
            takeover_userid=data.validated_data["takeover_userid"],
            external_userids=data.validated_data.get("external_userids"),
            transfer_message=data.validated_data["transfer_message"],
            user=request.user,
            ip=request.META.get("REMOTE_ADDR"),
        )
        return Response(HandoverOutput(_handovers().get(pk=handover.pk)).data, status=status.HTTP_202_ACCEPTED)


class HandoverDetailApi(APIView):
    queryset = WeComHandover.objects.all()

    @extend_schema(responses=HandoverOutput)
    def get(self, request, pk: int):
        return Response(HandoverOutput(get_object_or_404(_handovers(), pk=pk)).data)


class HandoverPollApi(APIView):
    queryset = WeComHandover.objects.all()

    @extend_schema(request=None, responses={202: HandoverOutput})
    def post(self, request, pk: int):
        handover = get_object_or_404(_handovers(), pk=pk)
        handover_poll_task.delay(handover.pk)
        return Response(HandoverOutput(handover).data, status=status.HTTP_202_ACCEPTED)


class UnassignedRow(serializers.Serializer):
    handover_userid = serializers.CharField()
    external_userid = serializers.CharField()
    dimission_time = serializers.IntegerField()


class UnassignedQuery(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ChannelAccount.objects.filter(kind=AccountKind.WECOM))


class UnassignedListApi(APIView):
    queryset = WeComHandover.objects.all()

    @extend_schema(
        parameters=[OpenApiParameter("account", int, required=True, description="A WeCom corp account id")],
        responses=UnassignedRow(many=True),
    )
    def get(self, request):
        query = UnassignedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(UnassignedRow(unassigned_list(query.validated_data["account"]), many=True).data)
