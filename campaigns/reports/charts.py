"""Chart data for the report page: unfold's chart components draw it with their bundled Chart.js
(no CDN, nothing fetched from outside)."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.translation import gettext as _

from campaigns.models import SuppressionReason

GREEN, RED, BLUE, AMBER, GREY = "#10b981", "#ef4444", "#3b82f6", "#f59e0b", "#94a3b8"
_STAGES = {
    "audience": lambda: _("Audience"),
    "held_out": lambda: _("Held out"),
    "planned": lambda: _("Planned"),
    "sent": lambda: _("Sent"),
    "delivered": lambda: _("Delivered"),
    "clicked": lambda: _("Clicked"),
    "converted": lambda: _("Converted"),
}


def stage_label(stage: str) -> str:
    """The operator's name of a funnel stage ("suppressed:<reason>" names the reason)."""
    if stage.startswith("suppressed:"):
        reason = stage.split(":", 1)[1]
        label = SuppressionReason(reason).label if reason in SuppressionReason.values else reason
        return "− " + str(label)
    return _STAGES[stage]() if stage in _STAGES else stage


def _options(*, horizontal: bool = False, legend: bool = True) -> str:
    value_axis = {"beginAtZero": True, "ticks": {"precision": 0, "color": "#9ca3af"}, "grid": {"color": "rgba(148,163,184,0.15)"}}
    label_axis = {"grid": {"display": False}, "ticks": {"color": "#6b7280", "autoSkip": False} if horizontal else {"color": "#9ca3af", "maxTicksLimit": 10}}
    return json.dumps({
        "indexAxis": "y" if horizontal else "x",
        "maintainAspectRatio": False,
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {"legend": {"display": legend, "align": "end", "labels": {"boxWidth": 8, "boxHeight": 8, "usePointStyle": True}}},
        "scales": {"x": value_axis if horizontal else label_axis, "y": label_axis if horizontal else value_axis},
    })


def funnel_chart(stages: list[tuple[str, int]]) -> dict[str, str]:
    """One horizontal bar per stage, suppressions in red."""
    colors = [RED if stage.startswith("suppressed:") else GREY if stage == "held_out" else GREEN for stage, _n in stages]
    data = {"labels": [stage_label(stage) for stage, _n in stages],
            "datasets": [{"label": _("Customers"), "data": [n for _s, n in stages], "backgroundColor": colors, "borderRadius": 3}]}
    return {"data": json.dumps(data, ensure_ascii=False), "options": _options(horizontal=True, legend=False)}


def trends_chart(series: dict[str, Any]) -> dict[str, str]:
    """Pushes, clicks, unfollows and conversions per local day."""
    datasets = [
        {"label": _("Pushes sent"), "data": series["pushes"], "backgroundColor": GREEN, "borderRadius": 3},
        {"label": _("Clicked pushes"), "data": series["clicked_pushes"], "backgroundColor": AMBER, "borderRadius": 3},
        {"type": "line", "label": _("Unfollows"), "data": series["unfollows"], "borderColor": RED, "backgroundColor": RED,
         "borderWidth": 2, "pointRadius": 0, "tension": 0.3},
        {"type": "line", "label": _("Conversions"), "data": series["conversions"], "borderColor": BLUE, "backgroundColor": BLUE,
         "borderWidth": 2, "pointRadius": 0, "tension": 0.3},
    ]
    data = {"labels": [d[5:] for d in series["days"]], "datasets": datasets}
    return {"data": json.dumps(data, ensure_ascii=False), "options": _options()}


def percent(value: float | None) -> str:
    return "–" if value is None else format_html("{}%", f"{value * 100:.2f}")
