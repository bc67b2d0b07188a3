"""Operator API for reports: /api/v1/campaigns/<id>/report/ (+ csv/), disturbance and trends."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from campaigns.reports import selectors
from campaigns.reports.exports import campaign_report_csv, table_csv
from scrm.api_fields import IdField


def _csv_response(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _ReportView(APIView):
    queryset = Campaign.objects.none()  # permission: campaigns.view_campaign

    def get_queryset(self):
        return Campaign.objects.all()


class CampaignReportApi(_ReportView):
    """Funnel, lift against the holdout (95 % CI), unfollows and mutes within 24 h of the push."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return Response(selectors.campaign_report(campaign))


class CampaignReportCsvApi(_ReportView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return _csv_response(campaign_report_csv(campaign), f"campaign-{campaign.pk}-report.csv")


class PeriodSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    days = serializers.IntegerField(required=False, min_value=1, max_value=366, default=28)
    account = IdField(required=False)
    campaign = IdField(required=False)
    # Not "format": DRF reserves that query parameter for content negotiation.
    export = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError(_("since must be before until."))
        return attrs


class DisturbanceApi(_ReportView):
    """Pushes per customer per week and clicks per push, by account and by segment."""

    @extend_schema(parameters=[PeriodSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = PeriodSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        accounts = selectors.disturbance_by_account(since=p.get("since"), until=p.get("until"))
        segments = selectors.disturbance_by_segment(since=p.get("since"), until=p.get("until"))
        if p["export"] == "csv":
            body = table_csv([{"scope": "account", **r} for r in accounts] + [{"scope": "segment", **r} for r in segments])
            return _csv_response(body, "disturbance.csv")
        return Response({"accounts": accounts, "segments": segments})


class TrendsApi(_ReportView):
    """Daily sent, delivered, clicked, unfollows and conversions."""

    @extend_schema(parameters=[PeriodSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = PeriodSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        rows = selectors.trends_daily(account_id=p.get("account"), campaign_id=p.get("campaign"), days=p["days"])
        if p["export"] == "csv":
            return _csv_response(table_csv(rows), "trends.csv")
        return Response({"days": rows})
