"""The console's admin site: unfold's, with the per-page costs that do not depend on the page cut.

Every console page builds Django's list of every registered model (`available_apps`) and the sidebar.
unfold rebuilds the sidebar per request — a deep copy of the navigation and a URL reverse per item for
its link and again for "is it active" — although only two facts per item change between requests:
whether the operator may see it and whether it is the current page. So the links are resolved once
per URLconf, each request computes just those two facts, and the rendered HTML is cached under
exactly them and the language (templates/unfold/helpers/navigation.html). The app list is built only
where a page shows it (the sidebar uses the curated navigation in scrm/console_navigation.py instead).
"""

from __future__ import annotations

import copy
import hashlib
from urllib.parse import urlparse

from django.contrib.admin.apps import AdminConfig
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string
from unfold.sites import UnfoldAdminSite


class ConsoleAdminSite(UnfoldAdminSite):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._resolved_navigations: dict[tuple, tuple[list[dict], str]] = {}

    def get_app_list(self, request, app_label=None):
        return SimpleLazyObject(lambda: super(ConsoleAdminSite, self).get_app_list(request, app_label))

    def each_context(self, request):
        context = super().each_context(request)
        context["sidebar_cache_key"] = getattr(request, "_console_sidebar_key", "") or sidebar_cache_key(
            context.get("sidebar_navigation") or []
        )
        return context

    def get_sidebar_list(self, request) -> list[dict]:
        if self._get_value(self._get_config("TABS", request), request):
            return super().get_sidebar_list(request)  # tabs can mark items active: unfold's own rules
        navigation, digest = self._resolved_navigation(request)
        index_path = reverse(f"{self.name}:index")
        # The most specific link under the page is the active one: the inbox (…/conversation/inbox/)
        # is not also the conversation list (…/conversation/).
        matching = [item["link"] for group in navigation for item in group["items"] if _is_active(item["link"], request.path, index_path)]
        current = max(matching, key=lambda link: len(urlparse(link).path), default=None)
        results, shown = [], []
        for group in navigation:
            items = []
            for item in group["items"]:
                allowed = _permitted(item.get("permission"), request)
                active = item["link"] == current
                items.append({**item, "active": active, "has_permission": allowed})
                shown.append((allowed, active))
            results.append({**group, "items": items})
        request._console_sidebar_key = hashlib.blake2b(
            repr((translation.get_language(), digest, shown)).encode(), digest_size=16
        ).hexdigest()
        return results

    def _resolved_navigation(self, request) -> tuple[list[dict], str]:
        """The configured navigation with every link a plain path, and a digest of its shape (what a
        deploy changes), per URLconf and script prefix."""
        key = (get_urlconf(), get_script_prefix())
        if key not in self._resolved_navigations:
            navigation = copy.deepcopy(self._get_value(self._get_config("SIDEBAR", request).get("navigation"), request) or [])
            for group in navigation:
                if any(set(item) & {"items", "badge", "link_callback", "active"} or callable(item.get("link")) for item in group["items"]):
                    raise NotImplementedError("ConsoleAdminSite resolves plain links only: nested items, badges and callbacks need unfold's per-request rules")
                for item in group["items"]:
                    item["link"] = str(item["link"])
            with translation.override("en"):
                shape = repr([(str(g.get("title", "")), [(str(i["title"]), i["link"]) for i in g["items"]]) for g in navigation])
            self._resolved_navigations[key] = (navigation, hashlib.blake2b(shape.encode(), digest_size=16).hexdigest())
        return self._resolved_navigations[key]


def _permitted(callback, request) -> bool:
    """unfold's rule (UnfoldAdminSite._call_permission_callback) without its per-call `lazy()`, which
    builds a new class for every item of every page: no callback, or one (or its dotted path) that
    answers True."""
    if callback is None:
        return True
    if isinstance(callback, str):
        callback = import_string(callback)
    return callback(request) == True  # noqa: E712 (unfold's comparison, kept)


def _is_active(link: str, path: str, index_path: str) -> bool:
    """unfold's rule (UnfoldAdminSite._get_is_active, outside tabs): the dashboard only on itself,
    any other item on every page under its path."""
    link_path = urlparse(link).path
    if link_path == index_path:
        return path == index_path
    return link_path != "" and link_path in path


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
    return hashlib.blake2b(repr((translation.get_language(), shape)).encode(), digest_size=16).hexdigest()


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console's site as the default site (INSTALLED_APPS names it)."""

    default_site = "audit.sites.ConsoleAdminSite"
