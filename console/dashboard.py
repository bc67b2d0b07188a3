"""The admin index: a dashboard per channel account (filled by console.dashboard selectors)."""

from __future__ import annotations


def dashboard_callback(request, context):
    return context
