"""Operator-admin page with the report charts: /admin/campaign-reports/?campaign=<id>.

Mounted by scrm/urls.py before the admin site's own URLs (see campaigns/reports/admin_urls.py).
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.reports import selectors
from campaigns.reports.charts import bar_chart, line_chart, percent

_TEMPLATE = Path(__file__).parent / "templates" / "report.html"


def _fmt(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@staff_member_required
@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_reports_view(request: HttpRequest) -> HttpResponse:
    campaigns = list(Campaign.objects.order_by("-created_at")[:200])
    campaign = None
    selected = request.GET.get("campaign", "")
    if selected.isdigit():
        campaign = Campaign.objects.filter(pk=int(selected)).first()
    elif campaigns:
        campaign = campaigns[0]
    context = {**admin.site.each_context(request), "title": "Campaign reports", "campaigns": campaigns, "campaign": campaign}
    if campaign:
        report = selectors.campaign_report(campaign)
        context["funnel_chart"] = bar_chart([(stage, n) for stage, n in report["funnel"]["stages"]])
        context["csv_url"] = reverse("campaign-report-csv", kwargs={"campaign_id": campaign.pk})
        context["lift_rows"] = [
            {
                "metric": metric,
                "treated": f"{lift['treated_x']}/{lift['treated_n']} ({percent(lift['treated_rate'])})",
                "control": f"{lift['control_x']}/{lift['control_n']} ({percent(lift['control_rate'])})",
                "diff": percent(lift["difference"]),
                "ci": f"[{percent(lift['ci_low'])}, {percent(lift['ci_high'])}]",
                "p": _fmt(lift["p_value"]),
            }
            for metric, lift in ((m, report["lift"][m]) for m in ("conversion", "engagement"))
        ]
        context["unfollows"] = report["unfollows"]
    trends = selectors.trends_daily(account_id=campaign.account_id if campaign else None)
    context["trend_chart"] = line_chart(
        [row["day"][5:] for row in trends],
        {key: [row[key] for row in trends] for key in ("sent", "clicked", "unfollows", "conversions")},
    )
    context["disturbance"] = selectors.disturbance_by_account()
    template = engines["django"].from_string(_TEMPLATE.read_text())
    return HttpResponse(template.render(context, request))
