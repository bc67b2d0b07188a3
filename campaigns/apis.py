"""Operator API for campaigns and deliveries: validate input, call one service or selector, serialize."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors, services
from campaigns.models import Campaign
from campaigns.serializers import (
    CampaignInputSerializer,
    CampaignSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    ScheduleSerializer,
    TestSendSerializer,
)
from campaigns.validation import campaign_validate


class CanOperateCampaigns(BasePermission):
    """Lifecycle actions (schedule, pause, test send…) change a campaign: `change_campaign`."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.has_perm("campaigns.view_campaign")
        return user.has_perm("campaigns.change_campaign")


class CampaignListApi(ListAPIView):
    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return selectors.campaign_list(filters={k: self.request.query_params.get(k) for k in ("state", "message_type", "priority_class")})

    def post(self, request):
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(data=dict(serializer.validated_data), user=request.user)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    queryset = Campaign.objects.all()

    def get(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(CampaignSerializer(campaign).data)

    def patch(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        serializer = CampaignInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_update(campaign=campaign, data=dict(serializer.validated_data))
        return Response(CampaignSerializer(campaign).data)

    def delete(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        services.campaign_delete(campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _CampaignActionApi(APIView):
    permission_classes = [CanOperateCampaigns]

    def campaign(self, pk: int) -> Campaign:
        return get_object_or_404(Campaign.objects.select_related("account"), pk=pk)


class CampaignValidateApi(_CampaignActionApi):
    def post(self, request, pk: int):
        return Response(campaign_validate(campaign=self.campaign(pk)))


class CampaignPreviewApi(_CampaignActionApi):
    def get(self, request, pk: int):
        return Response(services.campaign_preview(campaign=self.campaign(pk)))


class CampaignScheduleApi(_CampaignActionApi):
    def post(self, request, pk: int):
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_schedule(campaign=self.campaign(pk), user=request.user, at=serializer.validated_data.get("at"))
        return Response(CampaignSerializer(campaign).data)


class CampaignApproveApi(_CampaignActionApi):
    def post(self, request, pk: int):
        campaign = services.campaign_approve(campaign=self.campaign(pk), user=request.user)
        return Response(CampaignSerializer(campaign).data)


class CampaignPauseApi(_CampaignActionApi):
    def post(self, request, pk: int):
        return Response(CampaignSerializer(services.campaign_pause(campaign=self.campaign(pk))).data)


class CampaignResumeApi(_CampaignActionApi):
    def post(self, request, pk: int):
        return Response(CampaignSerializer(services.campaign_resume(campaign=self.campaign(pk))).data)


class CampaignCancelApi(_CampaignActionApi):
    def post(self, request, pk: int):
        return Response(CampaignSerializer(services.campaign_cancel(campaign=self.campaign(pk))).data)


class CampaignTestSendApi(_CampaignActionApi):
    def post(self, request, pk: int):
        serializer = TestSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = services.campaign_test_send(campaign=self.campaign(pk), user=request.user, identity_id=serializer.validated_data.get("identity_id"))
        return Response({"results": results})


class CampaignStatsApi(_CampaignActionApi):
    def get(self, request, pk: int):
        return Response(selectors.campaign_stats(campaign=self.campaign(pk)))


class DeliveryListApi(ListAPIView):
    serializer_class = DeliverySerializer
    queryset = Campaign.objects.none()

    def get_queryset(self):
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        for short in ("campaign", "customer", "account"):
            if short in data:
                data[f"{short}_id"] = data.pop(short)
        return selectors.delivery_list(filters=data)

    def get_permissions(self):
        return [CanDeliveries()]


class CanDeliveries(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("campaigns.view_delivery"))
