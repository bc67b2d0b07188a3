"""Operator API of the customer-service inbox (/api/v1/conversations/…): validate, call one service
or selector, serialize. Reading needs `view_conversation`, replying `reply_conversation`, transfer
and resolve `change_conversation`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.errors import MessagingError
from messaging.inbox import selectors, services
from messaging.inbox.models import Conversation, KfAccount, MessageStatus, QuickReply
from messaging.inbox.serializers import (
    AnalyticsQuerySerializer,
    AnalyticsSerializer,
    ConversationDetailSerializer,
    ConversationFilterSerializer,
    ConversationSerializer,
    MessageSerializer,
    MessagesQuerySerializer,
    PresenceSerializer,
    QuickReplySerializer,
    ReplySerializer,
    TransferSerializer,
)
from scrm.errors import ApplicationError, Conflict
from scrm.pagination import BoundedCountPagination

REPLY_PERMISSION = "messaging.reply_conversation"


class CanServe(BasePermission):
    """GET: view_conversation; POST: the view's `write_permission`."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.has_perm("messaging.view_conversation")
        return user.has_perm(getattr(view, "write_permission", "messaging.change_conversation"))


def _detail(conversation: Conversation, *, after: int = 0) -> dict:
    return {
        "conversation": ConversationSerializer(conversation, context={"sla": selectors.conversations_sla([conversation])}).data,
        "window": selectors.window_status(conversation.identity),
        "messages": MessageSerializer(selectors.conversation_messages(conversation.pk, after_id=after), many=True).data,
    }


class ConversationListApi(ListAPIView):
    permission_classes = [CanServe]
    pagination_class = BoundedCountPagination
    serializer_class = ConversationSerializer
    queryset = Conversation.objects.none()

    @extend_schema(parameters=[ConversationFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = ConversationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        assignee = self.request.user.pk if data.get("mine") else data.get("assignee")
        return selectors.conversation_list(state=data.get("state"), assignee_id=assignee, account_id=data.get("account"))

    def get_serializer(self, *args, **kwargs):
        if args and isinstance(args[0], list):
            kwargs["context"] = {**self.get_serializer_context(), "sla": selectors.conversations_sla(args[0])}
        return super().get_serializer(*args, **kwargs)


class _ConversationApi(APIView):
    permission_classes = [CanServe]

    def conversation(self, pk: int) -> Conversation:
        return get_object_or_404(Conversation.objects.select_related("identity", "customer", "assignee"), pk=pk)


class ConversationDetailApi(_ConversationApi):
    @extend_schema(parameters=[MessagesQuerySerializer], responses=ConversationDetailSerializer)
    def get(self, request, pk: int):
        query = MessagesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(_detail(self.conversation(pk), after=query.validated_data["after"]))


_HELD_OR_REFUSED = {MessageStatus.HELD: MessagingError.INBOX_REPLY_HELD, MessageStatus.REFUSED: MessagingError.INBOX_REPLY_REFUSED}


class ConversationReplyApi(_ConversationApi):
    write_permission = REPLY_PERMISSION

    @extend_schema(request=ReplySerializer, responses={201: MessageSerializer})
    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        key = data.pop("idempotency_key")
        # Sent as the WeChat kf account asked for, else as the (mirrored) one holding the conversation.
        mirrored = KfAccount.objects.filter(account_id=conversation.account_id)
        if data.get("kf_account"):
            if not mirrored.filter(kf_account=data["kf_account"]).exists():
                raise ApplicationError(code=MessagingError.KF_UNKNOWN)
        elif conversation.kf_account and mirrored.filter(kf_account=conversation.kf_account).exists():
            data["kf_account"] = conversation.kf_account
        message = services.conversation_reply(
            conversation_id=conversation.pk, operator=request.user, reply=services.Reply(**data), idempotency_key=key
        )
        body = MessageSerializer(message).data
        if message.status in _HELD_OR_REFUSED:
            raise Conflict(code=_HELD_OR_REFUSED[message.status], detail={"reason": message.reason, "message": body})
        if message.status == MessageStatus.FAILED:
            raise ApplicationError(code=MessagingError.INBOX_REPLY_FAILED, detail={"reason": message.reason, "message": body})
        return Response(body, status=status.HTTP_201_CREATED)


class ConversationTransferApi(_ConversationApi):
    @extend_schema(request=TransferSerializer, responses=ConversationSerializer)
    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app_label, codename = REPLY_PERMISSION.split(".")
        can_reply = Q(is_superuser=True) | Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label) | Q(
            groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label
        )
        target = get_user_model().objects.filter(can_reply, pk=serializer.validated_data["operator"], is_active=True).first()
        if target is None:
            raise ApplicationError(code=MessagingError.INBOX_BAD_OPERATOR)
        conversation = services.conversation_transfer(conversation_id=conversation.pk, to_user=target)
        return Response(ConversationSerializer(conversation).data)


class ConversationResolveApi(_ConversationApi):
    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request, pk: int):
        conversation = services.conversation_resolve(conversation_id=self.conversation(pk).pk)
        return Response(ConversationSerializer(conversation).data)


class OperatorPresenceApi(APIView):
    permission_classes = [CanServe]
    write_permission = REPLY_PERMISSION

    @extend_schema(request=PresenceSerializer, responses=PresenceSerializer)
    def post(self, request):
        serializer = PresenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operator = services.operator_set_online(user=request.user, online=serializer.validated_data["online"])
        return Response({"online": operator.online})


class QuickReplyListApi(ListAPIView):
    permission_classes = [CanServe]
    serializer_class = QuickReplySerializer
    queryset = QuickReply.objects.order_by("title")


class ServiceAnalyticsApi(APIView):
    permission_classes = [CanServe]

    @extend_schema(parameters=[AnalyticsQuerySerializer], responses=AnalyticsSerializer)
    def get(self, request):
        query = AnalyticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        tz = ZoneInfo(settings.TIME_ZONE)
        since = datetime.combine(data["since"], time.min, tzinfo=tz)
        until = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz)
        return Response(selectors.service_analytics(since=since, until=until, account_id=data.get("account"), tz=settings.TIME_ZONE))
