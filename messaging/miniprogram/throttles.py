"""Throttles of the mini-program API, counted in the Django cache (Redis in production).

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (mp_token, mp_ip, mp_login_ip), read at
request time so that a settings change applies without a restart of the class.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _MiniProgramThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        # X-Forwarded-For is only trusted behind a configured number of proxies; otherwise a client
        # could pick a new "IP" per request and never be throttled.
        if api_settings.NUM_PROXIES:
            return super().get_ident(request)
        return request.META.get("REMOTE_ADDR", "")


class MiniProgramTokenThrottle(_MiniProgramThrottle):
    """Per session (stable across refreshes, so rotating tokens does not reset the count)."""

    scope = "mp_token"

    def get_cache_key(self, request, view) -> str | None:
        session = getattr(request, "auth", None)
        session_id = getattr(session, "pk", None)
        if session_id is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"s{session_id}"}


class MiniProgramIpThrottle(_MiniProgramThrottle):
    scope = "mp_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class MiniProgramLoginIpThrottle(MiniProgramIpThrottle):
    """Login and refresh: stricter, they cost a WeChat call or a token."""

    scope = "mp_login_ip"

