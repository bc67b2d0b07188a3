"""Shapes of the kf-account API (/api/v1/kf-accounts/…) and of a conversation's kf session."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from messaging.inbox.models import KfAccount


class KfAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = KfAccount
        fields = ["id", "account", "kf_account", "nickname", "kf_id", "headimgurl", "kf_wx", "invite_wx", "invite_status",
                  "online", "accepted_case", "synced_at"]
        read_only_fields = fields


class KfAccountFilterSerializer(serializers.Serializer):
    account = serializers.IntegerField(required=False, min_value=1)


class KfAccountCreateSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1)
    kf_account = serializers.CharField(max_length=41, help_text=_("prefix@the service account's WeChat ID"))
    nickname = serializers.CharField(max_length=64, help_text=_("At most 16 characters (checked with WeChat's rule)."))


class KfAccountUpdateSerializer(serializers.Serializer):
    nickname = serializers.CharField(max_length=64)


class KfHeadimgSerializer(serializers.Serializer):
    media = serializers.FileField(help_text=_("A jpg image (WeChat recommends 640×640)."))


class KfSyncSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1)


class KfSyncResultSerializer(serializers.Serializer):
    accounts = serializers.IntegerField()
    online = serializers.IntegerField()
    removed = serializers.IntegerField()


class KfSessionSerializer(serializers.Serializer):
    kf_account = serializers.CharField(max_length=41)
