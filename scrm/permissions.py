from django.conf import settings
from rest_framework.permissions import BasePermission, DjangoModelPermissions


class OperatorModelPermissions(DjangoModelPermissions):
    """Operators act through Django groups: reading needs `view_*`, writing `add/change/delete_*`.

    Views without a queryset (actions, reports) fall back to "authenticated staff".
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return bool(request.user.is_staff)
        return super().has_permission(request, view)


class ApiDocsPermission(BasePermission):
    """/api/schema/ and /api/docs/: open when settings.API_DOCS_PUBLIC (development), else a login."""

    def has_permission(self, request, view):
        return bool(settings.API_DOCS_PUBLIC or (request.user and request.user.is_authenticated))
