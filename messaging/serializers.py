"""Operator API serializers for channel accounts: secrets are write-only and never echoed."""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import AccountKind, ChannelAccount, WeComGroupMsgPeriod, wecom_group_msg_problem
from messaging.channels.hosts import api_base_url_problem

_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")


class ChannelAccountSerializer(serializers.ModelSerializer):
    app_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=256, style={"input_type": "password"})
    token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=32, style={"input_type": "password"})
    encoding_aes_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=43, style={"input_type": "password"})
    app_secret_set = serializers.SerializerMethodField()
    app_secret_last4 = serializers.SerializerMethodField()
    token_set = serializers.SerializerMethodField()
    encoding_aes_key_set = serializers.SerializerMethodField()
    callback_url = serializers.CharField(read_only=True)
    resolved_api_base_url = serializers.CharField(read_only=True)

    class Meta:
        model = ChannelAccount
        fields = [
            "id",
            "kind",
            "name",
            "app_id",
            "agent_id",
            "app_secret",
            "token",
            "encoding_aes_key",
            "app_secret_set",
            "app_secret_last4",
            "token_set",
            "encoding_aes_key_set",
            "encrypt_mode",
            "api_base_url",
            "resolved_api_base_url",
            "callback_url",
            "timezone",
            "rate_limit_per_second",
            "daily_quota",
            "template_daily_quota",
            "wecom_group_msg_period",
            "wecom_group_msg_limit",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_app_secret_set(self, obj: ChannelAccount) -> bool:
        return bool(obj.app_secret)

    def get_app_secret_last4(self, obj: ChannelAccount) -> str:
        # Enough to tell two secrets apart, never enough to use one (secrets are ≥ 32 chars).
        return obj.app_secret[-4:] if len(obj.app_secret or "") >= 16 else ""

    def get_token_set(self, obj: ChannelAccount) -> bool:
        return bool(obj.token)

    def get_encoding_aes_key_set(self, obj: ChannelAccount) -> bool:
        return bool(obj.encoding_aes_key)

    def validate_token(self, value: str) -> str:
        if value and not _TOKEN_RE.match(value):
            raise serializers.ValidationError(_("The callback token is 3 to 32 letters or digits."))
        return value

    def validate_encoding_aes_key(self, value: str) -> str:
        if not value:
            return value
        try:
            ok = len(value) == 43 and len(base64.b64decode(value + "=", validate=True)) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise serializers.ValidationError(_("The EncodingAESKey is 43 characters of base64 (a 32-byte key)."))
        return value

    def validate_api_base_url(self, value: str) -> str:
        # The account's secret goes wherever this points (token fetches, sandbox registration).
        problem = api_base_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_timezone(self, value: str) -> str:

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise serializers.ValidationError(_("Unknown time zone.")) from exc
        return value

    def validate(self, attrs):
        kind = attrs.get("kind") or (self.instance.kind if self.instance else None)
        if self.instance is None and kind in (AccountKind.OA, AccountKind.WECOM, AccountKind.MINIPROGRAM) and not attrs.get("app_secret"):
            raise serializers.ValidationError({"app_secret": _("An app secret is required.")})
        period = attrs.get("wecom_group_msg_period", self.instance.wecom_group_msg_period if self.instance else WeComGroupMsgPeriod.MONTH)
        limit = attrs.get("wecom_group_msg_limit", self.instance.wecom_group_msg_limit if self.instance else None)
        problem = wecom_group_msg_problem(period, limit)
        if problem:
            raise serializers.ValidationError({"wecom_group_msg_limit": problem})
        return attrs
