"""Admin report pages. scrm/urls.py mounts this before admin.site.urls:
    path("admin/campaign-reports/", include("campaigns.reports.admin_urls")),
"""

from django.urls import path

from campaigns.reports.admin_views import campaign_reports_view

urlpatterns = [
    path("", campaign_reports_view, name="admin-campaign-reports"),
]
