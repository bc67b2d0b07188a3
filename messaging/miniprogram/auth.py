"""Bearer tokens for mini-program customers.

A token is 32 random bytes (URL-safe); the database keeps only its SHA-256 digest. Every request
looks the session up, so a revoked or erased session stops working at once (no signed token that
stays valid until it expires). Access tokens are short-lived; refresh tokens rotate on each use and
a refresh token presented a second time revokes the whole session (it was copied).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from customers.models import Customer
from messaging.errors import MessagingError
from messaging.miniprogram.models import MiniProgramSession

ACCESS_PREFIX = "mpa_"
REFRESH_PREFIX = "mpr_"
MAX_TOKEN_LENGTH = 128
# Writing last_used_at on every request would turn every read into a write.
_TOUCH_INTERVAL = timedelta(minutes=1)


def access_token_ttl() -> timedelta:
    return timedelta(seconds=settings.MP_ACCESS_TOKEN_TTL_SECONDS)


def refresh_token_ttl() -> timedelta:
    return timedelta(seconds=settings.MP_REFRESH_TOKEN_TTL_SECONDS)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class MiniProgramUser:
    """What `request.user` is on the mini-program API: the customer behind a valid session."""

    customer: Customer
    session: MiniProgramSession

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> int:
        return self.customer.pk

    @property
    def account_id(self) -> int:
        return self.session.account_id


class MiniProgramTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request) -> tuple[MiniProgramUser, MiniProgramSession] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(gettext("Authorization header must be 'Bearer <token>'."))
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(gettext("Invalid token.")) from exc
        if not token.startswith(ACCESS_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed(gettext("Invalid token."))
        session = (
            MiniProgramSession.objects.select_related("customer")
            .filter(access_token_hash=token_digest(token))
            .first()
        )
        now = timezone.now()
        if session is None or session.revoked_at is not None or session.customer.erased_at is not None:
            raise exceptions.AuthenticationFailed(gettext("Invalid token."))
        if session.access_expires_at <= now:
            raise exceptions.AuthenticationFailed(MessagingError.TOKEN_EXPIRED.label, code=MessagingError.TOKEN_EXPIRED.value)
        if session.last_used_at is None or now - session.last_used_at > _TOUCH_INTERVAL:
            MiniProgramSession.objects.filter(pk=session.pk).update(last_used_at=now)
        return MiniProgramUser(customer=session.customer, session=session), session

    def authenticate_header(self, request) -> str:
        # A 401 (not 403) with this header tells the client to log in or refresh.
        return f'{self.keyword} realm="mini-program"'


class MiniProgramTokenScheme(OpenApiAuthenticationExtension):
    target_class = "messaging.miniprogram.auth.MiniProgramTokenAuthentication"
    name = "miniProgramBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Access token from POST /api/mp/v1/login (prefix mpa_); refresh with /token/refresh.",
        }
