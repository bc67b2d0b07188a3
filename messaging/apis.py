"""Operator API v1 for channel accounts (service accounts, WeCom corp apps, mini-programs)."""

from __future__ import annotations

from django.db.models import ProtectedError
from rest_framework import viewsets

from accounts.models import ChannelAccount
from messaging.errors import MessagingError
from messaging.serializers import ChannelAccountSerializer
from messaging.services import account_create, account_update
from scrm.errors import Conflict


class ChannelAccountViewSet(viewsets.ModelViewSet):
    queryset = ChannelAccount.objects.order_by("id")
    serializer_class = ChannelAccountSerializer

    def perform_create(self, serializer):
        serializer.instance = account_create(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = account_update(account_id=serializer.instance.pk, data=serializer.validated_data)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict(code=MessagingError.ACCOUNT_IN_USE) from exc
