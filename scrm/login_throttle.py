"""Login throttling for the admin login and POST /api/v1/auth/token/.

Failed logins are counted in the cache (Redis in production) per username from one client address
and per username from anywhere; past LOGIN_THROTTLE_FAILURES (and 4x that) within
LOGIN_THROTTLE_WINDOW_SECONDS every login of that username is refused — the right password
included — until the window passes: the admin answers 429 with its form, the API 429 `throttled`.
A successful login clears the count of its address. The client address is REMOTE_ADDR: behind a
proxy it is the proxy's, so the per-address count then behaves like the per-username one.

`LoginThrottleBackend` is the authentication backend (ModelBackend plus the check), so every login path goes through it
(importing it also connects the failure counter, before `authenticate` reports its first failure).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled

TOO_MANY = _("Too many failed logins for this user; try again later.")


def _keys(request, username: str) -> list[tuple[str, int]]:
    digest = hashlib.sha256(str(username).strip().lower().encode()).hexdigest()[:24]
    address = (getattr(request, "META", None) or {}).get("REMOTE_ADDR", "") if request is not None else ""
    limit = settings.LOGIN_THROTTLE_FAILURES
    return [(f"login-failures:{digest}:{address}", limit), (f"login-failures:{digest}", limit * 4)]


def login_blocked(request, username: str) -> bool:
    """True when this username has failed too often lately (from this address, or at all)."""
    if not username:
        return False
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(request, username))


@receiver(user_login_failed, dispatch_uid="scrm.login_throttle.failed")
def _count_failure(sender, credentials, request=None, **kwargs) -> None:
    username = credentials.get("username") or ""
    if not username:
        return
    for key, _limit in _keys(request, username):
        if cache.add(key, 1, settings.LOGIN_THROTTLE_WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_THROTTLE_WINDOW_SECONDS)


@receiver(user_logged_in, dispatch_uid="scrm.login_throttle.succeeded")
def _clear_address(sender, request, user, **kwargs) -> None:
    cache.delete(_keys(request, user.get_username())[0][0])


class LoginThrottleBackend(ModelBackend):
    """Django's ModelBackend that refuses a throttled username before checking its password.

    One backend rather than a guard in front of ModelBackend: test clients' force_login and
    sessions use the first backend listed to load their user."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and login_blocked(request, username):
            raise PermissionDenied(str(TOO_MANY))
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledObtainAuthToken(ObtainAuthToken):
    """POST /api/v1/auth/token/: 429 `throttled` for a username that failed too often."""

    def post(self, request, *args, **kwargs):
        data = request.data if hasattr(request.data, "get") else {}  # a JSON array is the serializer's 400
        if login_blocked(request, str(data.get("username") or "")):
            raise Throttled(wait=settings.LOGIN_THROTTLE_WINDOW_SECONDS, detail=str(TOO_MANY))
        return super().post(request, *args, **kwargs)


def admin_login(request, **kwargs):
    """The admin's login page, answering 429 (with the form and a message) while throttled."""
    blocked = request.method == "POST" and login_blocked(request, request.POST.get("username", ""))
    if blocked:
        messages.error(request, TOO_MANY)
    response = admin.site.login(request, **kwargs)
    if blocked:
        response.status_code = 429
    return response
