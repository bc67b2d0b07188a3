"""The console's base admin classes: the unfold theme, and (audit) every operator write recorded.

Every app's admin subclasses these instead of django.contrib.admin's, so the look and the audit
trail are one decision made here."""

from __future__ import annotations

from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import StackedInline as UnfoldStackedInline
from unfold.admin import TabularInline as UnfoldTabularInline


class ModelAdmin(UnfoldModelAdmin):
    """Project base ModelAdmin."""


class TabularInline(UnfoldTabularInline):
    pass


class StackedInline(UnfoldStackedInline):
    pass
