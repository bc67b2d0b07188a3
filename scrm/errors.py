"""One error type for the whole product, the error-code catalogues, and the DRF handler that renders them.

Every API error body is `{"code": str, "message": str, "detail": ...}`. Each app lists its codes in its own
`errors.py` as an `ErrorCatalogue`; the codes shared by every app (and DRF's own) are `CommonError` below.
docs/errors.md is generated from the catalogues (`manage.py error_codes --write`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ErrorCatalogue(StrEnum):
    """Error codes an API answers with. The value is a contract (clients match on it: never rename one),
    the label the default message (translated), `statuses` the HTTP statuses it comes with, usual first."""

    label: Promise
    status_code: int
    statuses: tuple[int, ...]

    def __new__(cls, value: str, label: Promise, *statuses: int) -> ErrorCatalogue:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.statuses = statuses or (status.HTTP_400_BAD_REQUEST,)
        member.status_code = member.statuses[0]
        return member


class RecordedErrorCatalogue(StrEnum):
    """Error codes stored on rows (a delivery's or a sync report's), not answered by the API. The value is
    a contract (reports and filters match on it: never rename one), the label what it means (translated)."""

    label: Promise

    def __new__(cls, value: str, label: Promise) -> RecordedErrorCatalogue:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class CommonError(ErrorCatalogue):
    """Codes shared by every app, and the codes DRF's own exceptions answer with."""

    INVALID = "invalid", _("Invalid input.")
    NOT_FOUND = "not_found", _("Not found."), status.HTTP_404_NOT_FOUND
    CONFLICT = "conflict", _("The request conflicts with the current state."), status.HTTP_409_CONFLICT
    PERMISSION_DENIED = "permission_denied", _("You do not have permission to perform this action."), status.HTTP_403_FORBIDDEN
    # Raised by DRF itself (authentication, parsing, content negotiation, throttling).
    NOT_AUTHENTICATED = "not_authenticated", _("Authentication credentials were not provided."), status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN
    AUTHENTICATION_FAILED = "authentication_failed", _("Incorrect authentication credentials."), status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN
    PARSE_ERROR = "parse_error", _("Malformed request."), status.HTTP_400_BAD_REQUEST
    METHOD_NOT_ALLOWED = "method_not_allowed", _("Method not allowed."), status.HTTP_405_METHOD_NOT_ALLOWED
    NOT_ACCEPTABLE = "not_acceptable", _("Could not satisfy the request Accept header."), status.HTTP_406_NOT_ACCEPTABLE
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", _("Unsupported media type in the request."), status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    THROTTLED = "throttled", _("Request was throttled."), status.HTTP_429_TOO_MANY_REQUESTS


class ApplicationError(Exception):
    """A business rule refused the request; rendered as a 4xx with a stable `code`.

    `message` defaults to the code's label; the status to the code's usual one (`status_code` overrides).
    A plain string code is still accepted for sites not yet moved to a catalogue."""

    code: ErrorCatalogue | str = CommonError.INVALID
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: ErrorCatalogue | str | None = None,
        detail: Any = None,
        status_code: int | None = None,
    ):
        if code:
            self.code = code
        if message is None:
            message = self.code.label if isinstance(self.code, ErrorCatalogue) else str(self.code)
        super().__init__(message)
        self.message = message
        if status_code:
            self.status_code = status_code
        elif isinstance(self.code, ErrorCatalogue):
            self.status_code = self.code.status_code
        self.detail = detail


class NotFound(ApplicationError):
    code = CommonError.NOT_FOUND
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ApplicationError):
    code = CommonError.CONFLICT
    status_code = status.HTTP_409_CONFLICT


def error_body(*, code: ErrorCatalogue | str, message: str | Promise | None = None, detail: Any = None) -> dict:
    """The `{"code", "message", "detail"}` body, for the rare view that answers an error without raising."""
    if message is None and isinstance(code, ErrorCatalogue):
        message = code.label
    return {"code": str(code), "message": str(message), "detail": detail}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(code=exc.code, message=exc.message, detail=exc.detail), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else ("invalid" if isinstance(exc, exceptions.ValidationError) else exc.default_code)
        message = (
            str(exc.detail)
            if isinstance(exc.detail, str)
            else (str(exc.default_detail) if not isinstance(exc, exceptions.ValidationError) else CommonError.INVALID.label)
        )
        detail = None if isinstance(exc.detail, str) else response.data
        response.data = error_body(code=code, message=message, detail=detail)
    return response
