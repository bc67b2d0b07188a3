"""Chart data for unfold's chart components (its bundled Chart.js): a JSON `data` and `options`."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _

GREEN, RED, BLUE, AMBER, VIOLET, GREY = "#10b981", "#ef4444", "#3b82f6", "#f59e0b", "#8b5cf6", "#94a3b8"


def _options(*, stacked: bool = False, legend: bool = True, percent_axis: bool = False) -> str:
    y: dict[str, Any] = {"beginAtZero": True, "ticks": {"precision": 0, "color": "#9ca3af"}, "stacked": stacked,
                         "grid": {"color": "rgba(148,163,184,0.15)"}, "border": {"display": False}}
    if percent_axis:
        y["ticks"] = {"color": "#9ca3af"}
    options = {
        "maintainAspectRatio": False,
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {"legend": {"display": legend, "align": "end", "labels": {"boxWidth": 8, "boxHeight": 8, "usePointStyle": True, "color": "#6b7280"}}},
        "scales": {
            "x": {"stacked": stacked, "grid": {"display": False}, "ticks": {"color": "#9ca3af", "maxTicksLimit": 10}},
            "y": y,
        },
    }
    return json.dumps(options)


def _chart(labels: list[str], datasets: list[dict[str, Any]], **options) -> dict[str, str]:
    return {"data": json.dumps({"labels": labels, "datasets": datasets}, ensure_ascii=False), "options": _options(**options)}


def _day_labels(days: list[str]) -> list[str]:
    return [d[5:] for d in days]  # MM-DD: the year is the obvious one


def follows_chart(series: dict[str, Any]) -> dict[str, str]:
    """Follows up, unfollows down, per day, with the net change as a line."""
    return _chart(
        _day_labels(series["days"]),
        [
            {"type": "line", "label": _("Net change"), "data": series["net"], "borderColor": BLUE, "backgroundColor": BLUE,
             "borderWidth": 2, "pointRadius": 0, "tension": 0.3, "order": 0},
            {"label": _("Follows"), "data": series["follows"], "backgroundColor": GREEN, "borderRadius": 3, "order": 1},
            {"label": _("Unfollows"), "data": [-n for n in series["unfollows"]], "backgroundColor": RED, "borderRadius": 3, "order": 1},
        ],
        stacked=True,
    )


def pushes_chart(series: dict[str, Any]) -> dict[str, str]:
    """Pushes sent and clicked per day."""
    return _chart(
        _day_labels(series["days"]),
        [
            {"label": _("Pushes sent"), "data": series["pushes"], "backgroundColor": "var(--color-primary-500)", "borderRadius": 3},
            {"label": _("Clicked pushes"), "data": series["clicked_pushes"], "backgroundColor": AMBER, "borderRadius": 3},
        ],
    )


def disturbance_chart(series: dict[str, Any]) -> dict[str, str]:
    """Unfollows within 24 h of a push, and mutes, per day."""
    return _chart(
        _day_labels(series["days"]),
        [
            {"label": _("Unfollows within 24 h of a push"), "data": series["unfollows_after_push"], "backgroundColor": RED, "borderRadius": 3},
            {"label": _("Mutes"), "data": series["mutes"], "backgroundColor": VIOLET, "borderRadius": 3},
        ],
        stacked=True,
    )


def funnels_chart(funnels: list[dict[str, Any]]) -> dict[str, str]:
    """The last campaigns side by side: planned → sent → delivered → clicked."""
    ordered = list(reversed(funnels))  # oldest first, left to right
    labels = [f["name"] if len(f["name"]) <= 14 else f["name"][:13] + "…" for f in ordered]
    return _chart(
        labels,
        [
            {"label": _("Planned"), "data": [f["planned"] for f in ordered], "backgroundColor": GREY, "borderRadius": 3},
            {"label": _("Sent"), "data": [f["sent"] for f in ordered], "backgroundColor": "var(--color-primary-500)", "borderRadius": 3},
            {"label": _("Delivered"), "data": [f["delivered"] for f in ordered], "backgroundColor": BLUE, "borderRadius": 3},
            {"label": _("Clicked"), "data": [f["clicked"] for f in ordered], "backgroundColor": AMBER, "borderRadius": 3},
        ],
    )
