"""API of WeChat's own customer-service accounts (/api/v1/kf-accounts/…) and of the kf session of a
conversation (/api/v1/conversations/{id}/kf-session/). Reading needs `messaging.view_kfaccount`,
adding, renaming (and the avatar, and sync) `add_kfaccount` / `change_kfaccount`, removing
`delete_kfaccount`; a conversation's session `change_conversation`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ChannelAccount
from messaging.errors import MessagingError
from messaging.inbox import kf
from messaging.inbox.apis import ConversationSerializer, _ConversationApi
from messaging.inbox.kf_serializers import (
    KfAccountCreateSerializer,
    KfAccountFilterSerializer,
    KfAccountSerializer,
    KfAccountUpdateSerializer,
    KfHeadimgSerializer,
    KfSessionSerializer,
    KfSyncResultSerializer,
    KfSyncSerializer,
)
from messaging.inbox.models import KfAccount
from scrm.errors import ApplicationError

_WRITE = {"POST": "messaging.add_kfaccount", "PATCH": "messaging.change_kfaccount", "DELETE": "messaging.delete_kfaccount"}


class CanManageKf(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.has_perm("messaging.view_kfaccount")
        return user.has_perm(getattr(view, "write_permission", None) or _WRITE.get(request.method, "messaging.change_kfaccount"))


def _account(pk: int) -> ChannelAccount:
    account = ChannelAccount.objects.filter(pk=pk).first()
    if account is None:
        raise ApplicationError(code=MessagingError.KF_BAD_ACCOUNT)
    return account


class KfAccountListApi(ListAPIView):
    permission_classes = [CanManageKf]
    serializer_class = KfAccountSerializer
    queryset = KfAccount.objects.none()

    @extend_schema(parameters=[KfAccountFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = KfAccountFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        qs = KfAccount.objects.order_by("account_id", "kf_account")
        if filters.validated_data.get("account"):
            qs = qs.filter(account_id=filters.validated_data["account"])
        return qs

    @extend_schema(request=KfAccountCreateSerializer, responses={201: KfAccountSerializer})
    def post(self, request):
        serializer = KfAccountCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = kf.kf_account_add(account=_account(data["account"]), kf_account=data["kf_account"], nickname=data["nickname"])
        return Response(KfAccountSerializer(created).data, status=status.HTTP_201_CREATED)


class KfAccountDetailApi(APIView):
    permission_classes = [CanManageKf]

    @extend_schema(responses=KfAccountSerializer)
    def get(self, request, pk: int):
        return Response(KfAccountSerializer(get_object_or_404(KfAccount, pk=pk)).data)

    @extend_schema(request=KfAccountUpdateSerializer, responses=KfAccountSerializer)
    def patch(self, request, pk: int):
        serializer = KfAccountUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        found = get_object_or_404(KfAccount.objects.select_related("account"), pk=pk)
        return Response(KfAccountSerializer(kf.kf_account_update(kf=found, nickname=serializer.validated_data["nickname"])).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int):
        kf.kf_account_delete(kf=get_object_or_404(KfAccount.objects.select_related("account"), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class KfAccountHeadimgApi(APIView):
    permission_classes = [CanManageKf]
    write_permission = "messaging.change_kfaccount"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": KfHeadimgSerializer}, responses=KfAccountSerializer)
    def post(self, request, pk: int):
        serializer = KfHeadimgSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["media"]
        if upload.size > kf.HEADIMG_MAX_BYTES:
            raise ApplicationError(code=MessagingError.KF_INVALID, detail={"problems": [{"field": "media", "limit": "headimg_jpg"}]})
        found = get_object_or_404(KfAccount.objects.select_related("account"), pk=pk)
        updated = kf.kf_account_upload_headimg(kf=found, data=upload.read(), filename=upload.name or "avatar.jpg")
        return Response(KfAccountSerializer(updated).data)


class KfAccountSyncApi(APIView):
    permission_classes = [CanManageKf]
    write_permission = "messaging.change_kfaccount"
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=KfSyncSerializer, responses=KfSyncResultSerializer)
    def post(self, request):
        serializer = KfSyncSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(kf.kf_accounts_sync(account=_account(serializer.validated_data["account"])))


class ConversationKfSessionApi(_ConversationApi):
    """POST: hand the conversation to a kf account (kfsession/create); DELETE: close that session."""

    @extend_schema(request=KfSessionSerializer, responses=ConversationSerializer)
    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        serializer = KfSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        found = KfAccount.objects.select_related("account").filter(
            account_id=conversation.account_id, kf_account=serializer.validated_data["kf_account"]
        ).first()
        if found is None:
            raise ApplicationError(code=MessagingError.KF_UNKNOWN)
        return Response(ConversationSerializer(kf.kf_session_create(conversation=conversation, kf=found)).data)

    @extend_schema(request=None, responses=ConversationSerializer)
    def delete(self, request, pk: int):
        return Response(ConversationSerializer(kf.kf_session_close(conversation=self.conversation(pk))).data)
