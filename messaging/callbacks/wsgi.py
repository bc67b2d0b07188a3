"""A WSGI entry that serves the callback URLs without the project's middleware stack.

WeChat's servers neither carry sessions, CSRF tokens, users, messages nor a language, yet the full
stack (sessions, locale, CSRF, auth, messages, …) costs about as much CPU per request as the callback
view's own work. `callback_dispatch` wraps the project's WSGI application: requests whose path starts
with one of `LEAN_PREFIXES` go to a Django handler with no middleware (URL resolution, the
request_started/request_finished signals that manage database connections, and Django's conversion
of exceptions into responses stay the same); every other path goes to the full application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler

# Only the two callback views: everything else under /callbacks/ (the benchmark's empty view) keeps
# the full stack, so the benchmark baseline stays an ordinary Django view.
LEAN_PREFIXES = ("/callbacks/wechat/", "/callbacks/wecom/")


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler with an empty middleware chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async if is_async else self._get_response)

    def get_response(self, request):
        response = super().get_response(request)
        # What CommonMiddleware would add: a sized answer instead of a chunked one.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def callback_dispatch(application: WSGIApp, lean: WSGIApp | None = None) -> WSGIApp:
    """`application` for every path except the callback URLs, which `lean` serves."""
    lean = lean or LeanWSGIHandler()

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(LEAN_PREFIXES):
            return lean(environ, start_response)
        return application(environ, start_response)

    return dispatch
