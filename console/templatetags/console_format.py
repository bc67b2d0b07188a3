"""Number formatting for the console's figures: thousands grouped with commas in every language
(Chinese business dashboards group by three too; Django's zh-Hans format does not group)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def grouped(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "–"
