"""GET /r/<token>: record the click, redirect to the stored original URL."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from campaigns.tracking.services import link_click_record


class _Redirect(HttpResponseRedirect):
    # Stored URLs are checked http(s) at creation; allow only those schemes here too.
    allowed_schemes = ["http", "https"]


@never_cache
@require_http_methods(["GET", "HEAD"])
def tracked_redirect(request: HttpRequest, token: str) -> HttpResponse:
    result = link_click_record(
        token=token, method=request.method or "GET", user_agent=request.META.get("HTTP_USER_AGENT", ""), meta=request.META
    )
    if result is None:
        raise Http404("Unknown link")
    response = _Redirect(result.url)
    response["Referrer-Policy"] = "no-referrer"
    return response
