"""The console's admin site: unfold's, with the two per-page costs that do not depend on the page cut.

Every console page builds Django's list of every registered model (`available_apps`) and renders the
sidebar. The sidebar is a pure function of the operator's language, which of its items the operator may
see and which one is active, so its HTML is cached under exactly that key
(templates/unfold/helpers/navigation.html); the app list is built only where a page shows it (the
sidebar uses the curated navigation in scrm/console_navigation.py instead).
"""

from __future__ import annotations

import hashlib

from django.contrib.admin.apps import AdminConfig
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from unfold.sites import UnfoldAdminSite


class ConsoleAdminSite(UnfoldAdminSite):
    def get_app_list(self, request, app_label=None):
        return SimpleLazyObject(lambda: super(ConsoleAdminSite, self).get_app_list(request, app_label))

    def each_context(self, request):
        context = super().each_context(request)
        context["sidebar_cache_key"] = sidebar_cache_key(context.get("sidebar_navigation") or [])
        return context


def sidebar_cache_key(navigation: list[dict]) -> str:
    """What the rendered sidebar depends on: the language, and per item its title and link (a deploy
    that changes the navigation gets new keys) and whether it is shown and active."""
    shape = [
        (
            str(group.get("title", "")),
            [
                (str(item.get("title", "")), str(item.get("link", "")), bool(item.get("has_permission")), bool(item.get("active")))
                for item in group.get("items", [])
            ],
        )
        for group in navigation
    ]
    return hashlib.blake2b(repr((get_language(), shape)).encode(), digest_size=16).hexdigest()

class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console's site as the default site (INSTALLED_APPS names it)."""

    default_site = "audit.sites.ConsoleAdminSite"
