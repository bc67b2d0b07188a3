"""Operator writes through the REST API (/api/v1/) recorded in the audit trail.

DRF authenticates inside the view (tokens, sessions), so the user is read from the DRF request the
response carries. Recorded: successful POST/PUT/PATCH/DELETE by an authenticated user, with the view,
the object id from the URL and the method and path (no body: it may hold secrets). Views that only
read through POST (validate, preview) say so with `audit_skip = True` or by their name's ending."""

from __future__ import annotations

from audit.models import AuditAction
from audit.services import audit_record, client_ip

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PREFIX = "/api/v1/"
_READ_ONLY_VIEW_SUFFIXES = ("ValidateApi", "PreviewApi", "StatsApi")


class ApiAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method in _WRITES and request.path.startswith(_PREFIX) and response.status_code < 400:
            self._record(request, response)
        return response

    def _record(self, request, response) -> None:
        context = getattr(response, "renderer_context", None) or {}
        view, drf_request = context.get("view"), context.get("request")
        user = getattr(drf_request, "user", None)
        if view is None or user is None or not user.is_authenticated:
            return
        name = type(view).__name__
        if getattr(view, "audit_skip", False) or name.endswith(_READ_ONLY_VIEW_SUFFIXES):
            return
        queryset = getattr(view, "queryset", None)
        model = getattr(view, "audit_model", None) or (queryset.model if queryset is not None else None)
        kwargs = context.get("kwargs") or {}
        object_id = kwargs.get("pk") or next((v for k, v in kwargs.items() if k.endswith("id")), "")
        if not object_id and request.method == "POST" and isinstance(getattr(response, "data", None), dict):
            object_id = response.data.get("id", "")  # a create answers the new row
        audit_record(
            user=user, action=AuditAction.API, model=model, object_id=object_id or "", action_name=name,
            message=f"{request.method} {request.path}", detail={"status": response.status_code},
            ip=client_ip(request),
        )
