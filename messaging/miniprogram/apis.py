"""The mini-program API (/api/mp/v1/). Views validate, call one service or selector, serialize.

The app names its mini-program account by `appid` in the login body; the session then carries the
account, so later calls need only the bearer token.
"""

from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.privacy import customer_erase, customer_export
from messaging.errors import MessagingError
from messaging.miniprogram import selectors, services
from messaging.miniprogram.auth import MiniProgramTokenAuthentication, MiniProgramUser
from messaging.miniprogram.parsers import SafeJSONParser
from messaging.miniprogram.serializers import (
    MAX_EVENTS_PER_BATCH,
    ErrorSerializer,
    EventBatchResponseSerializer,
    EventBatchSerializer,
    EventSerializer,
    InboxMessageSerializer,
    LoginRequestSerializer,
    MeSerializer,
    PreferencesResponseSerializer,
    PreferencesSerializer,
    RefreshRequestSerializer,
    SubscriptionsRequestSerializer,
    SubscriptionsResponseSerializer,
    TokenResponseSerializer,
)
from messaging.miniprogram.throttles import (
    MiniProgramIpThrottle,
    MiniProgramLoginIpThrottle,
    MiniProgramTokenThrottle,
)
from scrm.errors import ApplicationError, CommonError, NotFound

TAG = "mini-program"
_MAX_BIGINT = 2**63 - 1
_ERROR = OpenApiResponse(ErrorSerializer)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return dict.fromkeys(codes, _ERROR)


_AUTHED_ERRORS = _errors(400, 401, 413, 429)

# Written by hand: an item of any shape is accepted into the batch and judged on its own (reported
# in `errors`), so the schema must not promise a 400 for a malformed item.
EVENT_BATCH_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_EVENTS_PER_BATCH,
            "items": {
                "description": (
                    "An event object: id (client event id, ≤64 of [A-Za-z0-9_.:-]), type ([a-z][a-z0-9_]{0,39}, "
                    "stored as mp.<type>: page_view, product_view, add_to_cart, purchase, share …), "
                    "occurred_at (ISO 8601, optional, ≤30 days old), properties (object, ≤4096 bytes as JSON, "
                    "optional). An invalid item is reported in `errors` instead of failing the batch."
                ),
            },
        }
    },
}


class IsMiniProgramCustomer(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, MiniProgramUser)


class MiniProgramPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        # DRF silently falls back to the default for a bad page_size; say what was wrong instead.
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= self.max_page_size:
            raise ApplicationError(
                gettext("page_size must be one integer from 1 to %(max)s.") % {"max": self.max_page_size},
                code=CommonError.INVALID,
                detail={"page_size": values},
            )
        return int(values[0])


class MiniProgramApi(APIView):
    authentication_classes = [MiniProgramTokenAuthentication]
    permission_classes = [IsMiniProgramCustomer]
    # Per IP before authentication, so that requests with bad tokens are counted too; per session after.
    ip_throttle_classes: list = [MiniProgramIpThrottle]
    throttle_classes = [MiniProgramTokenThrottle]
    parser_classes = [SafeJSONParser]
    renderer_classes = [JSONRenderer]
    max_body_bytes = 64 * 1024
    # Anything else in the query string is a client bug (or a probe): say so instead of ignoring it.
    allowed_query_params: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.max_body_bytes
        if length > limit:
            raise ApplicationError(gettext("Request body exceeds %(limit)s bytes.") % {"limit": limit}, code=MessagingError.BODY_TOO_LARGE)
        waits = [t.wait() for t in (cls() for cls in self.ip_throttle_classes) if not t.allow_request(request, self)]
        if waits:
            self.throttled(request, max((w for w in waits if w is not None), default=None))
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.allowed_query_params)
        if unknown:
            raise ApplicationError(code=MessagingError.UNKNOWN_QUERY_PARAMETER, detail=unknown)

    @property
    def mp_user(self) -> MiniProgramUser:
        return self.request.user


@extend_schema(
    tags=[TAG],
    summary="Log in with a wx.login code",
    request=LoginRequestSerializer,
    responses={200: TokenResponseSerializer, **_errors(400, 413, 429, 503)},
)
class LoginApi(MiniProgramApi):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    ip_throttle_classes = [MiniProgramLoginIpThrottle, MiniProgramIpThrottle]
    throttle_classes: list = []

    def post(self, request):
        serializer = LoginRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = selectors.mp_account_for_appid(appid=serializer.validated_data["appid"])
        if account is None:
            raise ApplicationError(code=MessagingError.UNKNOWN_APPID)
        tokens = services.mp_login(account=account, js_code=serializer.validated_data["code"])
        return Response(tokens.as_response())


@extend_schema(
    tags=[TAG],
    summary="Exchange a refresh token for new tokens",
    request=RefreshRequestSerializer,
    responses={200: TokenResponseSerializer, **_errors(400, 401, 413, 429)},
)
class TokenRefreshApi(MiniProgramApi):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    ip_throttle_classes = [MiniProgramLoginIpThrottle, MiniProgramIpThrottle]
    throttle_classes: list = []

    def post(self, request):
        serializer = RefreshRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens = services.mp_session_refresh(refresh_token=serializer.validated_data["refresh_token"])
        return Response(tokens.as_response())


@extend_schema(tags=[TAG], summary="Log out (revoke this session)", request=None, responses={204: None, **_AUTHED_ERRORS})
class LogoutApi(MiniProgramApi):
    def post(self, request):
        services.mp_session_revoke(session=self.mp_user.session)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(MiniProgramApi):
    @extend_schema(tags=[TAG], summary="My profile", responses={200: MeSerializer, **_AUTHED_ERRORS})
    def get(self, request):
        return Response(MeSerializer(self.mp_user.customer).data)

    @extend_schema(tags=[TAG], summary="Edit my profile", request=MeSerializer, responses={200: MeSerializer, **_AUTHED_ERRORS})
    def patch(self, request):
        serializer = MeSerializer(self.mp_user.customer, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer = services.mp_profile_update(customer=self.mp_user.customer, data=serializer.validated_data)
        return Response(MeSerializer(customer).data)

    @extend_schema(
        tags=[TAG],
        summary="Erase my personal data (irreversible)",
        description="Removes personal data and identities, keeps anonymous aggregates; every session ends.",
        responses={204: None, **_AUTHED_ERRORS},
    )
    def delete(self, request):
        customer_erase(customer_id=self.mp_user.customer.pk, requested_by="customer:mini-program")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=[TAG],
    summary="Export my personal data",
    request=None,
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Everything held about me."), **_AUTHED_ERRORS},
)
class MeExportApi(MiniProgramApi):
    def post(self, request):
        return Response(customer_export(customer=self.mp_user.customer, requested_by="customer:mini-program"))


class PreferencesApi(MiniProgramApi):
    @extend_schema(tags=[TAG], summary="My preference centre", responses={200: PreferencesResponseSerializer, **_AUTHED_ERRORS})
    def get(self, request):
        data = selectors.preferences_get(customer_id=self.mp_user.customer.pk)
        return Response(PreferencesResponseSerializer(data).data)

    @extend_schema(
        tags=[TAG],
        summary="Replace my preferences",
        description="Topics listed are explicit choices; a topic left out has no explicit choice any more.",
        request=PreferencesSerializer,
        responses={200: PreferencesResponseSerializer, **_AUTHED_ERRORS},
    )
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quiet = data["quiet_hours"]
        services.mp_preferences_set(
            customer=self.mp_user.customer,
            account_id=self.mp_user.session.account_id,
            frequency=data["frequency"],
            quiet_start=quiet["start"] if quiet else None,
            quiet_end=quiet["end"] if quiet else None,
            topics={item["id"]: item["subscribed"] for item in data["topics"]},
        )
        return Response(PreferencesResponseSerializer(selectors.preferences_get(customer_id=self.mp_user.customer.pk)).data)


@extend_schema(
    tags=[TAG],
    summary="Report a wx.requestSubscribeMessage result",
    description="accept adds one consent credit (one send); reject and ban revoke the template's credits; filter changes nothing.",
    request=SubscriptionsRequestSerializer,
    responses={200: SubscriptionsResponseSerializer, **_AUTHED_ERRORS},
)
class SubscriptionsApi(MiniProgramApi):
    def post(self, request):
        serializer = SubscriptionsRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = serializer.validated_data["results"]
        user = self.mp_user
        applied = services.mp_subscriptions_record(
            customer_id=user.customer.pk,
            account_id=user.account_id,
            results=[dict(item) for item in results],
            request_id=serializer.validated_data.get("request_id", ""),
        )
        template_ids = list(dict.fromkeys(item["template_id"] for item in results))
        credits = selectors.consent_credits_for(customer_id=user.customer.pk, account_id=user.account_id, template_ids=template_ids)
        return Response(
            {"applied": applied, "credits": [{"template_id": t, "remaining": n} for t, n in credits.items()]}
        )


@extend_schema(
    tags=[TAG],
    summary="Record a batch of behaviour events",
    description=(
        "Up to 500 events. Each is stored once per client event id (a resent batch is stored once). "
        "Invalid events are reported in `errors` by index while the valid ones are stored; a bad "
        "envelope is a 400."
    ),
    request={"application/json": EVENT_BATCH_REQUEST_SCHEMA},
    responses={200: EventBatchResponseSerializer, **_AUTHED_ERRORS},
)
class EventsApi(MiniProgramApi):
    max_body_bytes = 1024 * 1024

    def post(self, request):
        envelope = EventBatchSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        good, errors = [], []
        for index, raw in enumerate(envelope.validated_data["events"]):
            item = EventSerializer(data=raw)
            if item.is_valid():
                good.append(item.validated_data)
                continue
            client_id = raw.get("id") if isinstance(raw, dict) else None
            errors.append({"index": index, "id": client_id[:64] if isinstance(client_id, str) else None, "errors": item.errors})
        result = services.mp_events_ingest(session=self.mp_user.session, events=good)
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": len(errors), "errors": errors}
        )


@extend_schema(
    tags=[TAG],
    summary="My message centre",
    parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread messages")],
    responses={200: InboxMessageSerializer(many=True), **_errors(400, 401, 404, 413, 429)},
)
class InboxListApi(MiniProgramApi, generics.ListAPIView):
    serializer_class = InboxMessageSerializer
    pagination_class = MiniProgramPagination
    allowed_query_params = frozenset({"page", "page_size", "unread"})

    def get_queryset(self):
        values = self.request.query_params.getlist("unread")
        raw = values[0] if len(values) == 1 else ("" if not values else "repeated")
        if raw not in ("", "true", "false"):
            raise ApplicationError(gettext("unread must be true or false."), code=CommonError.INVALID, detail={"unread": raw})
        return selectors.inbox_for_customer(customer_id=self.mp_user.customer.pk, unread_only=raw == "true")


@extend_schema(
    tags=[TAG],
    summary="Mark a message read",
    parameters=[OpenApiParameter("message_id", int, OpenApiParameter.PATH)],
    request=None,
    responses={200: InboxMessageSerializer, **_errors(400, 401, 404, 413, 429)},
)
class InboxReadApi(MiniProgramApi):
    def post(self, request, message_id: str):
        # The route takes any segment so that a malformed id is a JSON 404, not Django's HTML page.
        if not message_id.isdigit() or int(message_id) > _MAX_BIGINT:
            raise NotFound(gettext("Inbox message not found."))
        message = services.mp_inbox_mark_read(
            customer_id=self.mp_user.customer.pk, account_id=self.mp_user.account_id, message_id=int(message_id)
        )
        return Response(InboxMessageSerializer(message).data)
