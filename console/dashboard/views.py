"""The admin index (unfold's DASHBOARD_CALLBACK fills its context) and the in-flight endpoints that
the dashboard polls: /admin/dashboard/in-flight/ (an HTML fragment for htmx) and
/admin/dashboard/in-flight.json."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.dashboard import charts
from console.dashboard.campaigns import in_flight
from console.dashboard.health import system_health
from console.dashboard.selectors import account_choices, dashboard_data, resolve_account

IN_FLIGHT_TEMPLATE = "console/dashboard/in_flight.html"
REFRESH_SECONDS = 5


def eta_text(seconds: int | None) -> str:
    if seconds is None:
        return _("ETA unknown")
    if seconds < 60:
        return _("about %(s)d s left") % {"s": seconds}
    if seconds < 3600:
        return _("about %(m)d min left") % {"m": round(seconds / 60)}
    return _("about %(h).1f h left") % {"h": seconds / 3600}


def _with_eta(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["eta_text"] = eta_text(row["eta_seconds"]) if row["state"] == "sending" else row["state_label"]
        done, total = f"{row['done']:,}", f"{row['total']:,}"
        row["description"] = _("%(percent)s%% · %(done)s of %(total)s · %(eta)s") % {
            "percent": number_format(row["percent"], 1), "done": done, "total": total, "eta": row["eta_text"]
        }
    return rows


HEALTH_LABELS = {
    "web": gettext_lazy("Web"),
    "database": gettext_lazy("Database"),
    "broker": gettext_lazy("Broker (Redis)"),
    "worker": gettext_lazy("Celery worker"),
    "beat": gettext_lazy("Celery beat"),
}
STATUS_LABELS = {"ok": gettext_lazy("Running"), "down": gettext_lazy("Down"), "unknown": gettext_lazy("Unknown")}
STATUS_VARIANTS = {"ok": "success", "down": "danger", "unknown": "warning"}
STATUS_COLORS = {"ok": "bg-green-500", "down": "bg-red-600", "unknown": "bg-orange-400"}


def health_items(health: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for name, label in HEALTH_LABELS.items():
        check = health["checks"].get(name, {"status": "unknown"})
        status = check["status"]
        text = str(STATUS_LABELS[status])
        if check.get("error") == "timeout":
            text = _("Not answering")
        elif check.get("age_seconds") is not None and status == "ok":
            text = _("%(text)s · %(s)d s ago") % {"text": text, "s": check["age_seconds"]}
        items.append({"name": name, "label": label, "status": status, "status_label": text, "variant": STATUS_VARIANTS[status],
                      "color": STATUS_COLORS[status]})
    return items


def _in_flight_rows(account_id: int | None) -> list[dict[str, Any]]:
    return _with_eta(in_flight(account_id=account_id, cache_usable=system_health()["cache_usable"]))


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    accounts = account_choices()
    account_id = resolve_account(request.GET.get("account"), accounts)
    data = dashboard_data(account_id=account_id)
    _with_eta(data["in_flight"])
    selected = next((a for a in accounts if a["id"] == account_id), None)
    items = health_items(data["health"])
    clicks = data["disturbance"]["clicks_per_push"]
    context.update(
        {
            "title": _("Dashboard"),
            "dashboard": data,
            "accounts": accounts,
            "selected_account": selected,
            "refresh_seconds": REFRESH_SECONDS,
            "can_view_campaigns": request.user.has_perm("campaigns.view_campaign"),
            "health_items": items,
            "health_tracker": [{"color": i["color"], "tooltip": f"{i['label']}: {i['status_label']}"} for i in items],
            "clicks_per_push_text": "–" if clicks is None else number_format(100 * clicks, 1) + "%",
            "charts": {
                "follows": charts.follows_chart(data["series"]),
                "pushes": charts.pushes_chart(data["series"]),
                "disturbance": charts.disturbance_chart(data["series"]),
                "funnels": charts.funnels_chart(data["funnels"]),
            },
        }
    )
    return context


@staff_member_required
@require_GET
def in_flight_fragment(request: HttpRequest) -> HttpResponse:
    account_id = resolve_account(request.GET.get("account"), account_choices())
    html = render_to_string(
        IN_FLIGHT_TEMPLATE,
        {"in_flight": _in_flight_rows(account_id), "can_view_campaigns": request.user.has_perm("campaigns.view_campaign")},
        request=request,
    )
    return HttpResponse(html)


@staff_member_required
@require_GET
def in_flight_json(request: HttpRequest) -> JsonResponse:
    account_id = resolve_account(request.GET.get("account"), account_choices())
    return JsonResponse({"account_id": account_id, "campaigns": _in_flight_rows(account_id)})
