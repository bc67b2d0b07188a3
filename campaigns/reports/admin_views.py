"""Operator-admin page with the report charts: /admin/campaign-reports/?campaign=<id>.

Mounted by scrm/urls.py before the admin site's own URLs (see campaigns/reports/admin_urls.py).
The campaign's funnel and lift come from its counters (campaigns.counters); the account's trends
from customers' daily counters — nothing here scans the deliveries.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from campaigns.article_stats import campaign_article_stats
from campaigns.models import Campaign
from campaigns.reports import selectors
from campaigns.reports.charts import funnel_chart, percent, stage_label, trends_chart
from campaigns.selectors import quota_deferral
from campaigns.variants.selectors import variant_test_report
from campaigns.wizard.views import deferral_note

RECENT_CAMPAIGNS = 200


def _fmt(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _lift_rows(report: dict) -> list[dict]:
    names = {"conversion": _("Conversion"), "engagement": _("Engagement (any click, reply or visit)")}
    rows = []
    for metric in ("conversion", "engagement"):
        lift = report["lift"][metric]
        rows.append({
            "metric": names[metric],
            "treated": f"{lift['treated_x']}/{lift['treated_n']} ({percent(lift['treated_rate'])})",
            "control": f"{lift['control_x']}/{lift['control_n']} ({percent(lift['control_rate'])})",
            "diff": percent(lift["difference"]),
            "ci": f"[{percent(lift['ci_low'])}, {percent(lift['ci_high'])}]",
            "p": _fmt(lift["p_value"]),
        })
    return rows


@staff_member_required
@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_reports_view(request: HttpRequest) -> HttpResponse:
    campaigns = list(Campaign.objects.select_related("account").order_by("-created_at")[:RECENT_CAMPAIGNS])
    campaign = None
    selected = request.GET.get("campaign", "")
    if selected.isdigit():
        campaign = Campaign.objects.select_related("account").filter(pk=int(selected)).first()
    elif campaigns:
        campaign = campaigns[0]
    context = {
        **admin.site.each_context(request),
        "title": _("Campaign reports"),
        "campaigns": campaigns,
        "campaign": campaign,
        "unknown_campaign": bool(selected) and campaign is None,
    }
    if campaign:
        report = selectors.campaign_report(campaign)
        funnel = report["funnel"]
        context.update(
            report=report,
            funnel_chart=funnel_chart(funnel["stages"]),
            stages=[{"label": stage_label(stage), "count": n} for stage, n in funnel["stages"]],
            rates={key: percent(value) for key, value in report["rates"].items()},
            csv_url=reverse("campaign-report-csv", kwargs={"campaign_id": campaign.pk}),
            change_url=reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
            lift_rows=_lift_rows(report),
            lift_as_of=datetime.fromisoformat(report["lift"]["as_of"]) if report["lift"]["as_of"] else None,
            unfollows=report["unfollows"],
            deferred_note=deferral_note(quota_deferral(campaign=campaign)),
            variant_test=variant_test_report(campaign),
            article_stats=campaign_article_stats(campaign),
        )
    trends = selectors.account_trends(account_id=campaign.account_id if campaign else None)
    context.update(trends=trends, trends_chart=trends_chart(trends))
    return TemplateResponse(request, "campaigns/reports/report.html", context)
