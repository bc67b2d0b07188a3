"""Report routes; included under /api/v1/ by campaigns/urls.py:
    path("", include("campaigns.reports.urls")),
"""

from django.urls import path

from campaigns.reports.apis import CampaignReportApi, CampaignReportCsvApi, DisturbanceApi, TrendsApi

urlpatterns = [
    path("campaigns/<int:campaign_id>/report/", CampaignReportApi.as_view(), name="campaign-report"),
    path("campaigns/<int:campaign_id>/report/csv/", CampaignReportCsvApi.as_view(), name="campaign-report-csv"),
    path("reports/disturbance/", DisturbanceApi.as_view(), name="report-disturbance"),
    path("reports/trends/", TrendsApi.as_view(), name="report-trends"),
]
